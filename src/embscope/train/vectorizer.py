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

from ..atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError

PADDING = ""
UNKNOWN = "[UNK]"
# keras/src/layers/preprocessing/text_vectorization.py: DEFAULT_STRIP_REGEX
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def standardize(text: str) -> str:
    """Keras' ``"lower_and_strip_punctuation"``: lowercase, punctuation deleted (so ``won't``
    becomes ``wont`` and SST's ``wo n't`` becomes ``wo nt``)."""
    return _PUNCTUATION.sub("", text.lower())


def tokenize(text: str) -> list[str]:
    """The standardised text split on whitespace."""
    return standardize(text).split()


@dataclass(frozen=True)
class TextVectorizer:
    """A fixed vocabulary (padding, ``[UNK]``, then tokens) and the output length."""

    vocabulary: tuple[str, ...]
    sequence_length: int

    @classmethod
    def fit(
        cls, texts: Iterable[str], *, max_tokens: int = 10_000, sequence_length: int = 100
    ) -> TextVectorizer:
        """The vocabulary ``TextVectorization(max_tokens).adapt(texts)`` builds.

        It may hold fewer than ``max_tokens`` entries when the texts have fewer distinct tokens
        (``len(vectorizer.vocabulary)`` says how many).
        """
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 3:
            raise InvalidParameterError(
                f"max_tokens must be an integer of at least 3; got {max_tokens!r}"
            )
        _check_length(sequence_length)
        counts = Counter(token for text in texts for token in tokenize(text))
        tokens = np.array(list(counts), dtype=object)
        frequencies = np.array([counts[t] for t in tokens], dtype=np.int64)
        order = np.lexsort((tokens, frequencies))[::-1][: max_tokens - 2] if len(tokens) else []
        return cls((PADDING, UNKNOWN, *(str(t) for t in tokens[order])), sequence_length)

    @classmethod
    def load(cls, path: str | Path, *, sequence_length: int = 100) -> TextVectorizer:
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
        return cls(tuple(lines), sequence_length)

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
            found = [index.get(token, 1) for token in tokenize(text)][: self.sequence_length]
            ids[row, : len(found)] = found
        return ids


def _check_length(sequence_length: object) -> None:
    if (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, int)
        or sequence_length < 1
    ):
        raise InvalidParameterError(
            f"sequence_length must be a positive integer; got {sequence_length!r}"
        )
