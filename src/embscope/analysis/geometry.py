"""Whole-space geometry a researcher checks first about an unfamiliar embedding matrix:
anisotropy (how much the rows share one direction), hubness (rows that turn up in everyone's
neighbour lists), and intrinsic dimension. Each works on a seeded sample of rows, so a
400,000-row space costs what a 10,000-row one does.

- Anisotropy: the mean cosine of random pairs (0 for directions spread evenly), the share of
  the variance the first principal components hold, and Mu & Viswanath's isotropy score
  (2018, "All-but-the-Top"): min over the principal directions c of Z(c) = Σ exp(c·w), divided
  by the max; 1 is perfectly isotropic. ``all_but_the_top`` is their post-processing: remove
  the mean and the top D principal directions (D = dim / 100, at least 1).
- Hubness: the k-occurrence N_k of a row (how many rows list it among their k nearest) and the
  skewness of its distribution (Radovanović et al. 2010); a few rows with large N_k are hubs,
  which make "most similar" lists of different words look alike. Offered by cosine as stored
  and by cosine after centring (removing the mean row), which reduces it.
- Intrinsic dimension: TwoNN (Facco et al. 2017), the maximum-likelihood estimate from the
  ratio of each row's second to first nearest-neighbour distance (unit rows, Euclidean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# rows scored against the sample at a time (bounded memory: block x sample float32)
_BLOCK_ROWS = 2048


def unit_rows(values: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)


def sample_rows(n: int, size: int, random_state: int) -> np.ndarray:
    """A sorted seeded sample of ``size`` row numbers (all rows when there are fewer)."""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(random_state).choice(n, size=size, replace=False))


def mean_pair_cosine(vectors: np.ndarray, pairs: int, random_state: int) -> float:
    """The mean cosine of ``pairs`` seeded random pairs of distinct rows."""
    rng = np.random.default_rng(random_state)
    n = len(vectors)
    first = rng.integers(0, n, size=pairs)
    second = (first + rng.integers(1, n, size=pairs)) % n  # never a row with itself
    a, b = unit_rows(vectors[first]), unit_rows(vectors[second])
    return float(np.einsum("ij,ij->i", a, b).mean())


@dataclass(frozen=True)
class Principal:
    """The principal directions of the (centred) rows and each one's share of the variance."""

    directions: np.ndarray  # (dim, dim), one direction per row, largest variance first
    shares: np.ndarray


def _eigen(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (largest first, never below 0) and eigenvectors (as rows) of a Gram matrix:
    a d x d problem instead of an SVD of the rows, as fast for 400 dimensions as for 50."""
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    return np.clip(values[order], 0.0, None), vectors[:, order].T


def principal(vectors: np.ndarray) -> Principal:
    centred = vectors - vectors.mean(axis=0)
    variance, directions = _eigen(centred.T @ centred)
    return Principal(directions=directions, shares=variance / variance.sum())


def isotropy(vectors: np.ndarray) -> float:
    """Mu & Viswanath's I(W) = min_c Z(c) / max_c Z(c), c over the eigenvectors of WᵀW,
    Z(c) = Σ_w exp(c·w). Computed in log space: exp of a large projection would overflow."""
    _, directions = _eigen(vectors.T @ vectors)
    projections = vectors @ directions.T  # (rows, directions)
    largest = projections.max(axis=0)
    log_z = largest + np.log(np.exp(projections - largest).sum(axis=0))
    return float(np.exp(log_z.min() - log_z.max()))


def all_but_the_top(vectors: np.ndarray, removed: int | None = None) -> np.ndarray:
    """The rows with their mean and top ``removed`` principal directions taken out (default
    dim / 100, at least 1), as Mu & Viswanath post-process word vectors."""
    removed = max(1, vectors.shape[1] // 100) if removed is None else removed
    centred = vectors - vectors.mean(axis=0)
    top = principal(centred).directions[:removed]
    return centred - (centred @ top.T) @ top


def neighbour_lists(units: np.ndarray, k: int) -> np.ndarray:
    """Each unit row's ``k`` nearest other rows by cosine, in blocks (ties: lower row first)."""
    n = len(units)
    result = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _BLOCK_ROWS):
        scores = units[start : start + _BLOCK_ROWS] @ units.T
        own = np.arange(start, min(n, start + _BLOCK_ROWS))
        scores[own - start, own] = -np.inf
        chosen = np.argpartition(-scores, k, axis=1)[:, :k]
        picked = np.take_along_axis(scores, chosen, axis=1)
        order = np.lexsort((chosen, -picked), axis=1)
        result[start : start + len(scores)] = np.take_along_axis(chosen, order, axis=1)
    return result


def k_occurrence(lists: np.ndarray, n: int) -> np.ndarray:
    """N_k: how many rows list each row among their neighbours."""
    return np.bincount(lists.ravel(), minlength=n)


def skewness(values: np.ndarray) -> float:
    """The sample skewness E[(x - mean)³] / std³ (0 for a symmetric distribution)."""
    values = np.asarray(values, dtype=np.float64)
    spread = values.std()
    if spread == 0:
        return 0.0
    return float(np.mean((values - values.mean()) ** 3) / spread**3)


def two_nn_dimension(units: np.ndarray) -> float:
    """TwoNN's estimate d = N / Σ log(r2 / r1), with r1, r2 each row's distances to its two
    nearest other rows (rows at distance 0 from their nearest are left out)."""
    n = len(units)
    ratios = np.empty(n, dtype=np.float64)
    for start in range(0, n, _BLOCK_ROWS):
        cosines = units[start : start + _BLOCK_ROWS] @ units.T
        own = np.arange(start, min(n, start + _BLOCK_ROWS))
        cosines[own - start, own] = -np.inf
        nearest = -np.partition(-cosines, 1, axis=1)[:, :2]
        distances = np.sqrt(np.clip(2.0 - 2.0 * nearest.astype(np.float64), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start : start + len(cosines)] = distances[:, 1] / distances[:, 0]
    usable = ratios[np.isfinite(ratios) & (ratios > 1.0)]
    return float(len(usable) / np.log(usable).sum()) if len(usable) else float("nan")


__all__ = [
    "Principal",
    "all_but_the_top",
    "isotropy",
    "k_occurrence",
    "mean_pair_cosine",
    "neighbour_lists",
    "principal",
    "sample_rows",
    "skewness",
    "two_nn_dimension",
    "unit_rows",
]
