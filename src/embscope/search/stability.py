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
    """The stability of ``hits`` given the query's score against each row it ranked.

    Runs after every exact search, so it stays a few passes over one float32 row of scores:
    no float64 copy, no mask of the whole vocabulary.
    """
    if hits.scope is None or len(hits) == 0:
        return None
    scores = np.asarray(row_scores)
    listed = np.asarray(hits.scores, dtype=np.float64)
    span = float(listed.max() - listed.min())
    # the band runs from the last listed score away from the best by ``span``
    best_is_high = hits.metric.higher_is_closer != hits.opposite
    last = float(listed.min() if best_is_high else listed.max())
    tolerance = _SCORE_TOLERANCE * (abs(last) + 1.0)
    left_out = np.unique(np.asarray(hits.scope.left_out, dtype=np.int64))
    left_out = left_out[left_out < len(scores)]
    known = np.union1d(left_out, np.asarray(hits.rows, dtype=np.int64))
    known = known[known < len(scores)]

    def inside(values: np.ndarray) -> int:
        if best_is_high:
            return int(np.count_nonzero(values >= last - span - tolerance))
        return int(np.count_nonzero(values <= last + span + tolerance))

    ranked = np.delete(scores, left_out) if len(left_out) else scores
    return RankingStability(
        listed=len(hits),
        span=span,
        band_rows=inside(scores) - inside(scores[known]),
        score_spread=float(ranked.std()) if len(ranked) else 0.0,
        rows_ranked=len(ranked),
    )


__all__ = ["from_scores", "measure"]
