"""A ``tokenizer.json`` (the ``tokenizers`` library's own file): its vocabulary, added and special
tokens, and the style its components write tokens in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ...errors import MalformedFileError
from .json_values import digest, non_negative, parse_json, token_id, token_ids
from .table import TokenizerVocabulary


def from_tokenizer_json(path: Path) -> TokenizerVocabulary:
    """The vocabulary of a ``tokenizer.json``, its words split by the ``tokenizers`` library."""
    raw = path.read_bytes()
    data = parse_json(raw, path)
    try:
        model = data["model"]
        vocab = model["vocab"]
    except (KeyError, TypeError):
        raise MalformedFileError(path, "no model.vocab entry; not a tokenizers file") from None
    if not isinstance(model, dict):
        raise MalformedFileError(path, "model is not a JSON object; not a tokenizers file")
    model_type = model.get("type") or _guess_model_type(model)
    if not isinstance(model_type, str):
        raise MalformedFileError(path, "model.type is not a string")
    tokens: dict[int, str] = {}
    unk_id = None
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        for i, entry in enumerate(vocab):
            if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
                raise MalformedFileError(
                    path, f"model.vocab entry {i} is not a [piece, score] pair"
                )
            tokens[i] = entry[0]
        unk_id = model.get("unk_id")
        unk_id = unk_id if isinstance(unk_id, int) and not isinstance(unk_id, bool) else None
    elif isinstance(vocab, dict):
        tokens = token_ids(vocab, path, "model.vocab")
        unk = model.get("unk_token")
        unk_id = token_id(vocab, unk)
    else:
        raise MalformedFileError(path, "model.vocab is neither a list nor a mapping")
    added: set[int] = set()
    special: set[int] = set()
    added_tokens = data.get("added_tokens") or []
    if not isinstance(added_tokens, list):
        raise MalformedFileError(path, "added_tokens is not a list")
    for entry in added_tokens:
        try:
            i, content = non_negative(entry["id"]), str(entry["content"])
        except (KeyError, TypeError, ValueError):
            raise MalformedFileError(
                path, f"added token without id and content: {entry!r}"
            ) from None
        tokens[i] = content
        added.add(i)
        if entry.get("special"):
            special.add(i)
    parts = [data.get(part) for part in ("normalizer", "pre_tokenizer", "decoder")]
    prefix = model.get("continuing_subword_prefix")
    try:
        types = set(_component_types(parts))
        metaspace = "Metaspace" in types or "▁" in json.dumps(parts, ensure_ascii=False)
    except RecursionError:
        raise MalformedFileError(path, "its components are nested too deeply") from None
    if "ByteLevel" in types:
        style = "byte_level"
    elif metaspace:
        style = "metaspace"
    elif model_type == "WordPiece":
        style = "wordpiece"
    else:
        style = "plain"

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(raw.decode("utf-8"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return TokenizerVocabulary(
        tokens=tokens,
        special_ids=frozenset(special),
        added_ids=frozenset(added),
        style=style,
        model=model_type,
        source=path.name,
        fingerprint=digest(raw),
        unk_id=unk_id,
        continuation_prefix=prefix if isinstance(prefix, str) and prefix else "##",
        build_encoder=build,
    )


def _guess_model_type(model: Mapping[str, Any]) -> str:
    # tokenizer.json files written before "type" was stored.
    if isinstance(model.get("vocab"), list):
        return "Unigram"
    if "merges" in model:
        return "BPE"
    if "continuing_subword_prefix" in model or "max_input_chars_per_word" in model:
        return "WordPiece"
    return "WordLevel"


def _component_types(node: Any) -> Iterable[str]:
    """Every ``type`` in a tokenizer.json component, nested ``Sequence``s included."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node["type"]
        for value in node.values():
            yield from _component_types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _component_types(value)
