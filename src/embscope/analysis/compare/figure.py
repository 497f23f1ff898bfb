"""A comparison drawn: the overlap@k distribution and a joint projection of both spaces.

The joint projection places a seeded sample of shared keys twice, A's row and B's row mapped
onto A, with one PCA fitted on both sets together, so the two positions of a key are
comparable; a key that moved is a long line between them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._checks import integer_at_least, positive_int
from ...errors import MissingDependencyError
from . import measures

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .comparison import Comparison

COLORS = ("#1f77b4", "#ff7f0e")


@dataclass(frozen=True)
class JointLayout:
    """2-D positions of a sample of shared keys in A (``coords_a``) and of the same keys' rows
    from B mapped onto A (``coords_b``); ``moved`` marks the most moved keys among them."""

    keys: list[str]
    labels: list[str]
    coords_a: np.ndarray
    coords_b: np.ndarray
    moved: np.ndarray
    explained: tuple[float, float]


def joint_layout(
    comparison: Comparison, *, sample: int = 2_000, moved: int = 20, random_state: int = 0
) -> JointLayout:
    """One PCA of A's rows and B's aligned rows of ``sample`` shared keys (seeded; the ``moved``
    most moved keys always among them). Cosine comparisons project unit rows."""
    sample = integer_at_least(sample, "sample", 2)
    moved = integer_at_least(moved, "moved", 0)
    shared = comparison.shared
    n = len(shared.keys)
    most_moved = comparison.moved_order()[: min(moved, n)]
    rng = np.random.default_rng(random_state)
    others = np.setdiff1d(np.arange(n), most_moved)
    extra = rng.choice(
        others, size=min(len(others), max(0, sample - len(most_moved))), replace=False
    )
    chosen = np.sort(np.concatenate([most_moved, extra]))
    a = shared.vectors_a[chosen].astype(np.float64)
    b = shared.vectors_b[chosen].astype(np.float64)
    if comparison.alignment.unit_rows:
        a, b = measures.unit_rows(a), measures.unit_rows(b)
    b = b @ comparison.alignment.mapping
    both = np.vstack([a, b])
    centred = both - both.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    labels = comparison.a.labels
    return JointLayout(
        keys=[shared.keys[i] for i in chosen],
        labels=[labels[shared.rows_a[i]] for i in chosen],
        coords_a=coords[: len(chosen)],
        coords_b=coords[len(chosen) :],
        moved=np.isin(chosen, most_moved),
        explained=(float(explained[0]), float(explained[1])),
    )


def comparison_figure(
    comparison: Comparison, *, moved: int = 20, sample: int = 2_000, random_state: int = 0
) -> go.Figure:
    """See ``Comparison.figure``."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise MissingDependencyError("plotly", extra="viz", purpose="figures") from None
    moved = positive_int(moved, "moved")
    summary = comparison.summary()
    k = comparison.top_k
    layout = joint_layout(comparison, sample=sample, moved=moved, random_state=random_state)
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        subplot_titles=(
            f"shared neighbours in the top {k} (mean overlap {summary.overlap:.3f}, "
            f"chance {summary.overlap_chance:.3f})",
            f"joint PCA: {summary.space_a} and {summary.space_b} aligned ({summary.alignment})",
        ),
    )
    counts = np.bincount(comparison.overlap, minlength=k + 1)
    figure.add_trace(
        go.Bar(
            x=np.arange(k + 1),
            y=counts,
            marker_color="#4c78a8",
            name="keys",
            showlegend=False,
            hovertemplate="%{y:,} keys share %{x} neighbours<extra></extra>",
        ),
        row=1,
        col=1,
    )
    line_x: list[Any] = []
    line_y: list[Any] = []
    for i in np.flatnonzero(layout.moved):
        line_x += [layout.coords_a[i, 0], layout.coords_b[i, 0], None]
        line_y += [layout.coords_a[i, 1], layout.coords_b[i, 1], None]
    figure.add_trace(
        go.Scatter(
            x=line_x,
            y=line_y,
            mode="lines",
            line={"color": "#999999", "width": 1},
            name=f"{int(layout.moved.sum())} most moved",
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    hover = [html.escape(label) for label in layout.labels]
    for name, coords, color in (
        (summary.space_a, layout.coords_a, COLORS[0]),
        (f"{summary.space_b} (aligned)", layout.coords_b, COLORS[1]),
    ):
        figure.add_trace(
            go.Scattergl(
                x=coords[:, 0],
                y=coords[:, 1],
                mode="markers",
                marker={"color": color, "size": 4, "opacity": 0.6},
                name=name,
                text=hover,
                hovertemplate="<b>%{text}</b><extra>" + html.escape(name) + "</extra>",
            ),
            row=1,
            col=2,
        )
    marked = np.flatnonzero(layout.moved)
    figure.add_trace(
        go.Scatter(
            x=layout.coords_a[marked, 0],
            y=layout.coords_a[marked, 1],
            mode="text",
            text=[layout.labels[i] for i in marked],
            textposition="top center",
            textfont={"size": 10},
            showlegend=False,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    figure.update_xaxes(title_text=f"shared neighbours of {k}", row=1, col=1)
    figure.update_yaxes(title_text="keys", row=1, col=1)
    figure.update_xaxes(title_text=f"PC1 ({layout.explained[0]:.0%})", row=1, col=2)
    figure.update_yaxes(title_text=f"PC2 ({layout.explained[1]:.0%})", row=1, col=2)
    figure.update_layout(title=summary.line(), template="plotly_white", height=560)
    return figure


__all__ = ["JointLayout", "comparison_figure", "joint_layout"]
