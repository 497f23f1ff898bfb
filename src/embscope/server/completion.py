"""Completions for the search box: the rows whose key or label starts with what was typed."""

from __future__ import annotations

import bisect

import numpy as np

from ..lookup import WORD_START_MARK, is_plain_word
from ..space import EmbeddingSpace


class PrefixIndex:
    """Every row's key, and its label where that differs (``␣king`` for ``Ġking``), sorted
    case-insensitively, so the names starting with a prefix are one contiguous run found by
    binary search; among them the first rows (the most frequent words of a frequency-ordered
    vocabulary) are returned. In a vocabulary of word-start tokens a plain prefix offers the
    words first: ``kin`` gives ``␣kind``, ``␣king``… before ``king``, the piece that continues
    a word. Names stay Python strings (a fixed-width array would pad every one to the longest
    token's length)."""

    def __init__(self, space: EmbeddingSpace) -> None:
        keys, labels = space.keys, space.labels
        names = [key.lower() for key in keys]
        rows = list(range(len(keys)))
        for row, (key, label) in enumerate(zip(keys, labels, strict=True)):
            if label != key:
                names.append(label.lower())
                rows.append(row)
        order = sorted(range(len(names)), key=names.__getitem__)
        self._sorted = [names[i] for i in order]
        self._rows = np.asarray(rows, dtype=np.int64)[order]
        self._word_start = space.word_start_rows

    def _first(
        self, prefix: str, limit: int, *, words: bool = False, skip: np.ndarray | None = None
    ) -> np.ndarray:
        """The lowest ``limit`` rows with a name starting with ``prefix`` (only word-start
        tokens with ``words``, none of ``skip``), in row order."""
        lowered = prefix.lower()
        start = bisect.bisect_left(self._sorted, lowered)
        # every string starting with the prefix sorts before prefix + the highest character
        end = bisect.bisect_left(self._sorted, lowered + "\U0010ffff", lo=start)
        rows = self._rows[start:end]
        if words and self._word_start is not None:
            rows = rows[self._word_start[rows]]
        if skip is not None and len(skip):
            rows = rows[~np.isin(rows, skip)]
        wanted = 2 * limit  # a row is named at most twice (key and label)
        if len(rows) > wanted:
            rows = np.partition(rows, wanted - 1)[:wanted]
        return np.unique(rows)[:limit]

    def complete(self, prefix: str, limit: int) -> list[int]:
        """Rows whose key or label starts with ``prefix``, at most ``limit``."""
        words = np.empty(0, dtype=np.int64)
        if self._word_start is not None and is_plain_word(prefix):
            words = self._first(WORD_START_MARK + prefix, limit, words=True)
        rest = self._first(prefix, limit - len(words), skip=words) if len(words) < limit else []
        return [int(row) for row in (*words, *rest)]
