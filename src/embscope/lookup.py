"""How typed text finds a space's rows: keys, labels typed as tables show them (``␣king``),
word-start tokens (a plain ``king`` means ``Ġking`` / ``▁king``), ``##`` continuation pieces,
a lowercase vocabulary's folded case, a tokenizer's pieces, a document space's encoder; and,
when nothing matches, the error with the closest keys.

``EmbeddingSpace.resolve`` / ``row`` / ``query_text`` / ``unknown_key`` are the public doors;
this module is the space's own machinery (same package), so it reads the space's fields.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import InvalidParameterError, UnknownKeyError
from .search.results import ResolvedQuery

if TYPE_CHECKING:
    from .space import EmbeddingSpace, PiecesMode, Query

logger = logging.getLogger(__name__)

#: Typed before a piece, asks for the mid-word continuation piece of a vocabulary with
#: word-start tokens (SentencePiece, byte-level BPE): there ``king`` means the word (``Ġking``,
#: ``▁king``) and ``##king`` the piece ``king`` that continues a word, as WordPiece writes it.
CONTINUATION_MARK = "##"
#: How a label shows the space a word-start token begins with (``Ġking`` → ``␣king``).
WORD_START_MARK = "␣"


def unknown_key(space: EmbeddingSpace, key: str) -> UnknownKeyError:
    """The error for a key this space does not hold, with why (left out for NaN values),
    the closest keys, or the pieces its tokenizer splits it into."""
    key = str(key)
    if key in space.non_finite_keys:
        return UnknownKeyError(
            key,
            space_name=space.name,
            reason="its vector holds NaN or infinite values, so it was left out on load",
        )
    pieces: list[str] = []
    if space._tokenize is not None and key.strip():
        pieces = space._tokenize(key)
    labels = space.labels
    piece_labels = [labels[space._index[p]] if p in space._index else p for p in pieces]
    suggestions: list[str] = []
    if len(pieces) <= 1:
        words = label_tables(space).words
        # in a vocabulary of word-start tokens the words a person types are the ones
        # after the space mark (they resolve to their ␣word token), not the raw keys
        suggestions = closest_keys(key, [*words, *space._keys] if words else space._keys)
    return UnknownKeyError(
        key,
        space_name=space.name,
        suggestions=suggestions,
        pieces=pieces,
        piece_labels=piece_labels,
    )


def resolve(space: EmbeddingSpace, query: Query, *, pieces: PiecesMode = "error") -> ResolvedQuery:
    """Turn a word (or a raw vector) into the vector a question uses.

    A key is used as is, and so is a label typed as tables show it (``␣king``). In a
    vocabulary of word-start tokens (SentencePiece ``▁king``, byte-level BPE ``Ġking``) a
    plain word means its word-start token, the token it is in running text: ``king`` is
    answered by ``Ġking`` (labelled ``␣king``), and ``looked_up_as`` says so. The bare
    piece ``king`` there continues a word (``ma+king``); ask for it as ``##king``, the mark
    WordPiece gives such pieces (a prefix rather than an option, so the same text asks
    for it in Python, on the command line and in the web page). A raw key typed with its
    marker (``Ġking``, ``▁king``) is always that token. WordPiece and word vocabularies
    have no word-start tokens, and their words are keys as before.

    A space of encoded texts (``embscope.encode_dataset``) encodes any other text with its
    model. A lowercase vocabulary (GloVe) answers ``Paris`` with ``paris``. When the space
    has a tokenizer, a word it splits into one known token uses that token (the model's
    own normalisation, e.g. lowercasing); a word it splits into several uses their mean
    only with ``pieces="mean"``, and the pieces are reported (as labels in the error).
    """
    if pieces not in ("error", "mean"):
        raise InvalidParameterError(f"pieces must be 'error' or 'mean'; got {pieces!r}")
    if not isinstance(query, str):
        vector = np.asarray(query, dtype=np.float32)
        if vector.shape != (space.dim,):
            raise InvalidParameterError(
                f"a vector query must have shape ({space.dim},); got {vector.shape}"
            )
        if not np.isfinite(vector).all():
            raise InvalidParameterError(
                "a vector query holds NaN or infinite values: every score would be NaN"
            )
        return ResolvedQuery("<vector>", (), (), vector)
    row = find_row(space, query)
    if row is not None:
        return _resolved(space, query, (row,))
    if space._encode is not None and query.strip():
        # a document space answers free text through the model that encoded it
        return ResolvedQuery(query, (), (), np.asarray(space._encode(query), np.float32))
    folded = query.lower()
    if folded != query and _lowercase_only(space):
        # GloVe and other lowercased vocabularies hold "paris", never "Paris": fold as an
        # uncased tokenizer would, and report the key used (the CLI says so in a note)
        row = find_row(space, folded)
        if row is not None:
            logger.info("%r looked up as %r (the vocabulary is lowercase)", query, folded)
            return _resolved(space, query, (row,))
    split = space._tokenize(query) if space._tokenize is not None and query.strip() else []
    known = [p for p in split if p in space._index]
    if split and len(known) == len(split) and (len(split) == 1 or pieces == "mean"):
        resolved = _resolved(space, query, tuple(space._index[p] for p in split))
        logger.info("%r resolved to pieces %s", query, " + ".join(resolved.labels))
        return resolved
    raise unknown_key(space, query)


def _resolved(space: EmbeddingSpace, text: str, rows: tuple[int, ...]) -> ResolvedQuery:
    """The query answered by ``rows``: one row's vector, or the mean of several."""
    labels = space.labels
    if len(rows) == 1:
        vector = np.asarray(space._vectors[rows[0]], np.float32)
    else:
        vector = np.asarray(space._vectors[list(rows)], dtype=np.float32).mean(axis=0)
    keys = tuple(space._keys[r] for r in rows)
    return ResolvedQuery(text, keys, rows, vector, tuple(labels[r] for r in rows))


def find_row(space: EmbeddingSpace, text: str) -> int | None:
    """The row a text names without the tokenizer: a plain word's word-start token, a
    key, a ``##piece``, or a label shown in tables; None when it names none."""
    lookup = label_tables(space)
    if lookup.word_start is not None and is_plain_word(text):
        row = lookup.label_rows.get(WORD_START_MARK + text)
        if row is not None and lookup.word_start[row]:
            return row
    row = space._index.get(text)
    if row is not None:
        return row
    if lookup.word_start is not None and text.startswith(CONTINUATION_MARK):
        row = space._index.get(text[len(CONTINUATION_MARK) :])
        if row is not None:
            return row
    return lookup.label_rows.get(text)


def query_text(space: EmbeddingSpace, key: str) -> str:
    """The text that ``resolve`` answers with exactly the row ``key``, as a person would
    type it: its label where that leads back to it (``␣king`` for ``Ġking``),
    ``##king`` for a continuation piece whose bare form means the word, else the key.
    An unknown key raises UnknownKeyError."""
    row = space.row(key)
    label = space.labels[row]
    for text in (label, CONTINUATION_MARK + key, key):
        if find_row(space, text) == row:
            return text
    return key


def label_tables(space: EmbeddingSpace) -> LabelTables:
    """The label and word-start tables, built on the first lookup, then kept."""
    found = space.__dict__.get("_lookup_tables")
    if found is None:
        found = LabelTables.build(space)
        space.__dict__["_lookup_tables"] = found
    return found


def _lowercase_only(space: EmbeddingSpace) -> bool:
    """Whether no key has an upper-case letter (computed on the first miss, then kept)."""
    if space._all_lowercase is None:
        space._all_lowercase = not any(key != key.lower() for key in space._keys)
    return space._all_lowercase


@dataclass(frozen=True)
class LabelTables:
    """What ``resolve`` needs beyond the key index: ``label_rows`` maps each label that
    differs from its key and belongs to one row only back to that row (``␣king`` → the row of
    ``Ġking``); ``word_start`` marks the rows the tokenizer's table calls ``word_start`` (None
    when none is: no word-start vocabulary); ``words`` are those rows' labels without the
    space mark, the words a person types."""

    label_rows: dict[str, int]
    word_start: np.ndarray | None
    words: list[str]

    @classmethod
    def build(cls, space: EmbeddingSpace) -> LabelTables:
        label_rows: dict[str, int] = {}
        # a document space's labels are its texts: those are encoded, not looked up
        if space._labels is not None and space._encode is None:
            shared: set[str] = set()
            for row, (key, label) in enumerate(zip(space._keys, space._labels, strict=True)):
                if label != key:
                    if label in label_rows:
                        shared.add(label)
                    label_rows[label] = row
            for label in shared:  # a label of several rows names none of them
                del label_rows[label]
        kind = kind_column(space)
        word_start = None
        words: list[str] = []
        if kind is not None:
            marked = np.asarray(kind == "word_start", dtype=bool)
            if marked.any():
                word_start = marked
                labels = space.labels
                words = [
                    labels[row][len(WORD_START_MARK) :]
                    for row in np.flatnonzero(marked).tolist()
                    if labels[row].startswith(WORD_START_MARK)
                ]
        return cls(label_rows, word_start, words)


def kind_column(space: EmbeddingSpace) -> np.ndarray | None:
    """The tokenizer table's ``kind`` column, without building a DataFrame for it."""
    if space._metadata_columns is not None:
        return space._metadata_columns.get("kind")
    if space._metadata is not None and "kind" in space._metadata.columns:
        return space._metadata["kind"].to_numpy()
    return None


def is_plain_word(text: str) -> bool:
    """A word as typed in running text: it starts with a letter or digit and has no space."""
    return text[:1].isalnum() and not any(c.isspace() for c in text)


def closest_keys(query: str, keys: Sequence[str], n: int = 5) -> list[str]:
    """Keys a person probably meant: same word in another case first, then close spellings.

    Only keys that share the query's first letter (case-insensitively) are compared with
    difflib, so a 400k vocabulary answers in a fraction of a second.
    """
    folded = query.casefold().strip()
    if not folded:
        return []
    same_case_folded = [k for k in keys if k.casefold() == folded and k != query]
    pool: dict[str, list[str]] = {}
    for key in keys:
        candidate = key.casefold()
        if candidate[:1] == folded[:1] and abs(len(candidate) - len(folded)) <= 3:
            pool.setdefault(candidate, []).append(key)
    close = difflib.get_close_matches(folded, list(pool), n=n + len(same_case_folded), cutoff=0.6)
    result = list(same_case_folded)
    for match in close:
        for key in pool[match]:
            if key not in result and key != query:
                result.append(key)
    return result[:n]
