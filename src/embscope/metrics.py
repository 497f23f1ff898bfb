"""The three ways embscope measures closeness, as one type every module shares.

``Metric`` is a ``StrEnum``: ``Metric.COSINE == "cosine"``, so a metric read from a file, a
request or a DataFrame's attrs compares and serialises as the plain word users type, while code
that holds a ``Metric`` asks it questions (``higher_is_closer``) instead of comparing strings.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from .errors import InvalidParameterError


class Metric(StrEnum):
    COSINE = "cosine"
    EUCLIDEAN = "euclidean"
    DOT = "dot"

    @classmethod
    def of(cls, value: object) -> Metric:
        """``value`` as a Metric; a one-line error listing the choices for anything else."""
        if isinstance(value, Metric):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise InvalidParameterError(
            f"metric must be one of {', '.join(METRIC_NAMES)}; got {value!r}"
        )

    @property
    def higher_is_closer(self) -> bool:
        """Cosine and dot grow with closeness; Euclidean distance shrinks."""
        return self is not Metric.EUCLIDEAN

    @property
    def is_distance(self) -> bool:
        return self is Metric.EUCLIDEAN

    @property
    def needs_direction(self) -> bool:
        """Whether a zero vector is meaningless as a query: it has no direction, so every row
        scores 0 by cosine and by dot."""
        return self is not Metric.EUCLIDEAN

    @property
    def meaning(self) -> str:
        """How a table's ``score`` column reads under this metric."""
        return _MEANINGS[self]

    def best_first(self, scores: np.ndarray) -> np.ndarray:
        """Values that sort ascending in the order of closeness (negated when higher is
        closer), for ``np.argsort`` / ``np.lexsort``."""
        return -scores if self.higher_is_closer else scores


METRIC_NAMES: tuple[str, ...] = tuple(metric.value for metric in Metric)

_MEANINGS = {
    Metric.COSINE: "score = cosine similarity",
    Metric.EUCLIDEAN: "score = Euclidean distance, lower is closer",
    Metric.DOT: "score = dot product",
}

__all__ = ["METRIC_NAMES", "Metric"]
