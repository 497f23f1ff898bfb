"""k-nearest-neighbour classification: the k closest labelled points vote on a query's label.

Ties are settled the same way every time: neighbours at equal distance come in row order (the
lower row is nearer), and labels with equally many votes are ranked by their nearest
neighbour, so a tied vote goes to the label of the closest point among the tied labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from ..errors import InvalidParameterError
from ..metrics import Metric
from ..search import kernels as _nb
from ..space import EmbeddingSpace

if TYPE_CHECKING:
    import pandas as pd

KNN_METRICS: tuple[str, ...] = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class KNNClassification:
    """The vote of the ``k`` nearest labelled points on one query.

    ``label`` is the winner; ``votes`` the (label, count) pairs, most votes first (equal counts:
    the label with the nearer neighbour first); ``tied`` the labels that shared the most votes
    (more than one when the tie rule decided). ``rows``, ``keys`` (None for plain points),
    ``neighbor_labels`` and ``distances`` describe the neighbours, nearest first; distances are
    Euclidean, or cosine distances (1 - cosine) with ``metric="cosine"``.
    """

    label: Any
    votes: tuple[tuple[Any, int], ...]
    tied: tuple[Any, ...]
    k: int
    metric: Metric
    query: str
    rows: np.ndarray
    keys: tuple[str, ...] | None
    neighbor_labels: tuple[Any, ...]
    distances: np.ndarray

    @property
    def vote_counts(self) -> dict[Any, int]:
        return dict(self.votes)

    @property
    def neighbors(self) -> pd.DataFrame:
        """The k neighbours, nearest first: rank, row, key (spaces only), label, distance."""
        import pandas as pd

        columns: dict[str, Any] = {"rank": np.arange(1, len(self.rows) + 1), "row": self.rows}
        if self.keys is not None:
            columns["key"] = list(self.keys)
        columns["label"] = list(self.neighbor_labels)
        columns["distance"] = self.distances
        frame = pd.DataFrame(columns)
        frame.attrs.update(query=self.query, metric=self.metric, predicted=self.label, k=self.k)
        return frame

    def to_pandas(self) -> pd.DataFrame:
        return self.neighbors

    def _repr_html_(self) -> str:
        from html import escape

        counts = ", ".join(f"{label}: {count}" for label, count in self.votes)
        caption = f"{self.query} → {self.label} (k={self.k}, {self.metric}; votes {counts})"
        return f"<p><b>{escape(caption)}</b></p>" + self.neighbors.to_html(index=False)

    def __repr__(self) -> str:
        counts = ", ".join(f"{label!r}: {count}" for label, count in self.votes)
        return (
            f"<KNNClassification {self.query!r} -> {self.label!r} by {self.k} nearest "
            f"({self.metric}); votes {{{counts}}}>"
        )


def knn_classify(
    data: EmbeddingSpace | np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[Any] | str,
    query: str | Sequence[float] | np.ndarray,
    *,
    k: int = 3,
    metric: Metric = "euclidean",
) -> KNNClassification:
    """Classify ``query`` by the majority label of its ``k`` nearest points.

    ``data`` is an EmbeddingSpace or an (n, d) array of points; ``labels`` gives one label per
    point, or names a metadata column of the space. ``query`` is a vector, or a key of the space
    (its own row then does not vote). ``metric`` is ``"euclidean"`` or ``"cosine"``.
    """
    if metric not in KNN_METRICS:
        raise InvalidParameterError(
            f"metric must be one of {', '.join(KNN_METRICS)} for kNN classification; got {metric!r}"
        )
    positive_int(k, "k")
    k = int(k)
    if isinstance(data, EmbeddingSpace):
        label_values = _space_labels(data, labels)
        if len(data) - (1 if isinstance(query, str) else 0) < k:
            raise InvalidParameterError(_too_few(k, len(data), isinstance(query, str)))
        hits = data.search(query, top_k=k, metric=metric, approximate=False)
        rows, scores = hits.rows, hits.scores
        keys: tuple[str, ...] | None = tuple(hits.keys)
        query_text = hits.query.text
    else:
        if isinstance(query, str):
            raise InvalidParameterError(
                f"query {query!r} is a key, which needs an EmbeddingSpace; with an array of "
                "points, give the query as a vector"
            )
        points = _points(data)
        label_values = _sequence_labels(labels, len(points))
        if len(points) < k:
            raise InvalidParameterError(_too_few(k, len(points), False))
        vector = np.asarray(query, dtype=np.float64)
        if vector.shape != (points.shape[1],):
            raise InvalidParameterError(
                f"query must be a vector of shape ({points.shape[1]},); got shape {vector.shape}"
            )
        norms = _nb.row_norms(points)
        row_scores = _nb.scores(
            points, vector[None, :], metric, norms=norms, inverse_norms=_nb.inverse(norms)
        )[0]
        rows, scores = _nb.refined_top_k(
            points, row_scores, vector, k, metric, largest=metric == Metric.COSINE
        )
        keys = None
        query_text = "<vector>"
    distances = 1.0 - scores if metric == Metric.COSINE else scores
    neighbor_labels = tuple(_plain(label_values[row]) for row in rows.tolist())
    votes = _votes(neighbor_labels)
    tied = tuple(label for label, count in votes if count == votes[0][1])
    return KNNClassification(
        label=votes[0][0],
        votes=votes,
        tied=tied,
        k=k,
        metric=metric,
        query=query_text,
        rows=np.asarray(rows, dtype=np.int64),
        keys=keys,
        neighbor_labels=neighbor_labels,
        distances=np.asarray(distances, dtype=np.float64),
    )


def _votes(neighbor_labels: tuple[Any, ...]) -> tuple[tuple[Any, int], ...]:
    counts: dict[Any, int] = {}
    for label in neighbor_labels:  # nearest first, so dict order is "nearest member first"
        counts[label] = counts.get(label, 0) + 1
    ranked = sorted(enumerate(counts.items()), key=lambda item: (-item[1][1], item[0]))
    return tuple(pair for _, pair in ranked)


def _space_labels(space: EmbeddingSpace, labels: Sequence[Any] | str) -> Sequence[Any]:
    if isinstance(labels, str):
        columns = space.metadata_arrays()
        if labels not in columns:
            shown = ", ".join(map(repr, columns)) or "none"
            raise InvalidParameterError(
                f"labels names the metadata column {labels!r}, which {space.name} lacks; "
                f"its columns: {shown}"
            )
        return columns[labels]
    return _sequence_labels(labels, len(space))


def _sequence_labels(labels: Sequence[Any] | str, count: int) -> Sequence[Any]:
    if isinstance(labels, str):
        raise InvalidParameterError(
            "labels must be one label per point; a column name works only with an EmbeddingSpace"
        )
    values = labels if isinstance(labels, np.ndarray) else list(labels)
    if len(values) != count:
        raise InvalidParameterError(
            f"labels must have one entry per point: {len(values)} labels for {count} points"
        )
    return values


def _points(data: Any) -> np.ndarray:
    points = np.asarray(data)
    if points.ndim != 2 or points.shape[0] == 0:
        raise InvalidParameterError(
            f"points must be a non-empty 2-D array (points x dimensions); got shape {points.shape}"
        )
    if not np.issubdtype(points.dtype, np.floating):
        points = points.astype(np.float64)
    return points


def _too_few(k: int, count: int, leaves_one_out: bool) -> str:
    voters = count - 1 if leaves_one_out else count
    return f"k must be at most the number of points that can vote ({voters}); got {k}"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
