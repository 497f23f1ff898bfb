"""A comparison written to a file: a self-contained HTML report (the figures with their chance
levels, the most and least moved keys, chosen words side by side, the figure, which opens
offline) or a Parquet table of every shared key's figures."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..._io.atomic import atomic_path
from ...errors import InvalidParameterError

if TYPE_CHECKING:
    from .comparison import Comparison

REPORT_SUFFIXES = (".html", ".htm", ".parquet")

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
)


def check_report_path(path: str | Path) -> Path:
    """``path`` when a report can be written in its kind of file, else an error saying which."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise InvalidParameterError(f"a comparison report is .html or .parquet; got {path.name!r}")
    return path


def save_report(
    comparison: Comparison,
    path: str | Path,
    *,
    words: Sequence[str] = (),
    top: int = 20,
) -> Path:
    """Write ``comparison`` to ``path`` atomically: ``.parquet`` holds ``words()`` (one row per
    shared key) with the summary in its metadata; ``.html`` the summary, the ``top`` most and
    least moved keys, each of ``words`` side by side, and the figure."""
    path = check_report_path(path)
    if path.suffix.lower() == ".parquet":
        frame = comparison.words()
        frame.attrs.update(comparison.summary().to_pandas().attrs)
        with atomic_path(path) as temporary:
            frame.to_parquet(temporary, index=False)
        return path
    sides = [comparison.neighbors(word) for word in words]  # an unknown word fails before writing
    summary = comparison.summary()
    moved = comparison.moved(top)
    steady = comparison.moved(top, least=True)
    figure = comparison.figure(moved=min(top, len(comparison.keys)))
    title = f"{summary.space_a} vs {summary.space_b}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        summary._repr_html_(),
        *(side._repr_html_() for side in sides),
        figure.to_html(include_plotlyjs=True, full_html=False, config={"displaylogo": False}),
        f"<h2>The {len(moved)} most moved keys</h2>",
        moved.to_html(index=False, float_format=lambda v: f"{v:.3f}"),
        f"<h2>The {len(steady)} least moved keys</h2>",
        steady.to_html(index=False, float_format=lambda v: f"{v:.3f}"),
    ]
    document = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    with atomic_path(path) as temporary:
        temporary.write_text(document, encoding="utf-8")
    return path


__all__ = ["REPORT_SUFFIXES", "check_report_path", "save_report"]
