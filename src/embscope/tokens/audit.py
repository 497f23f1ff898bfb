"""Tokenizer audit: decode each token alone, encode the text again, and sort tokens by what
comes back.

Categories:

- ``ok``: the text encodes to the token itself;
- ``special``: a special or added token (the tokenizer emits it by other means);
- ``unreachable_single`` / ``unreachable_multi``: the text encodes to another token, or to
  several: the tokenizer never produces this id from text, so its row learns nothing;
- ``unreachable_special``: a ``[...]`` / ``<...>`` marker the tokenizer does not treat as special;
- ``undecodable``: the token's bytes are not UTF-8 on their own (a piece of a character);
- ``unused_byte``: a single byte that no UTF-8 text contains (C0, C1, F5–FF);
- ``padding_row``: a matrix row past the tokenizer's last id;
- ``unchecked``: the tokenizer could not be run here (the text was decoded but not re-encoded).

Tokenizers that put a space before the first word (SentencePiece's ``▁``) are checked inside a
fixed prefix, as Land & Bartolo's code does: ``"«" + text`` must encode to the prefix's tokens
followed by the token. A WordPiece continuation (``##ing``) must follow a one-letter word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._io.progress import Progress, progress_bar
from ..sources.hf_tokenizer import TokenizerVocabulary, byte_level_bytes
from .references import UNUSED_UTF8_BYTES

CATEGORIES = (
    "ok",
    "special",
    "unreachable_single",
    "unreachable_multi",
    "unreachable_special",
    "undecodable",
    "unused_byte",
    "padding_row",
    "unchecked",
)
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_MARKER = re.compile(r"^[\[<].*[A-Za-z].*[\]>]$")
_PREFIX = "«"
_CONTINUATION_LEADS = ("7", "1", "x", "q", "z", "j", "k", "v")


@dataclass(frozen=True)
class Audit:
    """One entry per matrix row: category, raw bytes (None where undefined), decoded text
    (None where undecodable) and, where the token is unreachable, what its text encodes to."""

    categories: np.ndarray
    token_bytes: list[bytes | None]
    texts: list[str | None]
    reencoded: list[tuple[int, ...] | None]
    checked: bool  # whether texts were re-encoded (a tokenizer could run)


def token_bytes(vocabulary: TokenizerVocabulary, token_id: int) -> tuple[bytes | None, bool]:
    """(the token's bytes, whether it continues a word) as its vocabulary style writes it."""
    key = vocabulary.tokens[token_id]
    if token_id in vocabulary.special_ids or token_id in vocabulary.added_ids:
        return key.encode(), False
    if vocabulary.style == "byte_level":
        data = byte_level_bytes(key)
        return (data if data is not None else key.encode()), False
    if vocabulary.style == "metaspace":
        fallback = _BYTE_FALLBACK.match(key)
        if fallback:
            return bytes([int(fallback.group(1), 16)]), False
        return key.replace("▁", " ").encode(), False
    if vocabulary.style == "wordpiece" and key.startswith(vocabulary.continuation_prefix):
        return key[len(vocabulary.continuation_prefix) :].encode(), True
    return key.encode(), False


def audit_tokenizer(
    vocabulary: TokenizerVocabulary, n_rows: int, *, progress: Progress = True
) -> Audit:
    """Categorise every row (see the module docstring)."""
    encode = vocabulary.build_encoder() if vocabulary.build_encoder is not None else None
    reachable = _reachability(vocabulary, encode) if encode is not None else None
    categories = np.full(n_rows, "padding_row", dtype=object)
    all_bytes: list[bytes | None] = [None] * n_rows
    texts: list[str | None] = [None] * n_rows
    reencoded: list[tuple[int, ...] | None] = [None] * n_rows
    with progress_bar(n_rows, "auditing the tokenizer", enabled=progress) as advance:
        for token_id in range(n_rows):
            if token_id % 4096 == 4095:
                advance(4096)
            if token_id not in vocabulary.tokens:
                continue
            data, continues = token_bytes(vocabulary, token_id)
            all_bytes[token_id] = data
            if token_id in vocabulary.special_ids or token_id in vocabulary.added_ids:
                categories[token_id] = "special"
                texts[token_id] = vocabulary.tokens[token_id]
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                single = len(data) == 1 and data[0] in UNUSED_UTF8_BYTES
                categories[token_id] = "unused_byte" if single else "undecodable"
                continue
            texts[token_id] = text
            if reachable is None:
                categories[token_id] = "unchecked"
                continue
            ids = reachable(text, continues, token_id)
            if ids == (token_id,):
                categories[token_id] = "ok"
                continue
            reencoded[token_id] = ids
            if _MARKER.match(vocabulary.tokens[token_id]):
                categories[token_id] = "unreachable_special"
            else:
                categories[token_id] = (
                    "unreachable_single" if len(ids) == 1 else "unreachable_multi"
                )
        advance(n_rows % 4096)
    return Audit(categories, all_bytes, texts, reencoded, checked=reachable is not None)


def _reachability(
    vocabulary: TokenizerVocabulary, encode: Callable[[str], list[int]]
) -> Callable[[str, bool, int], tuple[int, ...]]:
    """(text, continues a word, the token's id) → the ids the tokenizer makes of the text, in
    the setting it would make the token itself."""
    first = encode("test")
    adds_leading_space = vocabulary.tokens.get(first[0], "")[:1] in ("▁", "Ġ") if first else False
    prefix = tuple(encode(_PREFIX))
    leads = [lead_ids for lead in _CONTINUATION_LEADS if len(lead_ids := tuple(encode(lead))) == 1]
    lead_texts = [lead for lead in _CONTINUATION_LEADS if len(encode(lead)) == 1]

    def reachable(text: str, continues: bool, token_id: int) -> tuple[int, ...]:
        if continues:
            found: tuple[int, ...] = ()
            for lead, lead_ids in zip(lead_texts, leads, strict=True):
                ids = tuple(encode(lead + text))
                found = ids[1:] if ids[:1] == lead_ids else ids
                if found == (token_id,):
                    break
            return found
        if adds_leading_space:
            ids = tuple(encode(_PREFIX + text))
            return ids[len(prefix) :] if ids[: len(prefix)] == prefix else ids
        return tuple(encode(text))

    return reachable
