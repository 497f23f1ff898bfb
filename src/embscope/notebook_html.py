"""What a notebook shows for a result: the pieces its ``_repr_html_`` is built from.

Every fragment is self-contained (inline styles and SVG, nothing fetched; Colab aside, below),
escapes every text it did not write itself (a key can hold ``<script>``), and stays bounded
in size whatever the size of the result: tables show their first rows, figures a seeded
sample of points.

Plotly figures (``figure_html``, a projection's ``_repr_html_``) carry plotly.js in the first
figure a kernel session shows and refer to it afterwards, as plotly's own offline ``notebook``
renderer does: the notebook works offline and without any Jupyter extension (JupyterLab,
Notebook, VS Code, an HTML export), and holds plotly.js (about 4.7 MB) once, not once per
figure. (Colab shows every output in a frame of its own: there each figure loads plotly.js
from plotly's CDN, as plotly's Colab renderer does.) A figure shown after the output that
carried it was cleared and the page reloaded says so in place of a blank box;
``reset_plotlyjs()`` makes the next figure carry it again.
"""

from __future__ import annotations

import html
import json
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from .projection import Projection
    from .space import EmbeddingSpace

#: rows a notebook table shows before "… N more rows"
TABLE_ROWS = 20
#: points a projection draws in a notebook (a seeded sample above it; ``figure()`` draws more)
NOTEBOOK_POINTS = 10_000
#: pixel height of a plotly figure in a notebook
FIGURE_HEIGHT = 520

BLUE = "#4c78a8"
ORANGE = "#f58518"
RED = "#d62728"
GREY = "#777"
_CARD_STYLE = "font-family:sans-serif;font-size:13px;line-height:1.35;max-width:60em"
_CELL = "padding:1px 8px;text-align:left;vertical-align:top"
_CAUTION_STYLE = "color:#9a6700;background:#fff8c5;padding:2px 6px;margin:4px 0"

# whether this kernel session has shown a figure carrying plotly.js
_plotlyjs_sent = False


def escape(value: Any) -> str:
    """``value`` as text, safe inside HTML (quotes too)."""
    return html.escape(str(value), quote=True)


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card(title: str, rows: Sequence[tuple[str, str]], *, body: str = "") -> str:
    """A titled two-column table of facts; ``title`` and the rows are plain text (escaped
    here), ``body`` is HTML appended below (already escaped by its maker)."""
    cells = "".join(
        f"<tr><th style='{_CELL};color:#555;font-weight:normal'>{escape(name)}</th>"
        f"<td style='{_CELL}'>{escape(value)}</td></tr>"
        for name, value in rows
    )
    return (
        f"<div style='{_CARD_STYLE}'><div style='font-weight:bold;margin-bottom:2px'>"
        f"{escape(title)}</div><table style='border-collapse:collapse'>{cells}</table>"
        f"{body}</div>"
    )


def caution(text: str) -> str:
    """A highlighted line (a near tie, a ranking that is not evidence)."""
    return f"<div style='{_CAUTION_STYLE}'>{escape(text)}</div>"


def table(frame: pd.DataFrame, *, rows: int = TABLE_ROWS, caption: str | None = None) -> str:
    """The first ``rows`` rows of ``frame`` as an HTML table (cells escaped, floats to four
    significant digits), then how many more there are."""
    shown = frame.head(rows)
    more = len(frame) - len(shown)
    head = f"<div style='margin:6px 0 2px 0'><b>{escape(caption)}</b></div>" if caption else ""
    tail = f"<div style='color:{GREY}'>… {more:,} more rows</div>" if more > 0 else ""
    body = shown.to_html(index=False, escape=True, float_format=lambda v: f"{v:.4g}", border=0)
    return head + body + tail


def bar(value: float, *, scale: float, colour: str = BLUE, width_em: float = 10) -> str:
    """A horizontal bar of ``value / scale`` of ``width_em`` (negative values to the left,
    red): the score bars of neighbour lists and of positions along an axis."""
    share = 0.0 if scale <= 0 or not np.isfinite(value) else min(1.0, abs(value) / scale)
    fill = RED if value < 0 else colour
    return (
        f"<div style='width:{width_em}em;height:0.8em;background:#eee'>"
        f"<div style='width:{100 * share:.0f}%;height:100%;background:{fill}'></div></div>"
    )


# ---- small SVG charts (no JavaScript: they render in any notebook viewer) ------------------
def line_chart(
    x: Sequence[float],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    marker: float | None = None,
    marker_label: str = "",
    width: int = 320,
    height: int = 190,
) -> str:
    """Lines of ``series`` (name, values, colour; a name ending in "(val)" is dashed) over
    ``x``, with a dashed vertical line at ``marker``."""
    xs = np.asarray(x, dtype=np.float64)
    ys = [np.asarray(values, dtype=np.float64) for _, values, _ in series]
    finite = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.zeros(0)
    left, right, top, bottom = 46, 10, 34, 26
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.05)
    low, high = low - pad, high + pad
    x0, x1 = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1

    def px(value: float) -> float:
        return left + (value - x0) / (x1 - x0) * (width - left - right)

    def py(value: float) -> float:
        return top + (high - value) / (high - low) * (height - top - bottom)

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' style='font-family:sans-serif;font-size:10px'>",
        f"<text x='{left}' y='12' font-size='12' font-weight='bold'>{escape(title)}</text>",
        f"<rect x='{left}' y='{top}' width='{width - left - right}' "
        f"height='{height - top - bottom}' fill='none' stroke='#ccc'/>",
    ]
    for value in (low + pad, (low + high) / 2, high - pad):
        parts.append(
            f"<text x='{left - 4}' y='{py(value) + 3:.1f}' text-anchor='end' fill='{GREY}'>"
            f"{value:.3g}</text>"
        )
    ticks = sorted({x0, x1} | ({float(marker)} if marker is not None else set()))
    for value in ticks:
        parts.append(
            f"<text x='{px(value):.1f}' y='{height - 10}' text-anchor='middle' fill='{GREY}'>"
            f"{value:g}</text>"
        )
    if marker is not None:
        parts.append(
            f"<line x1='{px(marker):.1f}' x2='{px(marker):.1f}' y1='{top}' "
            f"y2='{height - bottom}' stroke='{GREY}' stroke-dasharray='3,3'/>"
        )
        if marker_label:
            # beside the line, on the side with room
            right_half = px(marker) > (left + width - right) / 2
            anchor, shift = ("end", -3) if right_half else ("start", 3)
            parts.append(
                f"<text x='{px(marker) + shift:.1f}' y='{top + 10}' text-anchor='{anchor}' "
                f"fill='{GREY}'>{escape(marker_label)}</text>"
            )
    legend_x = left
    for (name, _, colour), values in zip(series, ys, strict=True):
        dash = " stroke-dasharray='5,3'" if name.endswith("(val)") else ""
        ok = np.isfinite(values)
        points = " ".join(
            f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs[ok], values[ok], strict=True)
        )
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.6'{dash}/>"
        )
        if ok.sum() <= 40:
            parts.extend(
                f"<circle cx='{px(a):.1f}' cy='{py(b):.1f}' r='2' fill='{colour}'/>"
                for a, b in zip(xs[ok], values[ok], strict=True)
            )
        parts.append(
            f"<line x1='{legend_x}' x2='{legend_x + 14}' y1='24' y2='24' stroke='{colour}' "
            f"stroke-width='2'{dash}/><text x='{legend_x + 17}' y='27'>{escape(name)}</text>"
        )
        legend_x += 24 + 6 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    values: np.ndarray,
    *,
    title: str,
    threshold: float | None = None,
    bins: int = 40,
    width: int = 320,
    height: int = 170,
) -> str:
    """Counts of ``values`` in ``bins`` bins (NaN left out), a red dashed line at
    ``threshold``."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    left, right, top, bottom = 10, 10, 20, 24
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' style='font-family:sans-serif;font-size:10px'>",
        f"<text x='{left}' y='12' font-size='12' font-weight='bold'>{escape(title)}</text>",
    ]
    if len(data):
        counts, edges = np.histogram(data, bins=bins)
        low, high = float(edges[0]), float(edges[-1])
        span = (high - low) or 1.0
        inner = width - left - right
        tallest = max(int(counts.max()), 1)
        step = inner / len(counts)
        for i, count in enumerate(counts.tolist()):
            tall = (height - top - bottom) * count / tallest
            parts.append(
                f"<rect x='{left + i * step:.1f}' y='{height - bottom - tall:.1f}' "
                f"width='{max(step - 1, 1):.1f}' height='{tall:.1f}' fill='{BLUE}'/>"
            )
        parts.append(
            f"<text x='{left}' y='{height - 8}' fill='{GREY}'>{low:.3g}</text>"
            f"<text x='{width - right}' y='{height - 8}' text-anchor='end' fill='{GREY}'>"
            f"{high:.3g}</text>"
        )
        if threshold is not None and np.isfinite(threshold):
            at = left + (float(threshold) - low) / span * inner
            parts.append(
                f"<line x1='{at:.1f}' x2='{at:.1f}' y1='{top}' y2='{height - bottom}' "
                f"stroke='{RED}' stroke-dasharray='3,3'/>"
            )
    parts.append("</svg>")
    return "".join(parts)


# ---- plotly figures ---------------------------------------------------------------------
def figure_html(figure: go.Figure, *, height: int = FIGURE_HEIGHT) -> str:
    """``figure`` as a notebook fragment: plotly.js inside the first one of the kernel
    session, a reference to it afterwards (see the module's docstring)."""
    global _plotlyjs_sent
    include: bool | str = not _plotlyjs_sent
    if "google.colab" in sys.modules:
        # Colab shows each output in a frame of its own, so none can lean on another's
        # plotly.js; a Colab notebook is online, and plotly's Colab renderer uses its CDN too
        include = "cdn"
    div_id = f"embscope-{uuid.uuid4().hex}"
    body = figure.to_html(
        full_html=False,
        include_plotlyjs=include,
        div_id=div_id,
        default_height=f"{height}px",
        default_width="100%",
        config={"displaylogo": False, "responsive": True},
    )
    _plotlyjs_sent = _plotlyjs_sent or include is True
    if include:
        return body
    missing = json.dumps(
        "plotly.js is not loaded in this page: the output that carried it (the first embscope "
        "figure of this kernel session) is gone. Run embscope.notebook_html.reset_plotlyjs() "
        "and show the figure again."
    )
    guard = (
        f"<script type='text/javascript'>if (!window.Plotly) {{ var box = "
        f"document.getElementById('{div_id}'); if (box) {{ box.style.height = 'auto'; "
        f"box.textContent = {missing}; }} }}</script>"
    )
    return body + guard


def reset_plotlyjs() -> None:
    """Make the next figure a notebook shows carry plotly.js again (after the output that
    carried it was cleared and the page reloaded)."""
    global _plotlyjs_sent
    _plotlyjs_sent = False


def projection_html(result: Projection, *, points: int = NOTEBOOK_POINTS) -> str:
    """A projection in a notebook: one line on how it was made and how well it keeps the
    space's neighbours, then its figure; above ``points`` rows a seeded random sample of
    that many is drawn (``result.figure()`` draws up to ``figures.MAX_POINTS``)."""
    from dataclasses import replace

    from .figures import _title, add_quality_corner
    from .projection.settings import METHOD_NAMES

    quality = result.quality
    shown = result
    note = ""
    if len(result) > points:
        keep = np.sort(np.random.default_rng(0).choice(len(result), points, replace=False))
        # a sample of the same projection; no cache file, so nothing is written for it
        shown = replace(
            result, coordinates=result.coordinates[keep], rows=result.rows[keep], cache_file=None
        )
        note = f"; showing a random {points:,} of {len(result):,} (seed 0)"
    figure = shown.figure(title=_title(result, note), quality=False)
    add_quality_corner(figure, quality)  # the whole projection's, not the sample's
    settings = ", ".join(
        f"{name}={value}"
        for name, value in result.parameters.items()
        if name in ("perplexity", "n_neighbors", "n_iter", "n_epochs", "metric", "random_state")
    )
    cached = ", from the cache" if result.from_cache else ""
    line = (
        f"{METHOD_NAMES[result.method]} {result.n_components}D of {result.space.name!r}: "
        f"{len(result):,} rows {result.placement}; {settings}; {result.seconds:.1f} s{cached}. "
        f"Trustworthiness@{quality.k} {quality.trustworthiness:.3f}, kNN recall@{quality.k} "
        f"{quality.knn_recall:.3f}"
    )
    if note:
        line += f". Drawn here: a random {points:,} of the rows (seed 0); figure() draws more"
    return f"<div style='{_CARD_STYLE}'>{escape(line)}</div>" + figure_html(figure)


# ---- the space itself ----------------------------------------------------------------------
def space_card(space: EmbeddingSpace, *, first: int = 8) -> str:
    """``EmbeddingSpace._repr_html_``: name, shape, storage, metric, where it came from, its
    tokenizer and metadata columns, its first keys. Reads nothing but the first rows' keys:
    no norms, no pass over the matrix."""
    from .provenance import _is_memory_mapped

    n, d = space.shape
    vectors = space.vectors
    stored = space.stored_dtype
    if _is_memory_mapped(getattr(vectors, "bits", vectors)):
        stored += ", memory-mapped"
    provenance = space.provenance
    rows: list[tuple[str, str]] = [
        ("shape", f"{n:,} x {d}"),
        ("stored as", stored),
        ("metric", str(space.metric)),
        ("source", f"{provenance.kind}: {provenance.source}"),
    ]
    if space.part_of is not None:
        whole, picked = space.part_of
        rows.append(("part of", f"{whole.name} ({len(picked):,} of its {len(whole):,} rows)"))
    rows.append(
        (
            "tokenizer",
            "yes: words it splits are answered by their pieces" if space.has_tokenizer else "no",
        )
    )
    columns = list(space.metadata_arrays())
    rows.append(("metadata", ", ".join(columns) if columns else "none"))
    keys, labels = space.keys[:first], space.labels[:first]
    shown = [
        key if key == label else f"{label} ({key})" for key, label in zip(keys, labels, strict=True)
    ]
    more = f", … {n - len(keys):,} more" if n > len(keys) else ""
    rows.append((f"first {len(keys)} keys", ", ".join(shown) + more))
    for name, value in list(provenance.options.items())[:6]:
        if value is None or value == {} or value == []:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append((name, shorten(text)))
    if space.non_finite_keys:
        rows.append(
            ("left out", f"{len(space.non_finite_keys):,} rows with NaN or infinite values")
        )
    return card(f"EmbeddingSpace {space.name!r}", rows)


__all__ = [
    "FIGURE_HEIGHT",
    "NOTEBOOK_POINTS",
    "TABLE_ROWS",
    "bar",
    "card",
    "caution",
    "escape",
    "figure_html",
    "histogram",
    "line_chart",
    "projection_html",
    "reset_plotlyjs",
    "shorten",
    "space_card",
    "table",
]
