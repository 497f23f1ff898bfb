"""Reference tokens: ids a tokenizer can never produce, so their rows were never trained.

The unembedding-based indicators measure how close each row sits to the mean of these. A small
registry recognises them by their strings (after Land & Bartolo's per-model lists, made general):

- BERT's ``[unused0]`` … and Gemma's ``<unused0>`` … placeholders;
- the single-byte tokens of bytes F5–FF, which no UTF-8 text contains (GPT-2's ids 177–187,
  and the same bytes in any byte-level or byte-fallback vocabulary);
- matrix rows past the tokenizer's last id (a vocabulary padded for speed).

Where the registry finds none, the tokens the tokenizer audit finds unreachable (``UNREACHABLE``:
text never encodes to them, so their input rows never trained) stand in. A user may pass their
own ids or token strings instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParameterError

# bytes that never occur in valid UTF-8
UNUSED_UTF8_BYTES = frozenset({0xC0, 0xC1, *range(0xF5, 0x100)})
# the paper's GPT-2 reference set: bytes F5-FF
REFERENCE_BYTES = frozenset(range(0xF5, 0x100))
_PLACEHOLDER = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")
#: audit categories of tokens the tokenizer never produces from text (a marker such as
#: ``<filename>`` is left out: a data pipeline may insert it as a special token)
UNREACHABLE = ("unreachable_single", "unreachable_multi")


@dataclass(frozen=True)
class References:
    """The reference ids and where they came from (a sentence for the summary)."""

    ids: np.ndarray
    found_by: str

    def __len__(self) -> int:
        return len(self.ids)


def find_references(
    keys: Sequence[str],
    token_bytes: Sequence[bytes | None],
    padding_rows: np.ndarray,
    given: Sequence[int | str] | None = None,
    *,
    unreachable: np.ndarray | None = None,
) -> References | None:
    """The registry's reference ids for this vocabulary, or the ``given`` ones; where the
    registry finds none, the ``unreachable`` ids (the audit's); None if none of these.

    ``token_bytes`` holds each row's raw bytes where the tokenizer defines them (byte-level and
    byte-fallback tokens), ``padding_rows`` marks rows past the tokenizer's ids."""
    if given is not None:
        return References(_given_ids(keys, given), f"given ({len(given)} tokens)")
    groups: list[tuple[str, np.ndarray]] = []
    placeholders = np.array([i for i, k in enumerate(keys) if _PLACEHOLDER.match(k)], dtype=int)
    if len(placeholders):
        groups.append(
            (f"{len(placeholders)} placeholder tokens ([unused*] / <unused*>)", placeholders)
        )
    unused_bytes = np.array(
        [
            i
            for i, b in enumerate(token_bytes)
            if b is not None and len(b) == 1 and b[0] in REFERENCE_BYTES
        ],
        dtype=int,
    )
    if len(unused_bytes):
        groups.append((f"{len(unused_bytes)} byte tokens F5-FF (never in UTF-8)", unused_bytes))
    padding = np.flatnonzero(padding_rows)
    if len(padding):
        groups.append((f"{len(padding)} rows past the tokenizer's last id", padding))
    if not groups:
        if unreachable is not None and len(unreachable):
            return References(
                np.unique(np.asarray(unreachable, dtype=int)),
                f"{len(unreachable)} unreachable tokens (the tokenizer audit finds that no text "
                "encodes to them)",
            )
        return None
    ids = np.unique(np.concatenate([ids for _, ids in groups]))
    return References(ids, "; ".join(description for description, _ in groups))


def _given_ids(keys: Sequence[str], given: Sequence[int | str]) -> np.ndarray:
    index = {key: i for i, key in enumerate(keys)}
    ids = []
    for item in given:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            if not 0 <= item < len(keys):
                raise InvalidParameterError(
                    f"reference id {item} is outside the vocabulary (0 to {len(keys) - 1})"
                )
            ids.append(int(item))
        elif isinstance(item, str) and item in index:
            ids.append(index[item])
        else:
            raise InvalidParameterError(
                f"reference token {item!r} is not in the vocabulary; "
                "give ids or exact token strings"
            )
    if not ids:
        raise InvalidParameterError("references is empty; give at least one id or token")
    return np.unique(np.array(ids, dtype=int))
