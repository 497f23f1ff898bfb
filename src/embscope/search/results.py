"""What a neighbour question answers: ``Hits`` for one query, ``HitsBatch`` for several.

Both carry their fields as fields (rows, scores, keys, labels, metric, the resolved query), so
the CLI and the server read them directly; ``to_pandas()`` is the table, which keeps every
metadata column of the space: one named like a result column (``label``, ``rank``, ``key``,
``score``, ``query``) is kept as ``metadata.<name>``, the rule a Parquet export follows too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import Metric

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

RESULT_COLUMNS = ("query", "rank", "key", "label", "score")
RENAMED_PREFIX = "metadata."

# rows a notebook shows before "… N more"
_HTML_ROWS = 20
# and the queries a notebook shows of a batch
_HTML_QUERIES = 10

# A list is a near tie when its scores span less than this share of the spread (standard
# deviation) of the query's scores over every row ranked, and rows left out lie inside that span.
# Measured (search/stability.py): sentiment-space lists span under 0.01 of their spread, MiniLM
# and GloVe lists over 0.18.
NEAR_TIE_SHARE = 0.05


@dataclass(frozen=True)
class SearchScope:
    """The rows a search ranked: the first ``rows`` of its space, less ``left_out`` (the
    query's own rows and the excluded keys)."""

    rows: int
    left_out: tuple[int, ...] = ()


@dataclass(frozen=True)
class RankingStability:
    """How far apart a list's scores lie (``span``, first to last), how many rows it left out
    score inside that band below its last (``band_rows``), and the spread (standard
    deviation) of the query's scores over the ``rows_ranked``, the scale that says whether the
    span is small."""

    listed: int
    span: float
    band_rows: int
    score_spread: float
    rows_ranked: int

    @property
    def near_tie(self) -> bool:
        """Whether the listed rows are a near tie with rows left out: their order, and which of
        them are listed, turns on differences too small to trust."""
        if self.band_rows == 0:
            return False
        return self.span < NEAR_TIE_SHARE * self.score_spread or self.score_spread == 0

    def line(self) -> str:
        """``near tie: the 10 listed span 0.0012 …`` (one line, for the CLI and the page)."""
        band = (
            f"{self.band_rows:,} more row{'s' if self.band_rows != 1 else ''} "
            f"{'lies' if self.band_rows == 1 else 'lie'} inside that band"
        )
        listed = f"the {self.listed} listed span {self.span:.2g}"
        spread = f"the query's scores over {self.rows_ranked:,} rows spread {self.score_spread:.2g}"
        if self.near_tie:
            return (
                f"near tie: {listed} while {spread}, and {band}: which are listed, and in what "
                f"order, is not reliable (another seed or a float16 copy can change it)"
            )
        return f"{listed} ({spread}); {band}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "span": self.span,
            "band_rows": self.band_rows,
            "score_spread": self.score_spread,
            "rows_ranked": self.rows_ranked,
            "near_tie": self.near_tie,
            "line": self.line(),
        }


@dataclass(frozen=True)
class ResolvedQuery:
    """A query turned into a vector, with the keys (rows) that made it and their labels."""

    text: str
    keys: tuple[str, ...]
    rows: tuple[int, ...]
    vector: np.ndarray = field(repr=False)
    labels: tuple[str, ...] = ()

    @property
    def used_pieces(self) -> bool:
        """Whether the text was answered by other keys than it names as shown: a word by its
        word-start token or its pieces, a folded case (a label typed as shown is not)."""
        if len(self.keys) > 1:
            return True
        return len(self.keys) == 1 and self.text not in (self.keys[0], *self.labels[:1])

    @property
    def looked_up_as(self) -> str | None:
        """What answered the text, as a person reads it (``␣em + bed + dings``), when that is
        not the text itself; None for a key or label typed as shown, and for a vector."""
        if not self.used_pieces:
            return None
        return " + ".join(self.labels or self.keys)


@dataclass(frozen=True, repr=False)
class Hits:
    """Ranked rows for one query, best first; ``scores`` are float64 and follow ``metric``
    (for Euclidean, a distance: lower is closer). ``opposite`` marks a most-opposite list;
    ``details`` holds what a particular question adds (an analogy's method and words)."""

    rows: np.ndarray
    scores: np.ndarray
    keys: list[str]
    metric: Metric
    query: ResolvedQuery
    space: EmbeddingSpace | None = field(default=None, compare=False)
    opposite: bool = False
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    scope: SearchScope | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.of(self.metric))

    @property
    def stability(self) -> RankingStability | None:
        """How far apart the listed scores lie and how many rows left out score inside that
        band (``.near_tie`` flags a list whose order is noise). Measured once, on first use
        (a second pass over the rows unless the search kept its scores); None for lists no
        search of a space made (an analogy)."""
        if "_stability" not in self.__dict__:
            from .stability import measure

            self.remember_stability(measure(self))
        return self.__dict__["_stability"]

    def remember_stability(self, stability: RankingStability | None) -> None:
        """Keep a stability the search measured from scores it already had."""
        object.__setattr__(self, "_stability", stability)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> list[str]:
        """The rows' labels (what a person reads: ``␣king`` for ``Ġking``); the keys when the
        hits were made without their space."""
        if self.space is None:
            return list(self.keys)
        labels = self.space.labels
        return [labels[r] for r in self.rows]

    @property
    def space_name(self) -> str:
        return self.space.name if self.space is not None else ""

    @property
    def query_labels(self) -> dict[str, str]:
        """Key -> label of the rows that answered the query (``Ġking`` -> ``␣king``)."""
        if self.space is None:
            return {k: k for k in self.query.keys}
        labels = self.space.labels
        return {k: labels[r] for k, r in zip(self.query.keys, self.query.rows, strict=True)}

    def title(self) -> str:
        """``Neighbours of 'good' in glove-6b-50d (score = cosine similarity)``."""
        what = self.details.get("title") or ("Opposites" if self.opposite else "Neighbours")
        return f"{what} of {self.query.text!r} in {self.space_name} ({self.metric.meaning})"

    def to_pandas(self) -> pd.DataFrame:
        """rank, key, label, score, then every metadata column of the space (see the module
        note for names that clash). ``attrs`` repeat the query and metric for code that only
        keeps the frame."""
        import pandas as pd

        columns: dict[str, Any] = {
            "rank": np.arange(1, len(self.rows) + 1),
            "key": self.keys,
            "label": self.labels,
            "score": self.scores,
        }
        if self.space is not None:
            for column, values in self.space.metadata_arrays().items():
                name = f"{RENAMED_PREFIX}{column}" if column in RESULT_COLUMNS else column
                columns[name] = values[self.rows]
        frame = pd.DataFrame(columns)
        frame.attrs.update(
            query=self.query.text,
            query_keys=list(self.query.keys),
            query_labels=self.query_labels,
            metric=str(self.metric),
            higher_is_closer=self.metric.higher_is_closer,
            space=self.space_name,
            **{k: v for k, v in self.details.items() if k != "title"},
        )
        if self.stability is not None:
            frame.attrs["stability"] = self.stability.to_dict()
        return frame

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={s:.4f}" for k, s in zip(self.keys[:5], self.scores[:5], strict=True)
        )
        more = f", … {len(self) - 5} more" if len(self) > 5 else ""
        stability = self.stability
        tie = f"; {stability.line()}" if stability is not None and stability.near_tie else ""
        return f"<Hits for {self.query.text!r} by {self.metric}: {shown}{more}{tie}>"

    def _repr_html_(self) -> str:
        return _hits_html(self)


class HitsBatch(list):
    """The ``Hits`` of several queries, in the order asked; a list, plus one stacked table."""

    def to_pandas(self) -> pd.DataFrame:
        """Each query's table with a leading ``query`` column, stacked; ``attrs["query"]`` and
        ``attrs["query_keys"]`` are lists, one entry per query."""
        import pandas as pd

        frames = []
        for hits in self:
            frame = hits.to_pandas()
            frame.insert(0, "query", hits.query.text)
            frames.append(frame)
        stacked = pd.concat(frames, ignore_index=True)
        stacked.attrs.update(frames[0].attrs)
        stacked.attrs.update(
            query=[f.attrs["query"] for f in frames],
            query_keys=[f.attrs["query_keys"] for f in frames],
            query_labels={k: v for f in frames for k, v in f.attrs["query_labels"].items()},
        )
        if "stability" in stacked.attrs:
            stacked.attrs["stability"] = [f.attrs.get("stability") for f in frames]
        return stacked

    def __repr__(self) -> str:
        return f"<HitsBatch of {len(self)} queries: {', '.join(repr(h.query.text) for h in self)}>"

    def _repr_html_(self) -> str:
        shown = "".join(_hits_html(hits) for hits in self[:_HTML_QUERIES])
        more = len(self) - _HTML_QUERIES
        return shown + (f"<div>… {more:,} more queries</div>" if more > 0 else "")


def _hits_html(hits: Hits) -> str:
    """A table with a bar per score, scaled to the list's own range, so a notebook shows at a
    glance whether the first few stand out or all lie within a hair of each other."""
    scores = np.asarray(hits.scores, dtype=np.float64)
    low, high = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 0.0)
    spread = high - low
    rows = []
    for rank, (label, score) in enumerate(zip(hits.labels, scores, strict=True), start=1):
        if rank > _HTML_ROWS:
            break
        closeness = (score - low) / spread if spread > 0 else 1.0
        if not hits.metric.higher_is_closer:
            closeness = 1.0 - closeness
        width = 10 + 90 * closeness
        rows.append(
            f"<tr><td style='text-align:right'>{rank}</td><td>{html.escape(label)}</td>"
            f"<td style='text-align:right;font-family:monospace'>{score:.4f}</td>"
            f"<td style='width:12em'><div style='background:#4c78a8;height:0.8em;"
            f"width:{width:.0f}%'></div></td></tr>"
        )
    more = len(hits) - _HTML_ROWS
    tail = f"<tr><td></td><td colspan='3'>… {more} more</td></tr>" if more > 0 else ""
    note = hits.query.looked_up_as
    looked = f"<div><i>looked up as {html.escape(note)}</i></div>" if note else ""
    stability = hits.stability
    if stability is not None and stability.near_tie:
        looked += (
            f"<div style='color:#9a6700;background:#fff8c5;padding:2px 4px'>"
            f"{html.escape(stability.line())}</div>"
        )
    return (
        f"<div><b>{html.escape(hits.title())}</b>{looked}"
        f"<table><tr><th>rank</th><th>label</th><th>score</th><th></th></tr>"
        f"{''.join(rows)}{tail}</table></div>"
    )


__all__ = [
    "NEAR_TIE_SHARE",
    "RENAMED_PREFIX",
    "RESULT_COLUMNS",
    "Hits",
    "HitsBatch",
    "RankingStability",
    "ResolvedQuery",
    "SearchScope",
]
