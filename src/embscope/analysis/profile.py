"""Cosine and Euclidean side by side: how the two metrics rank the same rows for one query.

For unit vectors ``|a - b|² = 2 - 2 cos(a, b)``, so both metrics order rows alike; the gap
between the two rankings comes entirely from the rows' norms, which the profile shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from ..errors import InvalidParameterError
from .statistics import spearman

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace, PiecesMode, Query


@dataclass(frozen=True)
class DistanceProfile:
    """Every row's cosine similarity and Euclidean distance to one query.

    ``table`` has row, key, label, norm, cosine, euclidean, cosine_rank, euclidean_rank (rank 1 =
    closest, ties in row order), sorted by cosine. ``overlap`` counts the keys in both
    top-``top_k`` lists; ``rank_correlation`` is the Spearman correlation of cosine and
    Euclidean distance over all rows (ties at their average rank; NaN when either is constant).
    """

    query: str
    query_keys: tuple[str, ...]
    top_k: int
    table: pd.DataFrame
    overlap: int
    rank_correlation: float

    @property
    def top_cosine(self) -> list[str]:
        return self.table.nsmallest(self.top_k, "cosine_rank")["key"].tolist()

    @property
    def top_euclidean(self) -> list[str]:
        return self.table.nsmallest(self.top_k, "euclidean_rank")["key"].tolist()

    def to_pandas(self) -> pd.DataFrame:
        return self.table

    def figure(self) -> Any:
        """The two panels of ``embscope.figures.distance_profile`` (a plotly figure)."""
        from ..figures import distance_profile

        return distance_profile(self)

    def summary(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "rows": len(self.table),
            "top_k": self.top_k,
            "overlap": self.overlap,
            "overlap_share": self.overlap / self.top_k if self.top_k else 0.0,
            "rank_correlation": self.rank_correlation,
        }

    def __repr__(self) -> str:
        return (
            f"<DistanceProfile of {self.query!r}: {self.overlap}/{self.top_k} shared in the top "
            f"{self.top_k}, rank correlation {self.rank_correlation:.3f}>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        heading = (
            f"<p>Distance profile of <b>{escape(self.query)}</b>: {self.overlap} of the top "
            f"{self.top_k} by cosine are also in the top {self.top_k} by Euclidean distance; "
            f"Spearman rank correlation {self.rank_correlation:.3f}.</p>"
        )
        return heading + self.table.head(self.top_k).to_html(index=False)


def distance_profile(
    space: EmbeddingSpace, query: Query, *, top_k: int = 15, pieces: PiecesMode = "error"
) -> DistanceProfile:
    """Cosine and Euclidean to every row of ``space`` for ``query``, the query's rows left out."""
    import pandas as pd

    top_k = positive_int(top_k, "top_k")
    resolved = space.resolve(query, pieces=pieces)
    if not np.any(resolved.vector):
        # every cosine would be 0: the cosine ranking, and so its correlation, would be noise
        raise InvalidParameterError(
            f"{resolved.text!r} is a zero vector: it has no direction, so cosine ranks nothing"
        )
    cosine = space.scores(resolved.vector, metric="cosine")[0].astype(np.float64)
    euclidean = space.scores(resolved.vector, metric="euclidean")[0].astype(np.float64)
    keep = np.ones(len(space), dtype=bool)
    keep[list(resolved.rows)] = False
    rows = np.flatnonzero(keep)
    cosine, euclidean = cosine[rows], euclidean[rows]
    cosine_rank = _ranks(-cosine, rows)
    euclidean_rank = _ranks(euclidean, rows)
    labels = space.labels
    table = pd.DataFrame(
        {
            "row": rows,
            "key": [space.keys[r] for r in rows],
            "label": [labels[r] for r in rows],
            "norm": space.norms[rows].astype(np.float64),
            "cosine": cosine,
            "euclidean": euclidean,
            "cosine_rank": cosine_rank,
            "euclidean_rank": euclidean_rank,
        }
    )
    table = table.sort_values("cosine_rank", kind="stable", ignore_index=True)
    k = min(int(top_k), len(rows))
    overlap = int(np.count_nonzero((cosine_rank <= k) & (euclidean_rank <= k)))
    # the rank columns break ties by row so that every row has a place in the lists; the
    # correlation gives tied rows their average rank instead, as scipy's spearmanr does
    correlation = spearman(-cosine, euclidean) if len(rows) > 1 else 1.0
    return DistanceProfile(
        query=resolved.text,
        query_keys=resolved.keys,
        top_k=k,
        table=table,
        overlap=overlap,
        rank_correlation=correlation,
    )


def _ranks(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """1-based ranks, ascending values first, ties in row order."""
    order = np.lexsort((rows, values))
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks
