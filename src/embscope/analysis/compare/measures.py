"""The numbers a comparison of two spaces reports, on plain arrays whose rows are the same keys.

Each works one block of rows at a time, so memory stays bounded by a block plus the per-row
results whatever the number of rows:

- neighbour overlap: how many of a key's ``k`` nearest keys in one space are among its ``k``
  nearest in the other (overlap@k, as a fraction of ``k``) and their Jaccard index;
- linear CKA (Kornblith et al. 2019, "Similarity of neural network representations
  revisited"): HSIC of the two linear kernels over centred rows, 1 for spaces equal up to a
  rotation and an overall scale, defined for any two widths;
- alignment: the orthogonal map of one space onto the other that least moves the rows (Schönemann
  1966; Hamilton et al. 2016 align word spaces this way), or a least-squares linear map when
  the widths differ;
- rank correlation of the similarities of a row to a sample of reference rows, per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

_BLOCK_BYTES = 64 * 1024 * 1024


def row_blocks(count: int, width: int, *, item_bytes: int = 8) -> Iterator[slice]:
    """Slices of at most ``_BLOCK_BYTES`` worth of ``width``-wide rows."""
    size = max(1, _BLOCK_BYTES // max(1, width * item_bytes))
    for start in range(0, count, size):
        yield slice(start, min(count, start + size))


def float64_rows(vectors: Any, rows: slice | np.ndarray) -> np.ndarray:
    return np.asarray(vectors[rows], dtype=np.float64)


def unit_rows(block: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; a zero row stays zero (it has no direction)."""
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)


def neighbour_overlap(ids_a: np.ndarray, ids_b: np.ndarray) -> np.ndarray:
    """For each row, how many ids its two neighbour lists share (each list holds an id once;
    -1 marks a missing neighbour and never counts)."""
    shared = np.zeros(len(ids_a), dtype=np.int64)
    width = ids_a.shape[1] + ids_b.shape[1]
    for block in row_blocks(len(ids_a), width):
        both = np.sort(np.concatenate([ids_a[block], ids_b[block]], axis=1), axis=1)
        shared[block] = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(axis=1)
    return shared


def chance_overlap(k: int, candidates: int) -> float:
    """Expected overlap@k (a fraction of k) of two lists of k drawn at random from
    ``candidates`` rows: each of one list's k is in the other with probability k / candidates."""
    return min(1.0, k / candidates) if candidates > 0 else float("nan")


def chance_jaccard(k: int, candidates: int) -> float:
    """Jaccard index of two random k-lists at their expected intersection."""
    shared = k * chance_overlap(k, candidates)
    return shared / (2 * k - shared) if k > 0 else float("nan")


def linear_cka(a: Any, b: Any) -> float:
    """Linear CKA of two row-aligned matrices (any widths): ‖BᵀA‖² / (‖AᵀA‖ ‖BᵀB‖) over
    column-centred rows, Frobenius norms, accumulated in float64 block by block."""
    return linear_cka_with_chance(a, b, None)[0]


def linear_cka_with_chance(a: Any, b: Any, permutation: np.ndarray | None) -> tuple[float, float]:
    """``linear_cka(a, b)`` and ``linear_cka(a, b[permutation])`` (NaN without one) in one
    pass: shuffling B's rows leaves both Gram matrices as they are, so only the cross product
    is measured twice."""
    n = len(a)
    mean_a = _column_mean(a)
    mean_b = _column_mean(b)
    cross = np.zeros((b.shape[1], a.shape[1]))
    shuffled_cross = np.zeros_like(cross)
    gram_a = np.zeros((a.shape[1], a.shape[1]))
    gram_b = np.zeros((b.shape[1], b.shape[1]))
    for block in row_blocks(n, a.shape[1] + 2 * b.shape[1]):
        x = float64_rows(a, block) - mean_a
        y = float64_rows(b, block) - mean_b
        cross += y.T @ x
        gram_a += x.T @ x
        gram_b += y.T @ y
        if permutation is not None:
            shuffled_cross += (float64_rows(b, permutation[block]) - mean_b).T @ x
    denominator = np.linalg.norm(gram_a) * np.linalg.norm(gram_b)
    if not denominator > 0:
        return float("nan"), float("nan")
    chance = np.linalg.norm(shuffled_cross) ** 2 / denominator if permutation is not None else None
    return (
        float(np.linalg.norm(cross) ** 2 / denominator),
        float("nan") if chance is None else float(chance),
    )


def _column_mean(vectors: Any) -> np.ndarray:
    total = np.zeros(vectors.shape[1])
    for block in row_blocks(len(vectors), vectors.shape[1]):
        total += float64_rows(vectors, block).sum(axis=0)
    return total / max(1, len(vectors))


def cross_product(
    source: Any, target: Any, *, with_gram: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """SᵀT and SᵀS, block by block: all a least-squares fit of S onto T needs (an orthogonal
    fit needs SᵀT alone: ``with_gram=False`` leaves SᵀS out, as None)."""
    st = np.zeros((source.shape[1], target.shape[1]))
    ss = np.zeros((source.shape[1], source.shape[1])) if with_gram else None
    for block in row_blocks(len(source), source.shape[1] + target.shape[1]):
        s = float64_rows(source, block)
        st += s.T @ float64_rows(target, block)
        if ss is not None:
            ss += s.T @ s
    return st, ss


def orthogonal_map(st: np.ndarray) -> np.ndarray:
    """The orthogonal W minimising ‖SW − T‖ given SᵀT: U Vᵀ of its SVD (what
    scipy.linalg.orthogonal_procrustes(S, T) returns)."""
    u, _, vt = np.linalg.svd(st)
    return u @ vt


def least_squares_map(st: np.ndarray, ss: np.ndarray) -> np.ndarray:
    """The W minimising ‖SW − T‖ given SᵀT and SᵀS (the normal equations; a pseudo-inverse
    where S's columns are dependent)."""
    return np.linalg.pinv(ss) @ st


def aligned_fit(source: Any, target: Any, mapping: np.ndarray) -> tuple[np.ndarray, float]:
    """Per row, the cosine between the mapped source row and its target row, and the relative
    residual ‖SW − T‖ / ‖T‖ of the fit."""
    cosines = np.empty(len(source))
    residual = 0.0
    total = 0.0
    for block in row_blocks(len(source), source.shape[1] + target.shape[1]):
        s = float64_rows(source, block)
        t = float64_rows(target, block)
        mapped = s @ mapping
        residual += float(((mapped - t) ** 2).sum())
        total += float((t**2).sum())
        cosines[block] = row_cosines(mapped, t)
    return cosines, (residual / total) ** 0.5 if total > 0 else float("nan")


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b`` (0 where either is zero)."""
    dots = np.einsum("ij,ij->i", a, b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def average_ranks_by_row(values: np.ndarray) -> np.ndarray:
    """Each row's ranks from 1, ties given their average rank (scipy's rankdata, axis=1)."""
    n, m = values.shape
    order = np.argsort(values, axis=1)
    ordered = np.take_along_axis(values, order, axis=1)
    positions = np.broadcast_to(np.arange(m), (n, m))
    starts = np.ones((n, m), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones((n, m), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, positions, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, positions, m)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((n, m))
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks


def row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``x`` with the same row of ``y`` (NaN for a constant row)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.einsum("ij,ij->i", x, y) / denominator, -1.0, 1.0)


__all__ = [
    "aligned_fit",
    "average_ranks_by_row",
    "chance_jaccard",
    "chance_overlap",
    "cross_product",
    "float64_rows",
    "least_squares_map",
    "linear_cka",
    "neighbour_overlap",
    "orthogonal_map",
    "row_blocks",
    "row_cosines",
    "row_pearson",
    "unit_rows",
]
