"""Similarity kernels: scores of queries against every row, and exact top-k selection.

The matrix is never copied whole: dot products run over row blocks (float16 or memory-mapped
blocks are cast to float32 one block at a time), cosine divides by norms computed once, and
Euclidean distance comes from ``|v|² - 2 v·q + |q|²``, with the winners re-measured exactly in
float64 so the order is the true order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import InvalidParameterError

Metric = Literal["cosine", "euclidean", "dot"]
VALID_METRICS: tuple[str, ...] = ("cosine", "euclidean", "dot")

# Rows per block are chosen so that one float32 block stays near this many bytes.
_BLOCK_BYTES = 64 * 1024 * 1024


def check_metric(metric: str) -> str:
    if metric not in VALID_METRICS:
        raise InvalidParameterError(
            f"metric must be one of {', '.join(VALID_METRICS)}; got {metric!r}"
        )
    return metric


def higher_is_closer(metric: str) -> bool:
    """Cosine and dot grow with closeness; Euclidean distance shrinks."""
    return metric != "euclidean"


def _row_blocks(n_rows: int, dim: int) -> range:
    rows = max(1, _BLOCK_BYTES // max(1, dim * 4))
    return range(0, n_rows, rows)


def _as_float32_block(vectors: np.ndarray, start: int, stop: int) -> np.ndarray:
    block = vectors[start:stop]
    return block if block.dtype == np.float32 else block.astype(np.float32)


def dot_products(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T`` as float32 of shape (m, n), one row block at a time."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n, dim = vectors.shape
    if vectors.dtype == np.float32 and not isinstance(vectors, np.memmap):
        return queries @ vectors.T
    out = np.empty((queries.shape[0], n), dtype=np.float32)
    for start in _row_blocks(n, dim):
        stop = min(n, start + (_BLOCK_BYTES // max(1, dim * 4)))
        out[:, start:stop] = queries @ _as_float32_block(vectors, start, stop).T
    return out


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """L2 norm of every row, float32, computed block by block (float64 accumulation)."""
    n, dim = vectors.shape
    norms = np.empty(n, dtype=np.float32)
    step = max(1, _BLOCK_BYTES // max(1, dim * 8))
    for start in range(0, n, step):
        block = np.asarray(vectors[start : start + step], dtype=np.float64)
        norms[start : start + step] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


def scores(vectors: np.ndarray, norms: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Scores of each query (rows of ``queries``) against every row, shape (m, n).

    Cosine of a zero vector with anything is 0, never NaN.
    """
    dots = dot_products(vectors, queries)
    if metric == "dot":
        return dots
    query_norms = np.linalg.norm(queries.astype(np.float64), axis=1).astype(np.float32)
    if metric == "cosine":
        safe_rows = np.where(norms > 0, norms, 1.0).astype(np.float32)
        safe_queries = np.where(query_norms > 0, query_norms, 1.0).astype(np.float32)
        dots /= safe_rows[None, :]
        dots /= safe_queries[:, None]
        return dots
    squared = norms.astype(np.float32) ** 2
    dots *= -2.0
    dots += squared[None, :]
    dots += (query_norms**2)[:, None]
    np.maximum(dots, 0.0, out=dots)
    return np.sqrt(dots, out=dots)


def exact_scores(
    vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, metric: str
) -> np.ndarray:
    """Float64 scores of one query against a few rows: the reference the fast path is refined by."""
    candidates = np.asarray(vectors[np.sort(rows)], dtype=np.float64)
    order = np.argsort(np.argsort(rows))
    candidates = candidates[order]
    query = np.asarray(query, dtype=np.float64)
    if metric == "euclidean":
        return np.sqrt(((candidates - query) ** 2).sum(axis=1))
    dots = candidates @ query
    if metric == "dot":
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
    """Indices of the k best scores, best first, never returning an excluded row.

    Only the k winners are sorted (argpartition first), so a query costs O(n), not O(n log n).
    """
    n = row_scores.shape[0]
    work = row_scores if largest else -row_scores
    if excluded is not None and len(excluded):
        work = work.copy() if work is row_scores else work
        work[excluded] = -np.inf
    available = n - (0 if excluded is None else len(np.unique(excluded)))
    k = max(0, min(k, available))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.argpartition(work, n - k)[n - k :] if k < n else np.arange(n)
    # stable sort on (-score, row) so equal scores come in row order, as gensim's argsort does
    order = np.lexsort((candidates, -work[candidates]))
    return candidates[order]


def refined_top_k(
    vectors: np.ndarray,
    row_scores: np.ndarray,
    query: np.ndarray,
    k: int,
    metric: str,
    *,
    largest: bool,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top k rows and their float64 scores.

    The float32 pass picks a few more candidates than asked; they are re-measured in float64
    and re-sorted, so rounding in the fast pass cannot reorder near-ties.
    """
    slack = max(8, k // 4)
    candidates = top_k(row_scores, k + slack, largest=largest, excluded=excluded)
    if candidates.size == 0:
        return candidates, np.empty(0)
    exact = exact_scores(vectors, candidates, query, metric)
    key = -exact if largest else exact
    order = np.lexsort((candidates, key))[:k]
    return candidates[order], exact[order]
