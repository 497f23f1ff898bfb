"""What a tokenizer's files say (``TokenizerVocabulary``), and the table of keys, labels and
per-row metadata it gives a model's token matrix (``TokenTable``), with the function that splits
a word into the model's own pieces."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import SourceError
from .labels import describe, visible

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenizerVocabulary:
    """The vocabulary a checkpoint's tokenizer files describe, id → raw token string."""

    tokens: dict[int, str]
    special_ids: frozenset[int]
    added_ids: frozenset[int]
    style: str
    model: str  # BPE, WordPiece, Unigram, WordLevel
    source: str  # the file(s) it came from, e.g. "tokenizer.json"
    fingerprint: str
    unk_id: int | None = None
    continuation_prefix: str = "##"
    # Builds the word → ids function on first use (None: this format cannot split words here).
    build_encoder: Callable[[], Callable[[str], list[int]]] | None = field(
        default=None, repr=False, compare=False
    )
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Rows the vocabulary needs: one past its highest id."""
        return max(self.tokens) + 1 if self.tokens else 0

    @property
    def description(self) -> str:
        return f"{self.source} ({self.model}, {self.style})"


@dataclass(frozen=True)
class TokenTable:
    """Everything a space needs from the tokenizer, one entry per matrix row.

    ``columns`` holds the metadata (``token_id``, ``special``, ``kind``) as arrays; the space
    turns them into a DataFrame only when its metadata is read.
    """

    keys: list[str]
    labels: list[str]
    columns: dict[str, np.ndarray]
    tokenize: Callable[[str], list[str]] | None
    padding_rows: int

    def space(self, vectors: Any, *, provenance: Any, name: str) -> Any:
        """The ``EmbeddingSpace`` of ``vectors`` (one row per entry) keyed, labelled and
        tokenized by this table: what every reader of a model's token matrix (checkpoint,
        GGUF, ONNX) ends with."""
        from ...space import EmbeddingSpace

        return EmbeddingSpace(
            vectors,
            self.keys,
            labels=self.labels,
            metadata=self.columns,
            provenance=provenance,
            name=name,
            tokenize=self.tokenize,
        )


def token_table(vocabulary: TokenizerVocabulary | None, n_rows: int) -> TokenTable:
    """Keys, labels and metadata for ``n_rows`` matrix rows.

    Rows without a token are kept, keyed ``<row 50257>`` and marked ``padding_row``, and a
    warning gives their count and the first of them: a few rows at the end pad the matrix for
    speed (GPT-2: 50,257 tokens in 50,304 rows; Phi-2: 50,295 in 51,200), but the same gap is
    what a ``vocab.txt`` that lost lines leaves, so it is never silent. A vocabulary larger
    than the matrix is an error.
    """
    if vocabulary is None:
        keys = [str(row) for row in range(n_rows)]
        columns = {
            "token_id": np.arange(n_rows, dtype=np.int64),
            "special": np.zeros(n_rows, dtype=bool),
            "kind": np.full(n_rows, "unknown", dtype=object),
        }
        return TokenTable(keys, keys, columns, None, 0)
    if vocabulary.size > n_rows:
        raise SourceError(
            f"the tokenizer ({vocabulary.source}) has ids up to {vocabulary.size - 1:,} but the "
            f"embedding matrix has only {n_rows:,} rows; the tokenizer files do not belong to "
            "these weights"
        )
    keys: list[str] = []
    labels: list[str] = []
    kinds: list[str] = []
    special: list[bool] = []
    seen: dict[str, int] = {}
    tokens, special_ids, added_ids = vocabulary.tokens, vocabulary.special_ids, vocabulary.added_ids
    padding = 0
    for row in range(n_rows):
        token = tokens.get(row)
        if token is None:
            padding += 1
            key, label, kind = f"<row {row}>", f"<row {row}>", "padding_row"
        else:
            key = token
            if row in special_ids or row in added_ids:
                label, kind = visible(token), "special" if row in special_ids else "added"
            else:
                label, kind = describe(
                    token, vocabulary.style, prefix=vocabulary.continuation_prefix
                )
        if key in seen:
            # Two ids with the same string (an added token repeating a vocabulary entry): the
            # first keeps the raw string, so every row stays reachable by a unique key.
            first, key = seen[key], f"<row {row}: {key}>"
            logger.warning("token id %d repeats the string of id %d; keyed %r", row, first, key)
        seen[key] = row
        keys.append(key)
        labels.append(label)
        kinds.append(kind)
        special.append(row in special_ids)
    if padding:
        _warn_rows_without_tokens(vocabulary, n_rows, padding)
    columns = {
        "token_id": np.arange(n_rows, dtype=np.int64),
        "special": np.array(special, dtype=bool),
        "kind": np.array(kinds, dtype=object),
    }
    tokenize = _piece_splitter(vocabulary, keys, columns["kind"])
    return TokenTable(keys, labels, columns, tokenize, padding)


def _warn_rows_without_tokens(vocabulary: TokenizerVocabulary, n_rows: int, padding: int) -> None:
    first = next(row for row in range(n_rows) if row not in vocabulary.tokens)
    at_end = first == vocabulary.size
    where = (
        "all after its last token: a matrix padded for speed has a few such rows, but a "
        "vocabulary file that lost lines leaves the same gap, so check that"
        if at_end
        else "some between its tokens: the tokenizer files may not belong to these weights"
    )
    logger.warning(
        "%s has %s tokens for the %s matrix rows: %s rows have no token (the first is row %s) "
        "and are keyed '<row N>', %s",
        vocabulary.source,
        f"{len(vocabulary.tokens):,}",
        f"{n_rows:,}",
        f"{padding:,}",
        f"{first:,}",
        where,
    )


def _piece_splitter(
    vocabulary: TokenizerVocabulary, keys: list[str], kinds: np.ndarray
) -> Callable[[str], list[str]] | None:
    """word → the keys of its pieces, without special tokens; built on first call.

    A word is split as it stands in running text, after a space: in a vocabulary of word-start
    tokens (byte-level BPE, SentencePiece) its first piece is a word-start token, so
    ``embeddings`` is ``Ġembed + d + ings`` even where the tokenizer adds no space of its own
    (GPT-2's ``add_prefix_space=False``, a Metaspace that prepends nothing). Text that starts
    with a space, and every other style, is split as given.

    A word the tokenizer can only map to its unknown token has no pieces (an empty list), so
    it is reported as unknown rather than answered with the ``[UNK]`` vector.
    """
    build = vocabulary.build_encoder
    if build is None:
        return None
    lock = threading.Lock()
    encoder: list[Callable[[str], list[int]]] = []
    unk_id = vocabulary.unk_id
    word_starts = vocabulary.style in ("byte_level", "metaspace")

    def encode(text: str) -> list[int]:
        with lock:
            if not encoder:
                encoder.append(build())
        return encoder[0](text)

    def tokenize(word: str) -> list[str]:
        ids = encode(word)
        if word_starts and ids and word[:1].strip() and kinds[ids[0]] != "word_start":
            spaced = encode(" " + word)
            if spaced and kinds[spaced[0]] == "word_start":
                ids = spaced
        if unk_id is not None and unk_id in ids:
            return []
        return [keys[i] for i in ids]

    return tokenize
