"""Texts → padded token ids, as Keras' ``TextVectorization`` makes them, without TensorFlow.

The same standardisation (``"lower_and_strip_punctuation"``: lowercase, then delete the
characters of Keras' punctuation pattern), the same whitespace split, and the same vocabulary:
index 0 is padding (``""``), 1 is ``"[UNK]"``, then the tokens by count, ties broken by the
token, both descending (``np.lexsort((tokens, counts))[::-1]`` in Keras'
``IndexLookup.finalize_state``). So a vocabulary file a Keras notebook wrote
(``get_vocabulary()``, one token per line) loads here and maps texts to the same ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import integer_at_least, positive_int
from .._io.atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError

PADDING = ""
UNKNOWN = "[UNK]"
# keras/src/layers/preprocessing/text_vectorization.py: DEFAULT_STRIP_REGEX
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


_MARKUP = re.compile(r"<[^<>]{0,40}>")
_PTB_BRACKETS = re.compile(r"-[lr][rsc]b-")
_SPLIT_NEGATION = re.compile(r"(\w) n't\b")
_SPLIT_CLITIC = re.compile(r"(\w) '(s|re|ve|d|ll|m)\b")


def standardize(text: str) -> str:
    """Keras' ``"lower_and_strip_punctuation"``: lowercase, punctuation deleted (so ``won't``
    becomes ``wont`` and SST's ``wo n't`` becomes ``wo nt``)."""
    return _PUNCTUATION.sub("", text.lower())


def undo_tokenization(text: str) -> str:
    """Lowercase, without what makes one corpus spell a text unlike another: HTML tags (IMDB's
    ``<br />``) and Penn-Treebank tokenisation (SST's ``wo n't`` and ``film 's`` joined back to
    ``won't`` and ``film's``, ``-lrb-`` dropped)."""
    text = _PTB_BRACKETS.sub(" ", _MARKUP.sub(" ", text.lower()))
    return _SPLIT_CLITIC.sub(r"\1'\2", _SPLIT_NEGATION.sub(r"\1n't", text))


def standardize_normalized(text: str) -> str:
    """Keras' standardisation after ``undo_tokenization``, so ``won't`` and SST's ``wo n't``
    both become ``wont``."""
    return _PUNCTUATION.sub("", undo_tokenization(text))


STANDARDIZERS = {"keras": standardize, "normalized": standardize_normalized}


def tokenize(text: str, standardization: str = "keras") -> list[str]:
    """The standardised text split on whitespace."""
    return STANDARDIZERS[standardization](text).split()


@dataclass(frozen=True)
class TextVectorizer:
    """A fixed vocabulary (padding, ``[UNK]``, then tokens), the output length and the
    standardisation (``"keras"``, or ``"normalized"``: see ``standardize_normalized``)."""

    vocabulary: tuple[str, ...]
    sequence_length: int
    standardization: str = "keras"

    def __post_init__(self) -> None:
        _check_standardization(self.standardization)

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        *,
        max_tokens: int = 10_000,
        sequence_length: int = 100,
        standardization: str = "keras",
    ) -> TextVectorizer:
        """The vocabulary ``TextVectorization(max_tokens).adapt(texts)`` builds.

        It may hold fewer than ``max_tokens`` entries when the texts have fewer distinct tokens
        (``len(vectorizer.vocabulary)`` says how many).
        """
        max_tokens = integer_at_least(max_tokens, "max_tokens", 3)
        _check_length(sequence_length)
        _check_standardization(standardization)
        counts = Counter(token for text in texts for token in tokenize(text, standardization))
        tokens = np.array(list(counts), dtype=object)
        frequencies = np.array([counts[t] for t in tokens], dtype=np.int64)
        order = np.lexsort((tokens, frequencies))[::-1][: max_tokens - 2] if len(tokens) else []
        return cls(
            (PADDING, UNKNOWN, *(str(t) for t in tokens[order])), sequence_length, standardization
        )

    @classmethod
    def load(
        cls, path: str | Path, *, sequence_length: int = 100, standardization: str = "keras"
    ) -> TextVectorizer:
        """A vocabulary file, one token per line, as ``get_vocabulary()`` lists them (the first
        line empty for padding, the second ``[UNK]``)."""
        _check_length(sequence_length)
        path = Path(path)
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "" and len(lines) > 2:
            lines = lines[:-1]  # the newline that ends the file
        if lines[:2] != [PADDING, UNKNOWN]:
            raise MalformedFileError(
                path,
                "a TextVectorization vocabulary starts with an empty line and [UNK]; "
                f"got {lines[:2]!r}",
                line=1,
            )
        return cls(tuple(lines), sequence_length, standardization)

    def save(self, path: str | Path) -> Path:
        """One token per line (atomically), the format ``load`` and Keras notebooks use."""
        path = Path(path)
        with atomic_path(path) as temporary:
            temporary.write_text("\n".join(self.vocabulary) + "\n", encoding="utf-8")
        return path

    def __len__(self) -> int:
        return len(self.vocabulary)

    @property
    def index(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.vocabulary)}

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """An int64 (len(texts), sequence_length) matrix of ids: unknown tokens 1, cut at the
        end of a long text, padded with 0 after a short one (Keras' defaults)."""
        index = self.index
        ids = np.zeros((len(texts), self.sequence_length), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = tokenize(text, self.standardization)
            found = [index.get(token, 1) for token in tokens][: self.sequence_length]
            ids[row, : len(found)] = found
        return ids


def _check_length(sequence_length: object) -> None:
    positive_int(sequence_length, "sequence_length")


def _check_standardization(standardization: object) -> None:
    if standardization not in STANDARDIZERS:
        raise InvalidParameterError(
            f"standardization must be one of {', '.join(STANDARDIZERS)}; got {standardization!r}"
        )
