"""The plotly figures of a space's report: its norms, norm against row rank, the variance its
principal components hold, the k-occurrence distribution (hubness) and a PCA of a sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .report import SpaceReport

# points drawn of the norm-against-rank scatter (every row of a large space would weigh MBs)
_RANK_POINTS = 5_000


def report_figures(report: SpaceReport) -> list[go.Figure]:
    from ..figures import _plotly

    go = _plotly()
    layout = {"template": "plotly_white", "height": 360, "margin": {"t": 50}}
    norms = go.Figure(go.Histogram(x=report.norms, nbinsx=80, marker_color="#4c78a8"))
    norms.update_layout(title="Norms of every row", xaxis_title="norm", **layout)

    step = max(1, len(report.norms) // _RANK_POINTS)
    ranks = np.arange(0, len(report.norms), step)
    by_rank = go.Figure(
        go.Scattergl(x=ranks, y=report.norms[ranks], mode="markers", marker={"size": 3})
    )
    by_rank.update_layout(
        title=f"Norm against row position (Spearman {report.norm_rank_spearman:+.3f})",
        xaxis_title="row (frequency rank in a frequency-ordered vocabulary)",
        yaxis_title="norm",
        **layout,
    )

    shown = report.variance_shares[:30]
    variance = go.Figure(go.Bar(x=np.arange(1, len(shown) + 1), y=shown, marker_color="#72b7b2"))
    variance.update_layout(
        title=f"Share of the variance per principal component (isotropy {report.isotropy:.3f})",
        xaxis_title="component",
        yaxis_tickformat=".0%",
        **layout,
    )

    counts = np.bincount(report.k_occurrence)
    hubness = go.Figure(go.Bar(x=np.arange(len(counts)), y=counts, marker_color="#e45756"))
    hubness.update_layout(
        title=f"k-occurrence: how many rows list a row among their {report.k} nearest "
        f"(skew {report.hubness_skew:.2f})",
        xaxis_title=f"N_{report.k}",
        yaxis_title="rows",
        yaxis_type="log",
        **layout,
    )

    points = go.Figure(
        go.Scattergl(
            x=report.projection[:, 0],
            y=report.projection[:, 1],
            mode="markers",
            text=report.projection_keys,
            hoverinfo="text",
            marker={"size": 4, "opacity": 0.6},
        )
    )
    shares = report.variance_shares
    points.update_layout(
        title=f"PCA of {len(report.projection_keys):,} sampled rows",
        xaxis_title=f"PC1 ({shares[0]:.1%} of the variance)",
        yaxis_title=f"PC2 ({shares[1]:.1%} of the variance)" if len(shares) > 1 else "",
        **layout,
    )
    return [norms, by_rank, variance, hubness, points]


__all__ = ["report_figures"]
