"""Find texts that are the same sentence, or that contain one another, across corpora.

SST was built from rt-polarity's snippets, split into sentences and re-tokenised (``wo n't``,
``-lrb-``, ``century 's`` against rt-polarity's ``century's``), so training on rt-polarity
leaks SST's dev and test sets unless every rt-polarity text holding one of their sentences is
removed first; and SST's training sentences sit inside rt-polarity's snippets, so a random
validation split of the two together holds copies of training texts.

Texts are compared after undoing those differences: lowercase, accents dropped, bracket
tokens and HTML tags removed, split contractions joined, and every character that is not a
letter or a digit deleted. Two texts match when what is left is equal, or when one holds the
other from the start of one of its words on and the other has at least ``CONTAINED_FROM``
characters: shorter sentences ("lovely and poignant") recur in unrelated reviews.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .vectorizer import undo_tokenization

if TYPE_CHECKING:
    from ..text.datasets import TextDataset

_WORD = re.compile(r"[^\W_]+")
# a sentence this long (letters and digits) also matches the texts that contain it; on
# rt-polarity against SST-2 dev + test, 20, 30 and 40 remove 2,486, 2,469 and 2,444 texts
CONTAINED_FROM = 20


def sentence_words(text: str) -> tuple[str, ...]:
    """What two renderings of one sentence have in common (see the module docstring)."""
    joined = undo_tokenization(text).replace("'", "")
    decomposed = unicodedata.normalize("NFKD", joined)
    return tuple(_WORD.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch))))


def sentence_key(text: str) -> str:
    """The words of ``sentence_words`` joined: equal keys, the same sentence."""
    return "".join(sentence_words(text))


class _Matcher:
    """Finds, for any text, the given sentences it equals or contains.

    Texts are compared by key (their words joined), so a word that one corpus splits and the
    other does not (``stalk 'n' slash``) still matches; a contained sentence must start where a
    word of the containing text starts, which is where each sentence's anchor (its first
    ``CONTAINED_FROM`` characters) is looked up."""

    def __init__(self, sentences: Iterable[tuple[str, ...]]) -> None:
        self.exact: dict[str, list[int]] = defaultdict(list)
        self.anchored: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for number, words in enumerate(sentences):
            key = "".join(words)
            if not key:
                continue
            self.exact[key].append(number)
            if len(key) >= CONTAINED_FROM:
                self.anchored[key[:CONTAINED_FROM]].append((number, key))

    def matches(self, words: tuple[str, ...]) -> set[int]:
        key = "".join(words)
        found = set(self.exact.get(key, ()))
        offset = 0
        for word in words:
            for number, sentence in self.anchored.get(key[offset : offset + CONTAINED_FROM], ()):
                if key.startswith(sentence, offset):
                    found.add(number)
            offset += len(word)
        return found


def remove_overlap(dataset: TextDataset, held_out: Iterable[str]) -> tuple[TextDataset, int]:
    """``dataset`` without the rows that equal or contain a held-out text, and how many went."""
    matcher = _Matcher(sentence_words(text) for text in held_out)
    keep = [not matcher.matches(sentence_words(text)) for text in dataset.texts]
    removed = len(keep) - sum(keep)
    return replace(dataset, frame=dataset.frame.loc[keep].reset_index(drop=True)), removed


def overlap_groups(texts: Sequence[str]) -> np.ndarray:
    """A group number per text: texts that are equal or that contain one another (directly or
    through a chain) share one, so a split that keeps groups whole puts no copy of a training
    text in the validation set."""
    words = [sentence_words(text) for text in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    matcher = _Matcher(words)
    for i, text_words in enumerate(words):
        for j in matcher.matches(text_words):
            parent[root(j)] = root(i)
    roots = np.array([root(i) for i in range(len(texts))])
    return np.unique(roots, return_inverse=True)[1]
