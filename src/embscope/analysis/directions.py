"""Directions defined by words: the axis from one word (or group of words) to another, every
row's position along it, and the space with that direction taken out.

TensorBoard's projector calls this a custom projection, whatlies plots words on such axes, and
the sentiment notebook is about one of them (positive against negative). For a cosine space the
geometry is that of rows scaled to length 1: the axis runs from the mean of the negative words'
unit rows to the mean of the positive ones', and a row's position along it is its cosine with
that axis. For a Euclidean or dot space rows are taken as they are and a position is the dot
product with the unit axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidParameterError
from ..metrics import Metric
from ..search.results import Hits, ResolvedQuery

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

Words = str | Sequence[str]

# rows scored at a time when a space's positions are computed (bounded memory, any size)
_BLOCK_ROWS = 65_536
# a notebook shows the variance share of spaces up to this many values (GloVe's 20M: 0.3 s)
_HTML_VARIANCE_CELLS = 2**25
# and the rows at each end of the axis among the first this many rows
_HTML_END_ROWS = 10_000
_HTML_END_COUNT = 8


@dataclass(frozen=True, repr=False)
class Direction:
    """The unit axis from the ``negative`` words to the ``positive`` ones in ``space``.

    ``vector`` has length 1 in the space's own coordinates; ``unit_rows`` says whether rows
    are scaled to length 1 before they are placed on it (a cosine space).
    """

    space: EmbeddingSpace = field(compare=False)
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    vector: np.ndarray = field(compare=False)
    unit_rows: bool
    # the difference's length before it was scaled to 1: how far apart the two ends lie
    length: float

    @property
    def name(self) -> str:
        """``good − bad``; a group reads ``good+great − bad+awful``."""
        return f"{'+'.join(self.positive)} − {'+'.join(self.negative)}"

    def positions(
        self, rows: np.ndarray | None = None, *, of: EmbeddingSpace | None = None
    ) -> np.ndarray:
        """The position along the axis of every row (or of ``rows``), float64, in row order;
        ``of`` places the rows of another space of the same width (a subset, a neighbourhood,
        a space aligned onto this one) on this axis."""
        space = self.space if of is None else of
        if space.dim != len(self.vector):
            raise InvalidParameterError(
                f"the direction {self.name} has {len(self.vector)} dimensions; {space.name} "
                f"has {space.dim}"
            )
        vectors = space.vectors
        chosen = np.arange(len(space)) if rows is None else np.asarray(rows, np.int64)
        result = np.empty(len(chosen), dtype=np.float64)
        for start in range(0, len(chosen), _BLOCK_ROWS):
            block = chosen[start : start + _BLOCK_ROWS]
            values = np.asarray(vectors[block], dtype=np.float64)
            if self.unit_rows:
                values = _unit(values)
            result[start : start + len(block)] = values @ self.vector
        return result

    def position(self, word: str) -> float:
        """Where ``word`` lies along the axis (positive: towards the positive words)."""
        resolved = self.space.resolve(word)
        value = np.asarray(resolved.vector, dtype=np.float64)
        if self.unit_rows:
            value = _unit(value[None])[0]
        return float(value @ self.vector)

    def scores(self, *, restrict_vocab: int | None = None) -> Hits:
        """Every row (or the first ``restrict_vocab``) by its position along the axis, the
        positive end first: ``to_pandas()`` is the table, ``keys[:10]`` and ``keys[-10:]``
        the two ends."""
        n = self.space.rows_scored(restrict_vocab)
        values = self.positions(np.arange(n))
        order = np.lexsort((np.arange(n), -values))
        keys = self.space.keys
        resolved = [self.space.resolve(word) for word in (*self.positive, *self.negative)]
        defining = tuple(key for item in resolved for key in item.keys)
        rows = tuple(row for item in resolved for row in item.rows)
        return Hits(
            rows=order,
            scores=values[order],
            keys=[keys[r] for r in order],
            metric=Metric.COSINE if self.unit_rows else Metric.DOT,
            query=ResolvedQuery(self.name, defining, rows, self.vector.astype(np.float32)),
            space=self.space,
            details={"title": "Positions along the axis", "direction": self.name},
        )

    def variance_share(self, *, of: EmbeddingSpace | None = None) -> float:
        """The share of the rows' total variance that lies along the axis (unit rows in a
        cosine space): how much of the space this meaning accounts for. No axis holds more
        than PCA's first component; ``of`` measures another space's rows, as ``positions``."""
        space = self.space if of is None else of
        total = total_variance(space, unit_rows=self.unit_rows)
        return float(self.positions(of=space).var() / total) if total > 0 else 0.0

    def __repr__(self) -> str:
        geometry = "unit rows" if self.unit_rows else "rows as stored"
        return f"<Direction {self.name} in {self.space.name!r} ({geometry})>"

    def _repr_html_(self) -> str:
        """The axis's words and geometry, its share of the variance (for a space of up to
        ``_HTML_VARIANCE_CELLS`` values; a larger one would be read whole), and the rows at
        both ends among the first ``_HTML_END_ROWS``."""
        from ..notebook_html import bar, card, escape

        geometry = "unit rows (cosine)" if self.unit_rows else "rows as stored (dot product)"
        rows = [
            ("space", self.space.name),
            ("positive end", ", ".join(self.positive)),
            ("negative end", ", ".join(self.negative)),
            ("geometry", geometry),
            ("distance between the ends", f"{self.length:.4g}"),
        ]
        if len(self.space) * self.space.dim <= _HTML_VARIANCE_CELLS:
            rows.append(("share of the variance", f"{self.variance_share():.1%}"))
        else:
            rows.append(("share of the variance", "variance_share() (reads every row)"))
        n = min(len(self.space), _HTML_END_ROWS)
        ranked = self.scores(restrict_vocab=n)
        count = min(_HTML_END_COUNT, len(ranked) // 2)
        scale = float(np.max(np.abs(ranked.scores))) if len(ranked) else 0.0
        labels = self.space.labels

        def column(rows_: np.ndarray, scores: np.ndarray) -> str:
            return "".join(
                f"<tr><td style='padding:0 6px'>{escape(labels[int(r)])}</td>"
                f"<td style='padding:0 6px;font-family:monospace;text-align:right'>{s:+.3f}</td>"
                f"<td>{bar(float(s), scale=scale, width_em=6)}</td></tr>"
                for r, s in zip(rows_, scores, strict=True)
            )

        ends = (
            f"<div style='margin-top:4px'>Both ends among the first {n:,} rows:</div>"
            "<div style='display:flex;gap:2em'>"
            f"<table>{column(ranked.rows[:count], ranked.scores[:count])}</table>"
            f"<table>{column(ranked.rows[::-1][:count], ranked.scores[::-1][:count])}</table>"
            "</div>"
        )
        return card(f"Direction {self.name}", rows, body=ends if count else "")


def direction(space: EmbeddingSpace, positive: Words, negative: Words) -> Direction:
    """The axis from ``negative`` to ``positive`` (a word, or a list of words whose mean
    stands for the end); see the module note for the geometry."""
    positive_words, negative_words = _words(positive, "positive"), _words(negative, "negative")
    both = set(positive_words) & set(negative_words)
    if both:
        raise InvalidParameterError(
            f"{', '.join(sorted(both))} stand(s) at both ends of the direction; give each word "
            "to one end"
        )
    unit_rows = Metric.of(space.metric) is Metric.COSINE

    def end(words: tuple[str, ...]) -> np.ndarray:
        # resolved as any query is: a word-start token, a folded case; a split word refused
        values = np.stack([space.resolve(word).vector for word in words]).astype(np.float64)
        return (_unit(values) if unit_rows else values).mean(axis=0)

    difference = end(positive_words) - end(negative_words)
    length = float(np.linalg.norm(difference))
    if not length > 0:
        raise InvalidParameterError(
            f"{' '.join(positive_words)} and {' '.join(negative_words)} have the same vector "
            f"in {space.name}: they define no direction"
        )
    difference /= length
    difference.flags.writeable = False
    return Direction(
        space=space,
        positive=positive_words,
        negative=negative_words,
        vector=difference,
        unit_rows=unit_rows,
        length=length,
    )


def total_variance(space: EmbeddingSpace, *, unit_rows: bool) -> float:
    """The sum of the per-dimension variances of every row (scaled to length 1 first when
    ``unit_rows``), in blocks, float64: the denominator of a variance share."""
    n = len(space)
    if n == 0:
        return 0.0
    sums = np.zeros(space.dim, dtype=np.float64)
    squares = 0.0
    vectors = space.vectors
    for start in range(0, n, _BLOCK_ROWS):
        block = np.asarray(vectors[start : start + _BLOCK_ROWS], dtype=np.float64)
        if unit_rows:
            block = _unit(block)
        sums += block.sum(axis=0)
        squares += float(np.einsum("ij,ij->", block, block))
    mean = sums / n
    return max(squares / n - float(mean @ mean), 0.0)


def _words(words: Words, name: str) -> tuple[str, ...]:
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, Sequence) or not all(isinstance(w, str) for w in words):
        raise InvalidParameterError(f"{name} must be a word or a list of words; got {words!r}")
    unique = tuple(dict.fromkeys(words))
    if not unique:
        raise InvalidParameterError(f"{name} must name at least one word")
    return unique


def _unit(values: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)


__all__ = ["Direction", "direction", "total_variance"]
