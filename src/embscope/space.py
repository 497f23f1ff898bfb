"""EmbeddingSpace: one matrix of vectors, a unique key per row, and the questions asked of it."""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import neighbors as _nb
from .errors import InvalidParameterError, UnknownKeyError

if TYPE_CHECKING:  # pandas costs a quarter second at import; load it when a frame is built
    import pandas as pd

logger = logging.getLogger(__name__)

PiecesMode = Literal["error", "mean"]
Query = str | Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Provenance:
    """Where a space came from and with which options; ``digest`` keys on-disk caches."""

    source: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def digest(self) -> str:
        payload = json.dumps(
            {
                "source": self.source,
                "kind": self.kind,
                "options": self.options,
                "fingerprint": self.fingerprint,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ResolvedQuery:
    """A query turned into a vector, with the keys (rows) that made it."""

    text: str
    keys: tuple[str, ...]
    rows: tuple[int, ...]
    vector: np.ndarray = field(repr=False)

    @property
    def used_pieces(self) -> bool:
        return len(self.keys) > 1 or (len(self.keys) == 1 and self.keys[0] != self.text)


@dataclass(frozen=True)
class Hits:
    """Ranked rows for one query, best first; ``scores`` are float64 and follow ``metric``
    (for Euclidean, a distance: lower is closer)."""

    rows: np.ndarray
    scores: np.ndarray
    keys: list[str]
    metric: str
    query: ResolvedQuery

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={s:.4f}" for k, s in zip(self.keys[:5], self.scores[:5], strict=True)
        )
        more = f", … {len(self) - 5} more" if len(self) > 5 else ""
        return f"<Hits for {self.query.text!r} by {self.metric}: {shown}{more}>"


class EmbeddingSpace:
    """Vectors with unique keys, readable labels, per-row metadata and a default metric.

    ``space["king"]`` is a read-only vector, ``space[["king", "queen"]]`` a matrix; ``in`` and
    ``len`` work. Norms are computed once, lazily. Nothing here copies the whole matrix, so a
    memory-mapped vocabulary stays on disk.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        keys: Sequence[str],
        *,
        labels: Sequence[str] | None = None,
        metadata: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
        metric: str = "cosine",
        provenance: Provenance | None = None,
        name: str | None = None,
        tokenize: Callable[[str], list[str]] | None = None,
    ) -> None:
        # a plain ndarray view: numpy.memmap's subclass hooks cost microseconds on every slice,
        # while the view still reads the mapped file (its .base is the memmap)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise InvalidParameterError(
                f"vectors must be a 2-D array (rows x dimensions); got shape {vectors.shape}"
            )
        if vectors.dtype not in (np.float32, np.float16):
            vectors = vectors.astype(np.float32)
        keys = list(keys)
        if len(keys) != vectors.shape[0]:
            raise InvalidParameterError(
                f"keys must have one entry per row: {len(keys)} keys for {vectors.shape[0]} rows"
            )
        index = dict(zip(keys, range(len(keys)), strict=True))
        if len(index) != len(keys):
            _raise_first_duplicate(keys)
        if labels is not None and len(labels) != len(keys):
            raise InvalidParameterError(
                f"labels must have one entry per row: {len(labels)} labels for {len(keys)} rows"
            )
        metadata_columns = None
        if isinstance(metadata, Mapping):
            # columns stay plain arrays until someone reads .metadata: loading a vocabulary
            # should not pay for importing pandas
            metadata_columns = {str(k): np.asarray(v) for k, v in metadata.items()}
            for column, values in metadata_columns.items():
                if len(values) != len(keys):
                    raise InvalidParameterError(
                        f"metadata column {column!r} has {len(values)} values for {len(keys)} rows"
                    )
            metadata = None
        elif metadata is not None and len(metadata) != len(keys):
            raise InvalidParameterError(
                f"metadata must have one row per vector: {len(metadata)} rows for {len(keys)}"
            )
        if vectors.flags.writeable:
            vectors = vectors.view()
            vectors.flags.writeable = False
        self._vectors = vectors
        self._keys = keys
        self._index = index
        self._labels = list(labels) if labels is not None else None
        self._metadata = metadata.reset_index(drop=True) if metadata is not None else None
        self._metadata_columns = metadata_columns
        self.metric = _nb.check_metric(metric)
        self.provenance = provenance or Provenance(source="<array>", kind="array")
        self.name = name or self.provenance.source
        self._tokenize = tokenize
        self._norms: np.ndarray | None = None
        self._inverse_norms: np.ndarray | None = None

    # ---- container protocol -------------------------------------------------------------
    @property
    def vectors(self) -> np.ndarray:
        """The (n, d) matrix, read-only; float32 or float16, possibly a view of a memory map
        (``summary()["memory_mapped"]`` says)."""
        return self._vectors

    @property
    def keys(self) -> list[str]:
        return self._keys

    @property
    def labels(self) -> list[str]:
        """What a person reads for each row (decoded tokens); the keys when none were given."""
        return self._labels if self._labels is not None else self._keys

    @property
    def metadata(self) -> pd.DataFrame:
        """One row per vector (token id, class label, counts…); empty columns when none."""
        if self._metadata is None:
            import pandas as pd

            self._metadata = pd.DataFrame(
                self._metadata_columns or {}, index=range(len(self._keys))
            )
        return self._metadata

    def _column_arrays(self) -> dict[str, np.ndarray]:
        """Metadata as plain arrays, so result tables pick rows without pandas indexing."""
        if self._metadata_columns is None:
            self._metadata_columns = {
                str(column): self.metadata[column].to_numpy() for column in self.metadata.columns
            }
        return self._metadata_columns

    @property
    def shape(self) -> tuple[int, int]:
        return self._vectors.shape

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every row (computed on first use)."""
        if self._norms is None:
            self._norms = _nb.row_norms(self._vectors)
            self._norms.flags.writeable = False
        return self._norms

    def _scores(self, vector: np.ndarray, metric: str) -> np.ndarray:
        """Score of one query vector against every row."""
        if self._inverse_norms is None:
            self._inverse_norms = _nb.inverse(self.norms)
        return _nb.scores(
            self._vectors,
            vector[None, :],
            metric,
            norms=self.norms,
            inverse_norms=self._inverse_norms,
        )[0]

    @property
    def has_tokenizer(self) -> bool:
        return self._tokenize is not None

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __getitem__(self, key: str | Sequence[str]) -> np.ndarray:
        if isinstance(key, str):
            return self._vectors[self.row(key)]
        rows = [self.row(k) for k in key]
        return np.asarray(self._vectors[rows])

    def __repr__(self) -> str:
        n, d = self.shape
        return (
            f"<EmbeddingSpace {self.name!r}: {n:,} x {d} {self._vectors.dtype}, "
            f"metric={self.metric}>"
        )

    # ---- lookup -------------------------------------------------------------------------
    def row(self, key: str) -> int:
        """Row of a key; an unknown key raises UnknownKeyError with the closest keys."""
        try:
            return self._index[key]
        except (KeyError, TypeError):
            raise self._unknown(key) from None

    def _unknown(self, key: str) -> UnknownKeyError:
        key = str(key)
        pieces: list[str] = []
        if self._tokenize is not None and key.strip():
            pieces = self._tokenize(key)
        suggestions = [] if len(pieces) > 1 else closest_keys(key, self._keys)
        return UnknownKeyError(key, space_name=self.name, suggestions=suggestions, pieces=pieces)

    def resolve(self, query: Query, *, pieces: PiecesMode = "error") -> ResolvedQuery:
        """Turn a word (or a raw vector) into the vector a question uses.

        A key is used as is. When the space has a tokenizer, a word it splits into one known
        token uses that token (the model's own normalisation, e.g. lowercasing); a word it splits
        into several uses their mean only with ``pieces="mean"``, and the pieces are reported.
        """
        if pieces not in ("error", "mean"):
            raise InvalidParameterError(f"pieces must be 'error' or 'mean'; got {pieces!r}")
        if not isinstance(query, str):
            vector = np.asarray(query, dtype=np.float32)
            if vector.shape != (self.dim,):
                raise InvalidParameterError(
                    f"a vector query must have shape ({self.dim},); got {vector.shape}"
                )
            return ResolvedQuery("<vector>", (), (), vector)
        if query in self._index:
            row = self._index[query]
            return ResolvedQuery(
                query, (query,), (row,), np.asarray(self._vectors[row], np.float32)
            )
        split = self._tokenize(query) if self._tokenize is not None and query.strip() else []
        known = [p for p in split if p in self._index]
        if split and len(known) == len(split) and (len(split) == 1 or pieces == "mean"):
            rows = tuple(self._index[p] for p in split)
            vector = np.asarray(self._vectors[list(rows)], dtype=np.float32).mean(axis=0)
            logger.info("%r resolved to pieces %s", query, split)
            return ResolvedQuery(query, tuple(split), rows, vector)
        raise self._unknown(query)

    # ---- questions ----------------------------------------------------------------------
    def similarity(
        self, a: Query, b: Query, *, metric: str | None = None, pieces: PiecesMode = "error"
    ) -> float:
        """Cosine similarity of two words (or vectors); ``metric="euclidean"`` gives their
        distance and ``"dot"`` their dot product. A zero vector has cosine 0 with anything."""
        metric = _nb.check_metric(metric or self.metric)
        first = self.resolve(a, pieces=pieces).vector.astype(np.float64)
        second = self.resolve(b, pieces=pieces).vector.astype(np.float64)
        if metric == "euclidean":
            return float(np.linalg.norm(first - second))
        dot = float(first @ second)
        if metric == "dot":
            return dot
        denominator = float(np.linalg.norm(first) * np.linalg.norm(second))
        return dot / denominator if denominator > 0 else 0.0

    def search(
        self,
        query: Query,
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        opposite: bool = False,
    ) -> Hits:
        """The ranked rows as arrays, without building a table: what ``neighbors`` and
        ``opposites`` show, for code that asks many questions in a loop."""
        metric = _nb.check_metric(metric or self.metric)
        if not isinstance(top_k, int | np.integer) or isinstance(top_k, bool) or top_k < 1:
            raise InvalidParameterError(f"top_k must be a positive integer; got {top_k!r}")
        resolved = self.resolve(query, pieces=pieces)
        row_scores = self._scores(resolved.vector, metric)
        rows, exact = _nb.refined_top_k(
            self._vectors,
            row_scores,
            resolved.vector,
            int(top_k),
            metric,
            largest=_nb.higher_is_closer(metric) != opposite,
            excluded=np.asarray(resolved.rows, dtype=np.int64),
        )
        return Hits(
            rows=rows,
            scores=exact,
            keys=[self._keys[r] for r in rows],
            metric=metric,
            query=resolved,
        )

    def neighbors(
        self,
        query: Query,
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
    ) -> pd.DataFrame:
        """The ``top_k`` rows closest to the query, closest first, the query's own rows excluded.

        Columns: rank, key, label, score, then the metadata columns. ``score`` is the cosine
        similarity, the dot product, or (``metric="euclidean"``) the distance, lower = closer.
        """
        return self._frame(self.search(query, top_k=top_k, metric=metric, pieces=pieces))

    def opposites(
        self,
        query: Query,
        *,
        top_k: int = 10,
        metric: str | None = None,
        pieces: PiecesMode = "error",
    ) -> pd.DataFrame:
        """The ``top_k`` rows least similar to the query (lowest cosine, farthest), most opposite
        first."""
        hits = self.search(query, top_k=top_k, metric=metric, pieces=pieces, opposite=True)
        return self._frame(hits)

    def similarity_table(
        self,
        query: Query,
        *,
        metric: str | None = None,
        pieces: PiecesMode = "error",
        include_query: bool = False,
    ) -> pd.DataFrame:
        """Every row's score against the query, closest first (the notebook's cosine table)."""
        metric = _nb.check_metric(metric or self.metric)
        resolved = self.resolve(query, pieces=pieces)
        row_scores = self._scores(resolved.vector, metric)
        ranking = -row_scores if _nb.higher_is_closer(metric) else row_scores
        order = np.lexsort((np.arange(len(self)), ranking))
        if not include_query and resolved.rows:
            order = order[~np.isin(order, resolved.rows)]
        keys = [self._keys[r] for r in order]
        scores = row_scores[order].astype(np.float64)
        return self._frame(
            Hits(rows=order, scores=scores, keys=keys, metric=metric, query=resolved)
        )

    def _frame(self, hits: Hits) -> pd.DataFrame:
        import pandas as pd

        labels = self.labels
        columns: dict[str, Any] = {
            "rank": np.arange(1, len(hits.rows) + 1),
            "key": hits.keys,
            "label": [labels[r] for r in hits.rows],
            "score": hits.scores,
        }
        for column, values in self._column_arrays().items():
            columns.setdefault(column, values[hits.rows])
        frame = pd.DataFrame(columns)
        frame.attrs.update(
            query=hits.query.text,
            query_keys=list(hits.query.keys),
            metric=hits.metric,
            higher_is_closer=_nb.higher_is_closer(hits.metric),
            space=self.name,
        )
        return frame

    def summary(self) -> dict[str, Any]:
        """Facts a person checks first: shape, storage, metric, where it came from, norm spread."""
        norms = self.norms
        return {
            "name": self.name,
            "kind": self.provenance.kind,
            "source": self.provenance.source,
            "rows": len(self),
            "dim": self.dim,
            "dtype": str(self._vectors.dtype),
            "memory_mapped": _is_memory_mapped(self._vectors),
            "metric": self.metric,
            "tokenizer": self.has_tokenizer,
            "zero_rows": int((norms == 0).sum()),
            "norm_min": float(norms.min()) if len(norms) else 0.0,
            "norm_median": float(np.median(norms)) if len(norms) else 0.0,
            "norm_max": float(norms.max()) if len(norms) else 0.0,
            "metadata_columns": list(self._column_arrays()),
            "first_keys": self._keys[:8],
            **{f"option.{k}": v for k, v in self.provenance.options.items()},
        }

    # ---- derived spaces -----------------------------------------------------------------
    def subset(self, keys: Sequence[str]) -> EmbeddingSpace:
        """A new space holding only the given keys, in that order (vectors copied)."""
        rows = [self.row(k) for k in keys]
        return EmbeddingSpace(
            np.asarray(self._vectors[rows]),
            [self._keys[r] for r in rows],
            labels=[self.labels[r] for r in rows],
            metadata=self.metadata.iloc[rows].reset_index(drop=True),
            metric=self.metric,
            provenance=Provenance(
                source=self.provenance.source,
                kind=self.provenance.kind,
                options={
                    **self.provenance.options,
                    "subset_of": self.provenance.digest,
                    "subset_rows": len(rows),
                },
                fingerprint=hashlib.sha256("\n".join(map(str, rows)).encode()).hexdigest()[:16],
            ),
            name=self.name,
            tokenize=self._tokenize,
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per vector: key, label, metadata and the vector as a list column.

        Metadata columns named like the fixed ones are kept as ``metadata.<name>``.
        """
        import pandas as pd

        fixed = ("key", "label", "vector")
        metadata = self.metadata.rename(
            columns={c: f"metadata.{c}" for c in self.metadata.columns if c in fixed}
        )
        frame = pd.DataFrame({"key": self._keys, "label": self.labels})
        frame = pd.concat([frame, metadata], axis=1)
        frame["vector"] = list(np.asarray(self._vectors, dtype=np.float32))
        return frame


def _raise_first_duplicate(keys: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for row, key in enumerate(keys):
        if key in seen:
            raise InvalidParameterError(
                f"keys must be unique: {key!r} is at rows {seen[key]} and {row}"
            )
        seen[key] = row


def _is_memory_mapped(array: np.ndarray) -> bool:
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base if isinstance(array.base, np.ndarray) else None
    return False


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
