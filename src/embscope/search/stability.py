"""How trustworthy a neighbour list's ranking is: how far apart its listed scores lie, and how
many rows it left out score inside that same band.

A 16-d sentiment space answers "horrible" with ten words whose cosines span 0.001 while its
scores over the vocabulary spread 0.9; dozens of unlisted words sit inside that band, so which
ten are listed (and in what order) changes with the training seed. MiniLM's "king" or GloVe's
"frog" lists span a sizeable part of their spread: their order means something. The rule
(``NEAR_TIE_SHARE``) was set on those cases: every sentiment-space list measured spans under
1/100 of its spread, every MiniLM and GloVe list above 1/6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .results import RankingStability

if TYPE_CHECKING:
    from .results import Hits

# float32 row scores against the float64 listed ones: a row tied with the last listed one must
# count as inside the band although its float32 score rounds a hair below it
_SCORE_TOLERANCE = 1e-6


def measure(hits: Hits) -> RankingStability | None:
    """Score every row the search ranked once more, then ``from_scores``; None for hits not
    made by a search of a space (an analogy, a hand-made list)."""
    if hits.space is None or hits.scope is None or len(hits) == 0:
        return None
    row_scores = hits.space.scores(
        hits.query.vector, metric=hits.metric, restrict_vocab=hits.scope.rows
    )[0]
    return from_scores(hits, row_scores)


def from_scores(hits: Hits, row_scores: np.ndarray) -> RankingStability | None:
    """The stability of ``hits`` given the query's score against each row it ranked."""
    if hits.scope is None or len(hits) == 0:
        return None
    # closeness ascending: the best listed row has the lowest value, the cut the highest
    sign = -1.0 if hits.opposite else 1.0
    closeness = sign * hits.metric.best_first(np.asarray(row_scores, dtype=np.float64))
    listed = sign * hits.metric.best_first(np.asarray(hits.scores, dtype=np.float64))
    cut, span = float(listed.max()), float(listed.max() - listed.min())
    ranked = np.ones(len(closeness), dtype=bool)
    left_out = np.asarray(hits.scope.left_out, dtype=np.int64)
    ranked[left_out[left_out < len(ranked)]] = False
    unlisted = ranked.copy()
    listed_rows = np.asarray(hits.rows, dtype=np.int64)
    unlisted[listed_rows[listed_rows < len(unlisted)]] = False
    tolerance = _SCORE_TOLERANCE * (abs(cut) + 1.0)
    band_rows = int(np.count_nonzero(closeness[unlisted] <= cut + span + tolerance))
    spread = float(closeness[ranked].std()) if ranked.any() else 0.0
    return RankingStability(
        listed=len(hits),
        span=span,
        band_rows=band_rows,
        score_spread=spread,
        rows_ranked=int(np.count_nonzero(ranked)),
    )


__all__ = ["from_scores", "measure"]
