"""The kNN graph: every row's ``top_k`` nearest rows (itself excluded) as (n, k) arrays.

Exact graphs are computed in row blocks. Scores are symmetric, so each block of rows is scored
only against itself and the rows after it (half the matrix products of scoring every block
against every row): the block's scores feed both its own rows' neighbour lists and, read down
the columns, the lists of the later rows. Each row keeps its best ``top_k`` so far; a new score
needs a full selection only if it beats the row's current ``top_k``-th best, so after the first
blocks almost every score is dismissed by one comparison. Scores are computed one tile at a
time (``block_rows`` x a few thousand rows, 8 MiB), so memory stays bounded by the tile plus
the (n, k) result: never an n x n matrix, nor a normalised copy of all the vectors (cosine
normalises one chunk of rows at a time).

A row's own index is excluded by position, not by dropping the first hit, so a row whose
duplicate scores exactly as high as itself keeps the duplicate as its neighbour. Ties are broken
by the lower row id, as ``EmbeddingSpace.search`` breaks them.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._checks import is_integer, positive_int
from .._io.atomic import atomic_path
from .._io.json_input import parse_json
from .._io.progress import progress_bar
from ..errors import InvalidParameterError
from ..metrics import Metric
from . import kernels as _nb

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)

GRAPH_FORMATS: dict[str, str] = {
    ".parquet": "long table: source, rank, target, score, source_row, target_row",
    ".npz": "NumPy arrays: ids (n, k), scores (n, k), keys, metric",
}

_BLOCK_ROWS = 1024
# a block scores at least block_rows x block_rows cells at once: beyond this, 4 GiB
MAX_BLOCK_ROWS = 32_768
# One tile of scores (block rows x a chunk of columns, float32) is scored at a time, small
# enough that the passes over it after the matrix product run in cache.
_TILE_BYTES = 8 * 1024 * 1024
# float16 rows are cast to float32 (and Euclidean neighbours re-measured) this much at a time
_CAST_BYTES = 64 * 1024 * 1024
# A row with more candidates than this in one block (a zero vector: every cosine is 0) is
# selected densely instead of through the candidate table.
_CANDIDATE_CAP = 256
# a row without k entries yet sets its floor from a sample of about this many entries per k
_SAMPLE_PER_K = 32


@dataclass(frozen=True, repr=False)
class KnnGraph:
    """Every row's nearest rows, best first: ``ids[i]`` are the rows closest to row ``i`` (never
    ``i`` itself) and ``scores[i]`` their scores by ``metric`` (for Euclidean a distance, lower
    is closer). ``-1`` / NaN mark a missing neighbour (only an approximate graph has any).

    ``keys`` is the space's own key list (not copied).
    """

    ids: np.ndarray
    scores: np.ndarray
    metric: Metric
    keys: Sequence[str] = field(repr=False)
    approximate: bool = False

    @property
    def top_k(self) -> int:
        return int(self.ids.shape[1])

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __repr__(self) -> str:
        how = "approximate" if self.approximate else "exact"
        return f"<KnnGraph: {len(self):,} rows x top {self.top_k} by {self.metric}, {how}>"

    def to_pandas(self) -> pd.DataFrame:
        """Long format, one row per edge: source, rank (1 = closest), target, score, and the
        row numbers source_row / target_row. Missing neighbours are left out."""
        import pandas as pd

        n, k = self.ids.shape
        present = self.ids >= 0
        source_rows = np.broadcast_to(np.arange(n)[:, None], (n, k))[present]
        ranks = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32)[None, :], (n, k))[present]
        target_rows = self.ids[present]
        keys = np.asarray(self.keys, dtype=object)
        return pd.DataFrame(
            {
                "source": keys[source_rows],
                "rank": ranks,
                "target": keys[target_rows],
                "score": self.scores[present],
                "source_row": source_rows,
                "target_row": target_rows,
            }
        )

    def save(self, path: str | Path) -> Path:
        """Write to ``.parquet`` (the long table of ``to_pandas``, metric in the file's
        metadata) or ``.npz`` (the arrays), atomically: a reader never sees half a file."""
        path = Path(path)
        suffix = _format_of(path)
        with atomic_path(path) as temporary:
            if suffix == ".npz":
                with open(temporary, "wb") as handle:
                    np.savez(
                        handle,
                        ids=self.ids,
                        scores=self.scores,
                        keys=np.asarray(self.keys, dtype=str),
                        metric=np.asarray(self.metric),
                        approximate=np.asarray(self.approximate),
                    )
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(self.to_pandas(), preserve_index=False)
                meta = {"metric": self.metric, "top_k": self.top_k, "rows": len(self)}
                meta["approximate"] = self.approximate
                table = table.replace_schema_metadata(
                    {**(table.schema.metadata or {}), b"embscope.knn_graph": json.dumps(meta)}
                )
                pq.write_table(table, temporary)
        return path

    @classmethod
    def load(cls, path: str | Path) -> KnnGraph:
        """Read a graph written by ``save``."""
        path = Path(path)
        suffix = _format_of(path)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                return cls(
                    ids=arrays["ids"],
                    scores=arrays["scores"],
                    metric=str(arrays["metric"]),
                    keys=arrays["keys"].tolist(),
                    approximate=bool(arrays["approximate"]),
                )
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = parse_json((table.schema.metadata or {})[b"embscope.knn_graph"], path)
        n, k = int(meta["rows"]), int(meta["top_k"])
        columns = table.to_pydict()
        keys: list[str | None] = [None] * n
        ids = np.full((n, k), -1, dtype=np.int64)
        scores = np.full((n, k), np.nan, dtype=np.float32)
        source_rows = np.asarray(columns["source_row"], dtype=np.int64)
        target_rows = np.asarray(columns["target_row"], dtype=np.int64)
        ranks = np.asarray(columns["rank"], dtype=np.int64) - 1
        ids[source_rows, ranks] = target_rows
        scores[source_rows, ranks] = np.asarray(columns["score"], dtype=np.float32)
        for row, key in zip(source_rows.tolist(), columns["source"], strict=True):
            keys[row] = key
        for row, key in zip(target_rows.tolist(), columns["target"], strict=True):
            keys[row] = key
        return cls(
            ids=ids,
            scores=scores,
            metric=meta["metric"],
            keys=[k if k is not None else "" for k in keys],
            approximate=bool(meta["approximate"]),
        )

    def _repr_html_(self) -> str:
        shown = min(len(self), 8)
        rows = []
        for i in range(shown):
            cells = ", ".join(
                f"{html.escape(str(self.keys[j]))} ({s:.3f})"
                for j, s in zip(self.ids[i, :5].tolist(), self.scores[i, :5].tolist(), strict=True)
                if j >= 0
            )
            more = " …" if self.top_k > 5 else ""
            rows.append(f"<tr><td>{html.escape(str(self.keys[i]))}</td><td>{cells}{more}</td></tr>")
        return (
            f"<div><b>{html.escape(repr(self))}</b>"
            "<table><thead><tr><th>row</th><th>closest (score)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + (f"<i>… {len(self) - shown:,} more rows</i>" if len(self) > shown else "")
            + "</div>"
        )


def knn_graph(
    space: EmbeddingSpace,
    *,
    top_k: int = 15,
    metric: Metric | None = None,
    block_rows: int | None = None,
    progress: bool = True,
    approximate: bool | None = False,
) -> KnnGraph:
    """Every row's ``top_k`` nearest rows (itself excluded) by ``metric`` (default: the space's).

    Exact by default, in blocks of ``block_rows`` rows (default 1,024), with a progress bar on
    stderr (``progress=False`` hides it).
    ``approximate=True`` asks the space's approximate index instead (built once and cached,
    see ``embscope.search.index``); ``None`` lets ``wants_approximate`` decide by the space's size.
    Exact scores are float32 from the matrix products; Euclidean distances of the chosen
    neighbours are measured again from the vectors (the expansion ``|a|² - 2a·b + |b|²``
    loses digits when norms are large).
    """
    from .index import wants_approximate

    metric = Metric.of(metric or space.metric)
    n = len(space)
    top_k = positive_int(top_k, "top_k")
    if top_k >= n:
        raise InvalidParameterError(
            f"top_k must be less than the number of rows ({n:,}), since a row is not its own "
            f"neighbour; got {top_k}"
        )
    if block_rows is not None and (not is_integer(block_rows)):
        raise InvalidParameterError(f"block_rows must be a positive integer; got {block_rows!r}")
    if block_rows is not None and not 1 <= block_rows <= MAX_BLOCK_ROWS:
        raise InvalidParameterError(
            f"block_rows must be from 1 to {MAX_BLOCK_ROWS:,} (a block's scores take at least "
            f"block_rows² x 4 bytes: 4 GiB at the maximum); got {block_rows}"
        )
    top_k = int(top_k)
    start = time.perf_counter()
    if wants_approximate(space, approximate, metric=metric):
        ids, scores = _approximate_graph(space, top_k, metric, progress)
        exact = False
    else:
        rows = min(n, int(block_rows) if block_rows is not None else _BLOCK_ROWS)
        ids, scores = _exact_graph(space, top_k, metric, rows, progress)
        exact = True
    logger.info(
        "kNN graph of %s: %s x %d by %s, %s, in %.1f s",
        space.name,
        f"{n:,}",
        top_k,
        metric,
        "exact" if exact else "approximate",
        time.perf_counter() - start,
    )
    return KnnGraph(ids=ids, scores=scores, metric=metric, keys=space.keys, approximate=not exact)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in GRAPH_FORMATS:
        raise InvalidParameterError(
            f"a kNN graph is written as {' or '.join(GRAPH_FORMATS)}; got {path.name!r}"
        )
    return suffix


# ---- exact -----------------------------------------------------------------------------------
class _Best:
    """Each row's best k entries so far, as ``ranking_keys`` (score and id in one uint64: a
    larger score is closer, ties go to the lower id), unordered until ``result``. ``floor`` is
    the k-th best score held (-inf while a row holds fewer than k)."""

    def __init__(self, n: int, k: int) -> None:
        self.k = k
        self.keys = np.full((n, k), _nb.EMPTY_KEY, dtype=np.uint64)
        self.floor = np.full(n, -np.inf, dtype=np.float32)

    def offer(self, targets: np.ndarray, block: np.ndarray, others: np.ndarray) -> None:
        """Offer ``block[i, j]`` as the score of row ``targets[i]`` with row ``others[j]``.

        Only entries at or above a target's floor can enter its list. A target that holds
        fewer than k entries takes the k-th best of its line of the block as its floor (no
        entry below it can win). The entries that pass are keyed and laid beside the target's
        held keys in a small table whose top k per row is the new list. A target with more
        than ``_CANDIDATE_CAP`` candidates (a line of ties: a zero vector's cosines are all 0)
        is selected from its whole line instead.
        """
        floors = self.floor[targets]
        weak = np.flatnonzero(floors == -np.inf)
        if len(weak):
            # the k-th best of an evenly spread sample of the line: a lower bound on its k-th
            # best, and about k x (line / sample) entries pass it
            step = max(1, block.shape[1] // (_SAMPLE_PER_K * self.k))
            sample = block[weak, ::step]
            pick = sample.shape[1] - min(self.k, sample.shape[1])
            floors[weak] = np.partition(sample, pick, axis=1)[:, pick]
        mask = block >= floors[:, None]
        if mask.flags.f_contiguous and not mask.flags.c_contiguous:
            # a transposed block (scores read down the columns): walk it in memory order, then
            # group the few candidates by target
            other, local = np.divmod(np.flatnonzero(mask.T), mask.shape[0])
            # a stable sort of 16-bit integers is a radix sort
            narrow = local.astype(np.uint16) if mask.shape[0] <= 2**16 else local
            order = np.argsort(narrow, kind="stable")
            local, column = local[order], other[order]
        else:
            local, column = np.divmod(np.flatnonzero(mask), mask.shape[1])
        if not len(local):
            return
        counts = np.bincount(local, minlength=len(targets))
        heavy = np.flatnonzero(counts > _CANDIDATE_CAP)
        if len(heavy):
            keys = _nb.ranking_keys(block[heavy], others[None, :])
            self._merge(targets[heavy], _nb.top_keys(keys, self.k))
            kept = counts[local] <= _CANDIDATE_CAP
            local, column = local[kept], column[kept]
            counts[heavy] = 0
        touched = np.flatnonzero(counts)
        if not len(touched):
            return
        # candidates come grouped by target: each one's place in its target's run
        runs = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=runs[1:])
        position = np.arange(len(local)) - runs[local]
        compact = np.zeros(len(counts), dtype=np.int64)
        compact[touched] = np.arange(len(touched))
        table = np.full((len(touched), int(counts.max())), _nb.EMPTY_KEY, dtype=np.uint64)
        table[compact[local], position] = _nb.ranking_keys(block[local, column], others[column])
        self._merge(targets[touched], table)

    def _merge(self, rows: np.ndarray, keys: np.ndarray) -> None:
        """Keep the best k of each row's held keys and the given ones."""
        best = _nb.top_keys(np.concatenate([self.keys[rows], keys], axis=1), self.k)
        self.keys[rows] = best
        self.floor[rows] = _nb.key_values(best.min(axis=1))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores), each row best first."""
        ordered = np.sort(self.keys, axis=1)[:, ::-1]
        return _nb.key_ids(ordered), _nb.key_values(ordered)


def _exact_graph(
    space: EmbeddingSpace, k: int, metric: Metric, block_rows: int, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    vectors = space.vectors
    n, dim = vectors.shape
    norms = space.norms
    inverse = _nb.inverse(norms) if metric == Metric.COSINE else None
    squares = norms.astype(np.float32) ** 2 if metric == Metric.EUCLIDEAN else None
    # columns per tile; float16 columns are cast to float32 (cosine: normalised) a tile at a time
    chunk = max(block_rows, _TILE_BYTES // (4 * block_rows))
    if vectors.dtype != np.float32 or inverse is not None:
        chunk = min(chunk, max(block_rows, _CAST_BYTES // (4 * dim)))
    buffer = np.empty(block_rows * min(n, chunk), dtype=np.float32)
    # cosine: unit-length columns, one chunk at a time (cheaper than scaling each tile)
    unit = np.empty((min(n, chunk), dim), dtype=np.float32) if inverse is not None else None
    best = _Best(n, k)
    starts = range(0, n, block_rows)
    total = sum(min(block_rows, n - s) * (n - s) for s in starts)
    with progress_bar(total, f"kNN graph of {n:,} rows", enabled=progress) as advance:
        for start in starts:
            stop = min(n, start + block_rows)
            rows = np.arange(start, stop)
            queries = np.asarray(vectors[start:stop], dtype=np.float32)
            if inverse is not None:
                queries = queries * inverse[start:stop, None]
            for first in range(start, n, chunk):
                last = min(n, first + chunk)
                scores = buffer[: (stop - start) * (last - first)].reshape(stop - start, -1)
                others = _nb.as_float32_rows(vectors, first, last)
                if unit is not None:
                    others = np.multiply(others, inverse[first:last, None], out=unit[: len(others)])
                np.matmul(queries, others.T, out=scores)
                if squares is not None:  # minus the squared distance: larger is closer
                    scores *= 2.0
                    scores -= squares[None, first:last]
                    scores -= squares[start:stop, None]
                low, high = max(start, first), min(stop, last)
                if low < high:  # a row is never its own neighbour
                    diagonal = np.arange(low, high)
                    scores[diagonal - start, diagonal - first] = -np.inf
                columns = np.arange(first, last)
                best.offer(rows, scores, columns)
                later = max(first, stop)
                if later < last:  # the same scores, read down the columns, for later rows
                    best.offer(columns[later - first :], scores[:, later - first :].T, rows)
            advance((stop - start) * (n - start))
    ids, values = best.result()
    if metric != Metric.EUCLIDEAN:
        return ids, values
    return ids, _sorted_distances(vectors, ids)


def _sorted_distances(vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Euclidean distances of each row to its chosen neighbours, measured from the vectors in
    float64; rows are re-sorted by them (ties to the lower id). ``ids`` is sorted in place."""
    n, k = ids.shape
    distances = np.empty((n, k), dtype=np.float32)
    step = max(1, _CAST_BYTES // (8 * k * vectors.shape[1]))
    for start in range(0, n, step):
        stop = min(n, start + step)
        block_ids = ids[start:stop]
        present = block_ids >= 0
        targets = np.asarray(vectors[np.where(present, block_ids, 0)], dtype=np.float64)
        sources = np.asarray(vectors[start:stop], dtype=np.float64)[:, None, :]
        exact = np.sqrt(((targets - sources) ** 2).sum(axis=2))
        exact[~present] = np.inf
        order = np.lexsort((block_ids, exact), axis=1)
        ids[start:stop] = np.take_along_axis(block_ids, order, axis=1)
        distances[start:stop] = np.take_along_axis(exact, order, axis=1)
    distances[ids < 0] = np.nan
    return distances


# ---- approximate -----------------------------------------------------------------------------
def _approximate_graph(
    space: EmbeddingSpace, k: int, metric: Metric, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each row asks the index for k + 1 rows; its own row is dropped wherever it appears (or
    the last one when it does not), the rest are scored exactly and re-sorted."""
    from .index import approximate_index

    index = approximate_index(space, metric=metric, progress=progress)
    vectors = space.vectors
    n = len(space)
    ids = np.full((n, k), -1, dtype=np.int64)
    step = 4096
    with progress_bar(n, f"approximate kNN graph of {n:,} rows", enabled=progress) as advance:
        for start in range(0, n, step):
            stop = min(n, start + step)
            found, _ = index.query(np.asarray(vectors[start:stop], dtype=np.float32), k + 1)
            rows = np.arange(start, stop)[:, None]
            keep = (found != rows) & (found >= 0)
            # keep the first k that are not the row itself
            keep &= np.cumsum(keep, axis=1) <= k
            order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
            chosen = np.take_along_axis(found, order, axis=1)
            ids[start:stop] = np.where(np.take_along_axis(keep, order, axis=1), chosen, -1)
            advance(stop - start)
    return ids, _exact_sorted_scores(space, ids, metric)


def _exact_sorted_scores(space: EmbeddingSpace, ids: np.ndarray, metric: Metric) -> np.ndarray:
    """Scores of each row with its listed neighbours, from the vectors; rows re-sorted by them
    (closest first, ties to the lower id). ``ids`` is sorted in place."""
    if metric == Metric.EUCLIDEAN:
        return _sorted_distances(space.vectors, ids)
    vectors = space.vectors
    n, k = ids.shape
    scores = np.empty((n, k), dtype=np.float32)
    inverse = _nb.inverse(space.norms) if metric == Metric.COSINE else None
    step = max(1, _CAST_BYTES // (8 * k * vectors.shape[1]))
    for start in range(0, n, step):
        stop = min(n, start + step)
        block_ids = ids[start:stop]
        present = block_ids >= 0
        safe = np.where(present, block_ids, 0)
        targets = np.asarray(vectors[safe], dtype=np.float64)
        sources = np.asarray(vectors[start:stop], dtype=np.float64)
        exact = np.einsum("ikd,id->ik", targets, sources)
        if inverse is not None:
            exact *= inverse[safe] * inverse[start:stop, None]
        exact[~present] = -np.inf
        order = np.lexsort((block_ids, -exact), axis=1)
        ids[start:stop] = np.take_along_axis(block_ids, order, axis=1)
        scores[start:stop] = np.take_along_axis(exact, order, axis=1)
    scores[ids < 0] = np.nan
    return scores
