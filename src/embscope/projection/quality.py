"""How well a projection keeps the original space's neighbours.

Two measures, both about the ``k`` nearest neighbours of each row:

- trustworthiness (Venna & Kaski, scikit-learn's ``trustworthiness``): 1 minus a penalty for
  every projected neighbour that was not a neighbour in the original space, weighted by how
  far down the original ranking it was. 1 is perfect; random placement gives about 0.5.
- kNN recall@k: the share of each row's original ``k`` nearest neighbours that are also among
  its ``k`` nearest in the projection.

The original ranking follows the space's metric. Above ``sample_size`` rows both are averaged
over a seeded random sample of rows (each ranked against every row, so the estimate is
unbiased); at or below it they are exact and trustworthiness equals scikit-learn's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from ..errors import InvalidParameterError
from ..metrics import Metric
from ..search import kernels as _nb

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

# the bytes of one block of query rows' float32 scores against every row: bounds memory
_BLOCK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProjectionQuality:
    """``trustworthiness`` and ``knn_recall`` at ``k``, measured on ``rows_measured`` of
    ``rows`` rows, with the original ranking by ``metric``."""

    trustworthiness: float
    knn_recall: float
    k: int
    rows_measured: int
    rows: int
    metric: Metric

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        measured = (
            "all rows"
            if self.rows_measured == self.rows
            else f"{self.rows_measured:,} of {self.rows:,} rows"
        )
        return (
            f"<ProjectionQuality trustworthiness@{self.k}={self.trustworthiness:.4f}, "
            f"kNN recall@{self.k}={self.knn_recall:.4f} ({measured}, {self.metric})>"
        )

    def _repr_html_(self) -> str:
        from ..notebook_html import bar, card, escape

        measured = (
            "every row"
            if self.rows_measured == self.rows
            else f"a seeded sample of {self.rows_measured:,} of the {self.rows:,} rows"
        )
        figures = (
            (
                f"trustworthiness@{self.k}",
                self.trustworthiness,
                "1 = every projected neighbour was a neighbour in the space; random ≈ 0.5",
            ),
            (
                f"kNN recall@{self.k}",
                self.knn_recall,
                f"share of a row's {self.k} nearest in the space that stay its {self.k} nearest",
            ),
        )
        body = "".join(
            f"<tr><td style='padding:1px 8px'>{escape(name)}</td>"
            f"<td style='padding:1px 8px;font-family:monospace'>{value:.3f}</td>"
            f"<td>{bar(value, scale=1.0)}</td><td style='padding:1px 8px;color:#666'>"
            f"{escape(meaning)}</td></tr>"
            for name, value, meaning in figures
        )
        return card(
            "Projection quality",
            [("measured on", f"{measured}, neighbours by {self.metric}")],
            body=f"<table style='border-collapse:collapse'>{body}</table>",
        )


def projection_quality(
    space: EmbeddingSpace,
    rows: np.ndarray,
    coordinates: np.ndarray,
    *,
    metric: Metric,
    k: int = 10,
    sample_size: int = 1000,
    random_state: int = 0,
) -> ProjectionQuality:
    """Trustworthiness and kNN recall of ``coordinates`` (one row per entry of ``rows``)
    against the space's own vectors of those rows."""
    from scipy.spatial import cKDTree

    metric = Metric.of(metric)
    k = positive_int(k, "k")
    n = len(rows)
    if n < 3:
        raise InvalidParameterError(f"quality needs at least 3 projected rows; got {n}")
    # the trustworthiness normalisation holds for k < n / 2
    k = min(k, (n - 1) // 2)
    vectors = np.asarray(space.vectors[rows], dtype=np.float32)
    norms = _nb.row_norms(vectors)
    inverse_norms = _nb.inverse(norms)
    if n <= sample_size:
        queries = np.arange(n)
    else:
        generator = np.random.default_rng(random_state)
        queries = np.sort(generator.choice(n, size=sample_size, replace=False))
    points = np.asarray(coordinates, dtype=np.float64)
    _, found = cKDTree(points).query(points[queries], k=k + 1)
    projected = _without_self(found, queries, k)
    penalty = 0
    recalled = 0
    # query rows per block: their scores against every row stay near _BLOCK_BYTES
    block_rows = max(1, min(len(queries), _BLOCK_BYTES // (4 * n)))
    for start in range(0, len(queries), block_rows):
        block = queries[start : start + block_rows]
        scores = _nb.scores(
            vectors, vectors[block], metric, norms=norms, inverse_norms=inverse_norms
        )
        distances = -scores if metric.higher_is_closer else scores
        distances[np.arange(len(block)), block] = np.inf  # a row is not its own neighbour
        picked = np.take_along_axis(distances, projected[start : start + len(block)], axis=1)
        # each projected neighbour's rank in the original order (1 = nearest): one more than
        # the rows strictly closer, counted rather than sorted (a sort of every row's scores
        # took 35 s for a 1,000-row sample of 400,000)
        ranks = 1 + np.stack(
            [np.count_nonzero(distances < picked[:, [j]], axis=1) for j in range(k)], axis=1
        )
        penalty += int(np.clip(ranks - k, 0, None).sum())
        # a projected neighbour with fewer than k rows closer is one of the original k nearest
        recalled += int(np.count_nonzero(ranks <= k))
    measured = len(queries)
    trust = 1.0 - (penalty / measured) * 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))
    return ProjectionQuality(
        trustworthiness=float(trust),
        knn_recall=recalled / (measured * k),
        k=k,
        rows_measured=measured,
        rows=n,
        metric=metric,
    )


def _without_self(found: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The k nearest projected points of each query, the query itself removed (a duplicate
    point may come first in its place)."""
    result = np.empty((len(queries), k), dtype=np.int64)
    for i, (row, candidates) in enumerate(zip(queries, found, strict=True)):
        others = candidates[candidates != row]
        result[i] = others[:k]
    return result
