"""A checkpoint's tokenizer files, tried in this order: ``tokenizer.json``, ``vocab.json`` +
``merges.txt`` (byte-level BPE), ``vocab.txt`` (WordPiece), ``*.tiktoken``; then the special
tokens ``tokenizer_config.json`` and ``special_tokens_map.json`` declare beside them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import SourceError
from .json_values import added_tokens_decoder, digest, read_json, token_text
from .table import TokenizerVocabulary
from .tokenizer_json import from_tokenizer_json
from .vocab_files import from_tiktoken, from_vocab_and_merges, from_vocab_txt

_SPECIAL_MAP_KEYS = (
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
)  # fmt: skip


def read_tokenizer(directory: str | Path) -> TokenizerVocabulary | None:
    """The vocabulary of the tokenizer files in a checkpoint directory; None when it has none.

    ``tokenizer.json`` is preferred; then ``vocab.json`` + ``merges.txt``, ``vocab.txt`` and a
    ``*.tiktoken`` file. ``tokenizer_config.json`` and ``special_tokens_map.json`` add special
    tokens and WordPiece options (``do_lower_case``). ``directory`` may also be a folder inside a
    zip (``hf_zip.ZipFolder``), whose members are read in place.
    """
    directory = Path(directory) if isinstance(directory, str | os.PathLike) else directory
    config_path = directory / "tokenizer_config.json"
    config = read_json(config_path, optional=True) or {}
    if (directory / "tokenizer.json").is_file():
        vocabulary = from_tokenizer_json(directory / "tokenizer.json")
    elif (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
        vocabulary = from_vocab_and_merges(directory, config)
    elif (directory / "vocab.txt").is_file():
        vocabulary = from_vocab_txt(directory / "vocab.txt", config)
    elif tiktoken_files := sorted(directory.glob("*.tiktoken")):
        vocabulary = from_tiktoken(tiktoken_files[0], config)
    else:
        return None
    vocabulary = _with_declared_specials(vocabulary, directory, config)
    # The files that only add special tokens change the metadata too: fold them into the digest.
    extra = [p.read_bytes() for p in (config_path, directory / "special_tokens_map.json")
             if p.is_file()]  # fmt: skip
    if extra:
        fingerprint = digest(vocabulary.fingerprint.encode() + b"".join(extra))
        vocabulary = replace(vocabulary, fingerprint=fingerprint)
    return vocabulary


def read_tokenizer_file(path: str | Path) -> TokenizerVocabulary:
    """One tokenizer file on its own: a ``tokenizer.json`` or a ``*.tiktoken`` rank file."""
    path = Path(path)
    if path.suffix == ".tiktoken":
        return from_tiktoken(path, {})
    if path.suffix == ".json":
        return from_tokenizer_json(path)
    raise SourceError(f"{path}: not a tokenizer file (tokenizer.json or *.tiktoken)")


# ---- special tokens declared beside the vocabulary -------------------------------------------
def _with_declared_specials(
    vocabulary: TokenizerVocabulary, directory: Path, config: Mapping[str, Any]
) -> TokenizerVocabulary:
    """Adds the tokens that tokenizer_config.json (``added_tokens_decoder``) and
    special_tokens_map.json declare; tokenizer.json's own flags are kept."""
    tokens = dict(vocabulary.tokens)
    special, added = set(vocabulary.special_ids), set(vocabulary.added_ids)
    for i, (content, is_special) in added_tokens_decoder(config).items():
        if i not in tokens or i in added or tokens[i] == content:
            tokens[i] = content
            added.add(i)
            if is_special:
                special.add(i)
    declared = read_json(directory / "special_tokens_map.json", optional=True) or {}
    names = [token_text(declared.get(k)) for k in _SPECIAL_MAP_KEYS]
    additional = declared.get("additional_special_tokens") or []
    names += [token_text(v) for v in (additional if isinstance(additional, list) else [])]
    names += [token_text(config.get(k)) for k in _SPECIAL_MAP_KEYS]
    wanted = {name for name in names if name}
    if wanted:
        special |= {i for i, token in tokens.items() if token in wanted}
    return replace(
        vocabulary, tokens=tokens, special_ids=frozenset(special), added_ids=frozenset(added)
    )
