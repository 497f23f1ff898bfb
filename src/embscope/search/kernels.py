"""Similarity kernels: scores of queries against every row, and exact top-k selection.

The matrix is never copied whole: dot products run over row blocks (float16 or memory-mapped
blocks are cast to float32 one block at a time, or, for a few queries, read as float16 by
usearch's SIMD kernels when ``embscope[ann]`` is installed), cosine divides by norms computed
once, and Euclidean distance comes from ``|v|² - 2 v·q + |q|²``, with the winners re-measured
exactly in float64 so the order is the true order.

Matrices stored as bfloat16 (numpy has no such type) come as ``BFloat16Rows``: the raw 16-bit
patterns, memory-mapped, that read as float32 a block at a time (a bfloat16 is the upper half
of a float32, so the widening is exact); every kernel here takes them where it takes an array.

``ranking_keys`` and ``top_keys`` select the best k of many rows at once (the kNN graph).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import candidate_count
from ..errors import InvalidParameterError
from ..metrics import METRIC_NAMES, Metric

# the names, kept here for readers that imported them from the kernels
VALID_METRICS = METRIC_NAMES

# Rows per block are chosen so that one float32 block stays near this many bytes; bfloat16
# rows are widened in smaller blocks, so that reading a memory-mapped matrix once adds little
# to the pages of the file itself.
_BLOCK_BYTES = 64 * 1024 * 1024
_BFLOAT16_BLOCK_BYTES = 8 * 1024 * 1024


def query_matrix(queries: object, dim: int) -> np.ndarray:
    """Query vectors as a float32 (m, dim) matrix; one vector (dim,) becomes one row."""
    matrix = np.asarray(queries, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise InvalidParameterError(
            f"query vectors must have {dim} columns; got shape {matrix.shape}"
        )
    return matrix


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values, given as their uint16 bit patterns, as float32 (exact: a bfloat16 is
    the upper half of a float32)."""
    wide = np.asarray(bits, dtype=np.uint16).astype(np.uint32)
    wide <<= np.uint32(16)
    return wide.view(np.float32)


class BFloat16Rows:
    """An (n, d) matrix stored as bfloat16, read as float32.

    numpy has no bfloat16, so the matrix is kept as its raw uint16 bits (``bits``, typically a
    read-only memory map of the weight file) and widened only where it is read: indexing
    (``rows[i]``, ``rows[a:b]``, ``rows[[i, j]]``, ``rows[i, j]``) returns read-only float32
    values for the rows asked for, and ``np.asarray(rows)`` converts the whole matrix, a float32
    copy twice the stored size, which the kernels here never make. ``dtype`` is float32, the
    type rows read as; ``stored_dtype`` is ``"bfloat16"`` and ``nbytes`` the stored size.
    """

    stored_dtype = "bfloat16"
    dtype = np.dtype(np.float32)
    itemsize = 4
    ndim = 2

    def __init__(self, bits: np.ndarray) -> None:
        # a plain ndarray view of a memmap, as EmbeddingSpace keeps float arrays
        bits = np.asarray(bits)
        if bits.dtype != np.uint16 or bits.ndim != 2:
            raise InvalidParameterError(
                "bfloat16 rows must be a 2-D uint16 array of bit patterns; "
                f"got {bits.ndim}-D {bits.dtype}"
            )
        if bits.flags.writeable:
            bits = bits.view()
            bits.flags.writeable = False
        self.bits = bits

    @property
    def shape(self) -> tuple[int, int]:
        return self.bits.shape

    @property
    def size(self) -> int:
        return self.bits.size

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes

    def __len__(self) -> int:
        return len(self.bits)

    def __getitem__(self, index: Any) -> np.ndarray:
        values = bfloat16_to_float32(self.bits[index])
        values.flags.writeable = False
        return values

    def __iter__(self) -> Any:
        for row in range(len(self)):
            yield self[row]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("bfloat16 rows cannot be read as an array without a copy")
        whole = np.empty(self.shape, dtype=np.float32)
        step = _block_rows(self)
        for start in range(0, len(self), step):
            whole[start : start + step] = bfloat16_to_float32(self.bits[start : start + step])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def astype(self, dtype: Any) -> np.ndarray:
        """The whole matrix as an array of ``dtype`` (a copy)."""
        return np.asarray(self, dtype=dtype)

    def __repr__(self) -> str:
        n, d = self.shape
        return f"<BFloat16Rows {n:,} x {d} (read as float32)>"


#: What the kernels read: an array (float32, float16, possibly memory-mapped) or bfloat16 rows.
Rows = np.ndarray | BFloat16Rows


def first_rows(vectors: Rows, count: int) -> Rows:
    """The first ``count`` rows without reading them: a view of an array, or bfloat16 rows
    (slicing ``BFloat16Rows`` reads, and widens, the rows)."""
    if isinstance(vectors, BFloat16Rows):
        return vectors if count >= len(vectors) else BFloat16Rows(vectors.bits[:count])
    return vectors[:count]


def _block_rows(vectors: Rows, value_bytes: int = 4) -> int:
    """Rows per block, so that one block widened to ``value_bytes`` per value stays near the
    block budget."""
    budget = _BFLOAT16_BLOCK_BYTES if isinstance(vectors, BFloat16Rows) else _BLOCK_BYTES
    return max(1, budget // max(1, vectors.shape[1] * value_bytes))


def as_float32_rows(vectors: Rows, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` as float32: a view of float32 rows, a cast copy of float16 ones, a
    widened copy of bfloat16 ones."""
    block = vectors[start:stop]
    return block if block.dtype == np.float32 else block.astype(np.float32)


def dot_products(vectors: Rows, queries: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T`` as float32 of shape (m, n), one row block at a time."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n = len(vectors)
    if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
        return queries @ vectors.T  # BLAS reads it in place, memory-mapped or not
    out = np.empty((queries.shape[0], n), dtype=np.float32)
    if _float16_scan(vectors, queries, out):
        return out
    step = _block_rows(vectors)
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[:, start:stop] = queries @ as_float32_rows(vectors, start, stop).T
    return out


# Up to this many queries, float16 rows are scanned by usearch's kernels (one pass per query);
# more share one float32 cast of each block and a matrix product.
_FLOAT16_SCAN_QUERIES = 8
_FLOAT16_MAX = 65504.0
_SCAN_METRICS = {"cosine": "cos", "dot": "ip", "euclidean": "l2sq"}


def _float16_search(vectors: Rows, queries: np.ndarray) -> Any:
    """usearch's exact ``search`` when it can scan these float16 rows for these queries, else
    None: usearch (``embscope[ann]``) missing, float32 rows, too many queries for one pass
    each, or a query too large for float16."""
    if (
        vectors.dtype != np.float16
        or len(queries) > _FLOAT16_SCAN_QUERIES
        or not vectors.flags.c_contiguous
        or len(vectors) == 0
        or not np.all(np.abs(queries) <= _FLOAT16_MAX)
    ):
        return None
    try:
        from usearch.index import search
    except ImportError:
        return None
    return search


def _float16_scan(vectors: Rows, queries: np.ndarray, out: np.ndarray) -> bool:
    """Dot products of a few queries with float16 rows, by usearch's SIMD kernels, which read
    float16 as it is stored: numpy casts float16 to float32 at about 1.5 ns a number, over ten
    times slower than reading the matrix. The kernels take the query in float16 too, so these
    scores carry the query's float16 rounding (about 1e-3 relative); callers that rank
    re-measure their winners exactly (``refined_top_k``). False, leaving ``out`` alone, when
    the scan does not apply (see ``_float16_search``).
    """
    search = _float16_search(vectors, queries)
    if search is None:
        return False
    n = len(vectors)
    for i, query in enumerate(queries):
        matches = search(vectors, query.astype(np.float16), n, "ip", exact=True, threads=0)
        # usearch's inner-product distance is 1 - x·q
        out[i, np.asarray(matches.keys, dtype=np.int64)] = 1.0 - matches.distances
    return True


def scan_candidates(
    vectors: Rows, queries: np.ndarray, count: int, metric: Metric
) -> np.ndarray | None:
    """Rows of the ``count`` closest rows to each query, (m, count) int64, closest first, -1
    where there are fewer: one pass of usearch's SIMD kernels over float16 rows, which stops
    at the bandwidth bound where full scores (``dot_products``) also sort every row.

    The query is rounded to float16 for the pass, so rows near the last place may come in
    another order than exact search gives: ask for a few more than needed and re-measure them
    (``exact_scores``). None when the scan does not apply (float32 rows, usearch missing, more
    than a few queries): score every row instead.
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    search = _float16_search(vectors, queries)
    if search is None:
        return None
    count = min(int(count), len(vectors))
    rows = np.full((len(queries), count), -1, dtype=np.int64)
    for i, query in enumerate(queries):
        matches = search(
            vectors, query.astype(np.float16), count, _SCAN_METRICS[metric], exact=True
        )
        found = np.asarray(matches.keys, dtype=np.int64)
        rows[i, : len(found)] = found
    return rows


def non_finite_rows(vectors: Rows) -> np.ndarray:
    """Rows holding a NaN or an infinity, ascending.

    One matrix-vector product finds the candidates (a NaN or an infinity makes a row's sum
    non-finite, and BLAS reads the matrix at memory speed: 5 ms for GloVe's 400,000 rows);
    each candidate is then checked value by value, since a sum of huge finite values can
    also overflow.
    """
    n, dim = vectors.shape
    ones = np.ones(dim, dtype=np.float32)
    # small blocks: this runs on every load, and a float16 or bfloat16 block is widened into
    # a copy (8 MiB blocks cost nothing in speed: the pass is bound by reading the matrix)
    step = max(1, _BFLOAT16_BLOCK_BYTES // max(1, dim * 4))
    candidates = []
    for start in range(0, n, step):
        block = np.asarray(vectors[start : start + step], dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            sums = block @ ones
        candidates.extend(start + np.flatnonzero(~np.isfinite(sums)))
        del block  # a widened block is freed before the next one is made
    return np.asarray(
        [row for row in candidates if not np.isfinite(vectors[row]).all()], dtype=np.int64
    )


def row_norms(vectors: Rows) -> np.ndarray:
    """L2 norm of every row, float32, computed block by block (float64 accumulation)."""
    n = len(vectors)
    norms = np.empty(n, dtype=np.float32)
    step = _block_rows(vectors, 8)
    for start in range(0, n, step):
        block = np.asarray(vectors[start : start + step], dtype=np.float64)
        norms[start : start + step] = np.sqrt(np.einsum("ij,ij->i", block, block))
        del block
    return norms


def inverse(norms: np.ndarray) -> np.ndarray:
    """1 / norm for every row, 0 for zero rows: multiplying by it gives zero rows cosine 0."""
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, 1.0 / safe, 0.0).astype(np.float32)


def scores(
    vectors: Rows,
    queries: np.ndarray,
    metric: Metric,
    *,
    norms: np.ndarray,
    inverse_norms: np.ndarray,
) -> np.ndarray:
    """Scores of each query (rows of ``queries``) against every row, shape (m, n).

    ``norms`` and ``inverse_norms`` (see ``inverse``) are the rows' own, computed once per
    space. Cosine of a zero vector with anything is 0, never NaN.
    """
    queries = np.asarray(queries, dtype=np.float32)
    query_norms = np.linalg.norm(queries.astype(np.float64), axis=1)
    if metric == Metric.COSINE:
        # unit queries first, so the full-length pass is one multiplication per row
        scale = np.where(query_norms > 0, 1.0 / np.where(query_norms > 0, query_norms, 1.0), 0.0)
        dots = dot_products(vectors, queries * scale[:, None].astype(np.float32))
        dots *= inverse_norms[None, :]
        return dots
    dots = dot_products(vectors, queries)
    if metric == Metric.DOT:
        return dots
    dots *= -2.0
    dots += (norms.astype(np.float32) ** 2)[None, :]
    dots += (query_norms.astype(np.float32) ** 2)[:, None]
    np.maximum(dots, 0.0, out=dots)
    return np.sqrt(dots, out=dots)


def exact_scores(vectors: Rows, rows: np.ndarray, query: np.ndarray, metric: Metric) -> np.ndarray:
    """Float64 scores of one query against a few rows: the reference the fast path is refined by."""
    candidates = np.asarray(vectors[rows], dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    if metric == Metric.EUCLIDEAN:
        return np.sqrt(((candidates - query) ** 2).sum(axis=1))
    dots = candidates @ query
    if metric == Metric.DOT:
        return dots
    norms = np.linalg.norm(candidates, axis=1)
    query_norm = np.linalg.norm(query)
    denominator = np.where(norms > 0, norms, 1.0) * (query_norm if query_norm > 0 else 1.0)
    return dots / denominator


def top_k(
    row_scores: np.ndarray,
    k: int,
    *,
    largest: bool,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the k best scores, best first (equal scores: the lower row first), never
    returning an excluded row.

    Only the winners are sorted (a partition first, see ``_best_candidates``), so a query
    costs O(n), not O(n log n); excluded rows are dropped from a slightly larger pick rather
    than masked in a copy.
    """
    n = row_scores.shape[0]
    excluded = np.unique(excluded) if excluded is not None else np.empty(0, dtype=np.int64)
    k = max(0, min(k, n - len(excluded)))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    pick = min(n, k + len(excluded))
    candidates = np.arange(n) if pick == n else _best_candidates(row_scores, pick, largest)
    if len(excluded):
        # a handful of candidates: a set lookup beats np.isin's sorting machinery
        dropped = set(excluded.tolist())
        candidates = candidates[[row not in dropped for row in candidates.tolist()]]
    ranking = -row_scores[candidates] if largest else row_scores[candidates]
    # ties come in row order, as gensim's argsort gives them
    order = np.lexsort((candidates, ranking))[:k]
    return candidates[order]


# From this many rows on, top_k first sets a threshold from a sample of the scores.
_SAMPLED_SELECTION_ROWS = 65_536


def _best_candidates(row_scores: np.ndarray, pick: int, largest: bool) -> np.ndarray:
    """The ``pick`` best rows, in no order; among rows tied with the last of them, the lowest.

    A long row is not partitioned whole: the ``pick``-th best of an evenly spread sample of
    about sqrt(pick x n) scores is a threshold that the ``pick`` best all reach, and one
    comparison pass keeps the few thousand rows that reach it (the pool).
    """
    n = row_scores.shape[0]
    pool = None
    sample_size = int(2 * np.sqrt(pick * n))
    if n >= _SAMPLED_SELECTION_ROWS and 4 * sample_size <= n:
        sample = row_scores[:: n // sample_size]
        if largest:
            threshold = np.partition(sample, len(sample) - pick)[len(sample) - pick]
            pool = np.flatnonzero(row_scores >= threshold)
        else:
            threshold = np.partition(sample, pick - 1)[pick - 1]
            pool = np.flatnonzero(row_scores <= threshold)
        if len(pool) > 4 * sample_size:  # a row of ties: partition it whole
            pool = None
    values = row_scores if pool is None else row_scores[pool]
    if largest:
        last = np.partition(values, len(values) - pick)[len(values) - pick]
        better = np.flatnonzero(values > last)
    else:
        last = np.partition(values, pick - 1)[pick - 1]
        better = np.flatnonzero(values < last)
    tied = np.flatnonzero(values == last)[: pick - len(better)]
    chosen = np.concatenate([better, tied])
    return chosen if pool is None else pool[chosen]


def refined_top_k(
    vectors: Rows,
    row_scores: np.ndarray,
    query: np.ndarray,
    k: int,
    metric: Metric,
    *,
    largest: bool,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top k rows and their float64 scores.

    The float32 pass picks a few more candidates than asked; they are re-measured in float64
    and re-sorted, so rounding in the fast pass cannot reorder near-ties.
    """
    candidates = top_k(row_scores, candidate_count(k), largest=largest, excluded=excluded)
    if candidates.size == 0:
        return candidates, np.empty(0)
    exact = exact_scores(vectors, candidates, query, metric)
    key = -exact if largest else exact
    order = np.lexsort((candidates, key))[:k]
    return candidates[order], exact[order]


# ---- many rows at once: selection by (score, row) keys ----------------------------------------
# A row id that holds no neighbour: its key loses to every real entry of equal score.
NO_ROW = 0xFFFFFFFF
_SIGN = np.uint32(0x80000000)


def ranking_keys(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """uint64 keys that order (value, id) pairs: a larger value gives a larger key, and equal
    values order by id, the lower id first (larger key), as ``top_k`` breaks ties.

    The float32 value's bits are mapped to an unsigned integer of the same order and placed
    above the inverted id, so pairs with distinct ids never tie and a plain ``partition`` of
    the keys picks a deterministic top k, which ``key_values`` and ``key_ids`` read back.
    Ids must lie in [0, 2**32 - 1]; ``NO_ROW`` marks an empty slot (value -inf).
    """
    # adding +0.0 turns -0.0 into 0.0, so the two zeros rank as one value
    bits = (np.asarray(values, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    # negative floats: flip every bit; positive: flip the sign bit
    bits ^= (bits >> np.uint32(31)) * np.uint32(0x7FFFFFFF) | _SIGN
    keys = bits.astype(np.uint64) << np.uint64(32)
    keys |= np.uint64(NO_ROW) - np.asarray(ids).astype(np.uint64)
    return keys


EMPTY_KEY = ranking_keys(np.float32(-np.inf), NO_ROW)


def key_values(keys: np.ndarray) -> np.ndarray:
    """The float32 values ``ranking_keys`` encoded."""
    bits = (np.asarray(keys) >> np.uint64(32)).astype(np.uint32)
    # keys of non-negative values have the sign bit set: flip it back; the rest were inverted
    bits ^= (np.uint32(1) - (bits >> np.uint32(31))) * np.uint32(0x7FFFFFFF) | _SIGN
    return bits.view(np.float32)


def key_ids(keys: np.ndarray) -> np.ndarray:
    """The row ids ``ranking_keys`` encoded, int64; -1 for an empty slot."""
    ids = (np.uint64(NO_ROW) - (np.asarray(keys) & np.uint64(NO_ROW))).astype(np.int64)
    ids[ids == NO_ROW] = -1
    return ids


def top_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """The k largest keys of each row (m, w), in no particular order (fewer if w < k)."""
    width = keys.shape[1]
    if k >= width:
        return keys
    return np.partition(keys, width - k, axis=1)[:, width - k :]
