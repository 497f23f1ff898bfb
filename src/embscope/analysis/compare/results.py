"""What a comparison reports: ``ComparisonSummary`` (the figures and their chance levels) and
``SideBySide`` (one word's neighbours in both spaces)."""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ...metrics import Metric

if TYPE_CHECKING:
    import pandas as pd

    from ...search.results import Hits


@dataclass(frozen=True)
class ComparisonSummary:
    """The comparison's figures. Each ``*_chance`` is the figure for two spaces that share
    nothing but their keys: overlap and Jaccard for random neighbour lists, CKA, residual and
    aligned cosine measured with B's rows shuffled among the keys; for the Spearman figures
    chance is 0."""

    space_a: str
    space_b: str
    shared_keys: int
    only_a: int
    only_b: int
    composed_keys: int
    metric: Metric
    top_k: int
    overlap: float
    overlap_chance: float
    jaccard: float
    jaccard_chance: float
    similarity_spearman: float
    similarity_pvalue: float
    pairs: int
    reference_spearman: float
    cka: float
    cka_chance: float
    alignment: str
    fitted_on: int
    dims: tuple[int, int]
    residual: float
    residual_chance: float
    aligned_cosine: float
    aligned_cosine_chance: float

    def figures(self) -> list[tuple[str, float, float, str]]:
        """(figure, value, chance, what it measures), in the order a reader wants them."""
        k = self.top_k
        fit = f"{self.alignment} map of B onto A, fitted on {self.fitted_on:,} keys"
        if self.alignment == "least-squares":
            fit += f" (widths differ: {self.dims[1]} -> {self.dims[0]}, so not a rotation)"
        return [
            (f"overlap@{k}", self.overlap, self.overlap_chance,
             f"share of a key's top {k} by {self.metric} found in both spaces"),
            (f"jaccard@{k}", self.jaccard, self.jaccard_chance,
             "Jaccard index of the two top lists"),
            ("similarity spearman", self.similarity_spearman, 0.0,
             f"Spearman of the {self.pairs:,} sampled pairs' similarities in A and in B"),
            ("per-key spearman", self.reference_spearman, 0.0,
             "mean Spearman of a key's similarities to the reference keys, A against B"),
            ("linear CKA", self.cka, self.cka_chance,
             "1 = the same geometry up to rotation and scale"),
            ("procrustes residual", self.residual, self.residual_chance,
             f"|BW - A| / |A| of the {fit}; 0 = a perfect fit"),
            ("aligned cosine", self.aligned_cosine, self.aligned_cosine_chance,
             "mean cosine of a key's row in A and its aligned row from B"),
        ]  # fmt: skip

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame(self.figures(), columns=["figure", "value", "chance", "meaning"])
        frame.attrs.update({k: v for k, v in asdict(self).items() if k != "metric"})
        frame.attrs["metric"] = str(self.metric)
        return frame

    def coverage(self) -> str:
        """``30,522 shared keys (0 only in A, 0 only in B)``."""
        line = (
            f"{self.shared_keys:,} shared keys ({self.only_a:,} only in {self.space_a}, "
            f"{self.only_b:,} only in {self.space_b})"
        )
        if self.composed_keys:
            line += f"; {self.composed_keys:,} of them composed from B's pieces"
        return line

    def line(self) -> str:
        """The comparison in one line."""
        return (
            f"{self.space_a} vs {self.space_b}: {self.shared_keys:,} shared keys, "
            f"overlap@{self.top_k} {self.overlap:.3f} (chance {self.overlap_chance:.3f}), "
            f"similarity spearman {_number(self.similarity_spearman)}, "
            f"CKA {_number(self.cka)} (chance {_number(self.cka_chance)}), "
            f"{self.alignment} residual {_number(self.residual)}"
        )

    def __str__(self) -> str:
        rows = [f"{self.space_a} vs {self.space_b}: {self.coverage()}"]
        width = max(len(name) for name, *_ in self.figures())
        for name, value, chance, meaning in self.figures():
            rows.append(
                f"  {name:<{width}}  {_number(value):>7}  (chance {_number(chance)})  {meaning}"
            )
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(name)}</td>"
            f"<td style='text-align:right;font-family:monospace'>{_number(value)}</td>"
            f"<td style='text-align:right;font-family:monospace;color:#777'>{_number(chance)}"
            f"</td><td>{html.escape(meaning)}</td></tr>"
            for name, value, chance, meaning in self.figures()
        )
        return (
            f"<div><b>{html.escape(self.space_a)} vs {html.escape(self.space_b)}</b>"
            f"<div>{html.escape(self.coverage())}</div><table><tr><th>figure</th>"
            f"<th>value</th><th>chance</th><th></th></tr>{body}</table></div>"
        )


def _number(value: float) -> str:
    return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.3f}"


def pair_names(name_a: str, name_b: str) -> tuple[str, str]:
    """The two spaces' names as a comparison heads them: two spaces of one name (a model and
    its float16 copy, one checkpoint's two matrices) read ``name (A)`` and ``name (B)``."""
    if name_a == name_b:
        return f"{name_a} (A)", f"{name_b} (B)"
    return name_a, name_b


@dataclass(frozen=True, repr=False)
class SideBySide:
    """One word's neighbours in A and in B, best first; ``shared`` are the keys both lists
    hold. ``name_a`` / ``name_b`` (default: the spaces' names) head the two columns."""

    word: str
    a: Hits
    b: Hits
    name_a: str = ""
    name_b: str = ""

    def __post_init__(self) -> None:
        names = pair_names(self.a.space_name, self.b.space_name)
        object.__setattr__(self, "name_a", self.name_a or names[0])
        object.__setattr__(self, "name_b", self.name_b or names[1])

    @property
    def shared(self) -> set[str]:
        return set(self.a.keys) & set(self.b.keys)

    def to_pandas(self) -> pd.DataFrame:
        """rank, then A's key, label, score and whether B's list holds it, then the same for
        B (a shorter list is padded with empty cells)."""
        import pandas as pd

        shared = self.shared
        columns: dict[str, list[Any]] = {"rank": list(range(1, max(len(self.a), len(self.b)) + 1))}
        for side, hits in (("a", self.a), ("b", self.b)):
            pad = len(columns["rank"]) - len(hits)
            columns[f"key_{side}"] = [*hits.keys, *[None] * pad]
            columns[f"label_{side}"] = [*hits.labels, *[None] * pad]
            columns[f"score_{side}"] = [*hits.scores.tolist(), *[math.nan] * pad]
            columns[f"in_both_{side}"] = [*(k in shared for k in hits.keys), *[False] * pad]
        return pd.DataFrame(columns)

    def title(self) -> str:
        what = "Opposites" if self.a.opposite else "Neighbours"
        return (
            f"{what} of {self.word!r}: {self.name_a} | {self.name_b} "
            f"({len(self.shared)} of {len(self.a)} in both, {self.a.metric.meaning})"
        )

    def stability_notes(self) -> list[str]:
        """A line for each side whose list is a near tie (``Hits.stability``)."""
        notes = []
        for name, hits in ((self.name_a, self.a), (self.name_b, self.b)):
            stability = hits.stability
            if stability is not None and stability.near_tie:
                notes.append(f"{name}: {stability.line()}")
        return notes

    def __repr__(self) -> str:
        return f"<SideBySide {self.title()}>"

    def __str__(self) -> str:
        frame = self.to_pandas()
        width_a, width_b = (
            max([len(str(v)) for v in frame[column] if v is not None] + [4])
            for column in ("label_a", "label_b")
        )
        lines = [self.title()]
        for row in frame.itertuples():
            left = _cell(row.label_a, row.score_a, row.in_both_a, width_a)
            right = _cell(row.label_b, row.score_b, row.in_both_b, width_b)
            lines.append(f"{row.rank:>3}  {left}   {right}")
        lines.append("* in both lists")
        lines.extend(self.stability_notes())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        frame = self.to_pandas()
        rows = "".join(
            f"<tr><td>{row.rank}</td>{_html_cell(row.label_a, row.score_a, row.in_both_a)}"
            f"{_html_cell(row.label_b, row.score_b, row.in_both_b)}</tr>"
            for row in frame.itertuples()
        )
        return (
            f"<div><b>{html.escape(self.title())}</b><table><tr><th>rank</th>"
            f"<th>{html.escape(self.name_a)}</th><th>score</th>"
            f"<th>{html.escape(self.name_b)}</th><th>score</th></tr>{rows}</table>"
            "<i>bold: in both lists</i>"
            + "".join(f"<div>{html.escape(note)}</div>" for note in self.stability_notes())
            + "</div>"
        )


def _cell(label: str | None, score: float, shared: bool, width: int) -> str:
    if label is None:
        return " " * (width + 10)
    mark = "*" if shared else " "
    return f"{mark}{label:<{width}} {score:7.4f}"


def _html_cell(label: str | None, score: float, shared: bool) -> str:
    if label is None:
        return "<td></td><td></td>"
    text = html.escape(label)
    text = f"<b>{text}</b>" if shared else text
    return f"<td>{text}</td><td style='font-family:monospace'>{score:.4f}</td>"


__all__ = ["ComparisonSummary", "SideBySide", "pair_names"]
