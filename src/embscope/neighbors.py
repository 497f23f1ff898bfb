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
    if vectors.dtype == np.float32:  # BLAS reads it in place, memory-mapped or not
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


def inverse(norms: np.ndarray) -> np.ndarray:
    """1 / norm for every row, 0 for zero rows: multiplying by it gives zero rows cosine 0."""
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, 1.0 / safe, 0.0).astype(np.float32)


def scores(
    vectors: np.ndarray,
    queries: np.ndarray,
    metric: str,
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
    if metric == "cosine":
        # unit queries first, so the full-length pass is one multiplication per row
        scale = np.where(query_norms > 0, 1.0 / np.where(query_norms > 0, query_norms, 1.0), 0.0)
        dots = dot_products(vectors, queries * scale[:, None].astype(np.float32))
        dots *= inverse_norms[None, :]
        return dots
    dots = dot_products(vectors, queries)
    if metric == "dot":
        return dots
    dots *= -2.0
    dots += (norms.astype(np.float32) ** 2)[None, :]
    dots += (query_norms.astype(np.float32) ** 2)[:, None]
    np.maximum(dots, 0.0, out=dots)
    return np.sqrt(dots, out=dots)


def exact_scores(
    vectors: np.ndarray, rows: np.ndarray, query: np.ndarray, metric: str
) -> np.ndarray:
    """Float64 scores of one query against a few rows: the reference the fast path is refined by."""
    candidates = np.asarray(vectors[rows], dtype=np.float64)
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

    Only the winners are sorted (argpartition first), so a query costs O(n), not O(n log n);
    excluded rows are dropped from a slightly larger pick rather than masked in a copy.
    """
    n = row_scores.shape[0]
    excluded = np.unique(excluded) if excluded is not None else np.empty(0, dtype=np.int64)
    k = max(0, min(k, n - len(excluded)))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    pick = min(n, k + len(excluded))
    if pick == n:
        candidates = np.arange(n)
    elif largest:
        candidates = np.argpartition(row_scores, n - pick)[n - pick :]
    else:
        candidates = np.argpartition(row_scores, pick - 1)[:pick]
    if len(excluded):
        # a handful of candidates: a set lookup beats np.isin's sorting machinery
        dropped = set(excluded.tolist())
        candidates = candidates[[row not in dropped for row in candidates.tolist()]]
    ranking = -row_scores[candidates] if largest else row_scores[candidates]
    # ties come in row order, as gensim's argsort gives them
    order = np.lexsort((candidates, ranking))[:k]
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
