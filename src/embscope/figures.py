"""Plotly figures built from results: projections, the distance profile, and saving them.

Every function returns a ``plotly.graph_objects.Figure``; ``save`` writes one as a
self-contained HTML file (plotly.js embedded, so it opens offline) or a static image.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._io.atomic import atomic_path
from .errors import EmbscopeError, InvalidParameterError, MissingDependencyError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .analysis.classes import ClassSimilarity
    from .analysis.profile import DistanceProfile
    from .projection import Projection
    from .projection.quality import ProjectionQuality
    from .space import EmbeddingSpace, PiecesMode, Query

# a categorical colouring with more values than this is unreadable (and one legend entry each)
MAX_CATEGORIES = 64
# point labels are drawn beside the points up to this many points
TEXT_LABELS_UP_TO = 150
# 2D plots switch from SVG to WebGL above this many points
WEBGL_ABOVE = 5000
# a figure draws at most this many points (a seeded sample above it)
MAX_POINTS = 100_000
# metadata columns shown when hovering over a point
HOVER_COLUMNS = 4
IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp")
_GROUP_COLORS = {"query": "#111111", "similar": "#1f77b4", "opposite": "#d62728"}


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise MissingDependencyError("plotly", extra="viz", purpose="figures") from None
    return go


def projection(
    result: Projection,
    *,
    color: str | None = None,
    text: bool | str = "auto",
    title: str | None = None,
    highlight: Sequence[str] = (),
    marker_size: float | None = None,
    quality: bool = True,
) -> go.Figure:
    """A 2D or 3D scatter of a projection, hover showing each point's label and metadata, and
    (``quality=True``) its trustworthiness and kNN recall in the lower right corner.

    ``color``: a column of ``coords`` (categorical columns get one legend entry per value,
    which toggles them; numeric columns a colour scale), ``"similarity:WORD"`` (cosine
    similarity to WORD in the original space), ``"norm"`` (each row's vector length), or None
    (the neighbourhood ``group`` when the space has one). ``text="auto"`` writes labels beside
    the points when there are at most 150; ``highlight`` marks chosen keys. Above
    ``MAX_POINTS`` points a seeded random sample of that many is drawn, and the title says so.
    """
    go = _plotly()
    coords = result.coords
    values, color_name, categorical = _color_values(result, color)
    shown_note = ""
    if len(coords) > MAX_POINTS:
        # a browser tab holds this many points smoothly; the coordinates file keeps them all
        keep = np.sort(np.random.default_rng(0).choice(len(coords), MAX_POINTS, replace=False))
        coords = coords.iloc[keep].reset_index(drop=True)
        values = values[keep] if values is not None else None
        shown_note = f"; showing a random {MAX_POINTS:,} of {len(result):,} (seed 0)"
    n = len(coords)
    dims = result.n_components
    show_text = (n <= TEXT_LABELS_UP_TO) if text == "auto" else bool(text)
    size = marker_size or (6 if n <= 1000 else 4 if n <= 20_000 else 2.5)
    hover = _hover_text(coords, color_name, values)
    labels = coords["label"].astype(str).to_numpy()
    axes = ["x", "y", "z"][:dims]
    trace = go.Scatter3d if dims == 3 else (go.Scattergl if n > WEBGL_ABOVE else go.Scatter)
    figure = go.Figure()

    def add(mask: np.ndarray, name: str | None, marker: dict[str, Any]) -> None:
        points = {axis: coords[axis].to_numpy()[mask] for axis in axes}
        figure.add_trace(
            trace(
                **points,
                mode="markers+text" if show_text else "markers",
                name=name,
                text=labels[mask] if show_text else None,
                textposition="top center",
                textfont={"size": 10},
                hovertext=hover[mask],
                hoverinfo="text",
                marker={"size": size, "opacity": 0.85 if n > 1000 else 1.0, **marker},
                showlegend=name is not None,
            )
        )

    if values is None:
        add(np.ones(n, dtype=bool), None, {"color": "#1f77b4"})
    elif categorical:
        categories = list(dict.fromkeys(values.tolist()))
        palette = _palette(len(categories))
        for index, category in enumerate(categories):
            colour = (
                _GROUP_COLORS.get(str(category), palette[index])
                if color_name == "group"
                else palette[index]
            )
            add(values == category, str(category), {"color": colour})
    else:
        scale = "RdBu" if color_name.startswith("similarity") else "Viridis"
        marker: dict[str, Any] = {
            "color": values,
            "colorscale": scale,
            "colorbar": {"title": {"text": color_name}},
            "showscale": True,
        }
        if scale == "RdBu":
            marker.update(cmid=0.0, reversescale=True)
        add(np.ones(n, dtype=bool), None, marker)
    if highlight:
        keys = coords["key"].to_numpy()
        mask = np.isin(keys, list(highlight))
        if mask.any():
            add(
                mask,
                "highlighted",
                {
                    "color": "rgba(0,0,0,0)",
                    "size": size * 2.2,
                    "line": {"width": 2, "color": "#111"},
                },
            )
    figure.update_layout(
        title={"text": title or _title(result, shown_note)},
        template="plotly_white",
        legend={"itemsizing": "constant", "title": {"text": color_name or ""}},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        hoverlabel={"align": "left"},
    )
    if quality:
        add_quality_corner(figure, result.quality)
    titles = axis_titles(result)
    if dims == 3:
        scene: dict[str, Any] = {
            "aspectmode": "data",
            "camera": {"eye": {"x": 1.9, "y": 1.9, "z": 1.3}},
        }
        for axis, text in zip("xyz", titles, strict=False):
            scene[f"{axis}axis"] = {"title": {"text": text}}
        figure.update_layout(scene=scene)
    else:
        figure.update_yaxes(scaleanchor="x", scaleratio=1)
        if titles:
            figure.update_xaxes(title_text=titles[0])
            figure.update_yaxes(title_text=titles[1])
    return figure


def add_quality_corner(figure: go.Figure, quality: ProjectionQuality) -> None:
    """Write a projection's trustworthiness and kNN recall in the figure's lower right corner."""
    figure.add_annotation(
        text=f"trustworthiness@{quality.k} {quality.trustworthiness:.3f} · kNN recall@"
        f"{quality.k} {quality.knn_recall:.3f}",
        xref="paper",
        yref="paper",
        x=1,
        y=0,
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": "#555"},
        bgcolor="rgba(255,255,255,0.8)",
    )


def axis_titles(result: Projection) -> list[str]:
    """What each axis holds: the words of an axes projection (``good − bad``), the share of
    the variance of a PCA component; nothing for t-SNE and UMAP, whose axes mean nothing."""
    parameters = result.parameters
    explained = parameters.get("explained_variance_ratio")
    if result.method == "axes":
        names = [f"{parameters[axis]}  →" for axis in "xyz"[: result.n_components]]
        if explained:
            names = [
                f"{n} ({share:.1%} of the variance)"
                for n, share in zip(names, explained, strict=True)
            ]
        return names
    if result.method == "pca" and explained:
        return [f"PC{i} ({share:.1%} of the variance)" for i, share in enumerate(explained, 1)]
    return []


def _title(result: Projection, shown_note: str = "") -> str:
    from .projection.settings import METHOD_NAMES

    parameters = result.parameters
    details = [f"{len(result):,} rows", parameters["metric"]]
    for name in ("perplexity", "n_neighbors"):
        if name in parameters:
            details.append(f"{name} {parameters[name]}")
    if "sample" in parameters:
        details.append(f"a random sample of {parameters['rows_in_space']:,}")
    if "placed_in" in parameters:
        details.append(f"placed in {parameters['placed_in']}")
    elif result.space.part_of is not None and result.method != "axes":
        details.append("fitted to these rows alone")
    return (
        f"{METHOD_NAMES[result.method]} {result.n_components}D of "
        f"{html.escape(result.space.name)} ({', '.join(details)}{shown_note})"
    )


def _color_values(result: Projection, color: str | None) -> tuple[np.ndarray | None, str, bool]:
    """The values to colour by, their legend name, and whether they are categories."""
    import pandas as pd

    coords = result.coords
    if color is None:
        if "group" in coords:
            return coords["group"].astype(str).to_numpy(), "group", True
        return None, "", False
    if color.startswith("similarity:"):
        word = color.split(":", 1)[1]
        space = result.space
        vector = space.resolve(word).vector
        scores = space.scores(vector, metric="cosine")[0][result.rows]
        return scores.astype(np.float64), f"similarity to {word}", False
    if color == "norm" and "norm" not in coords:
        return result.space.norms[result.rows].astype(np.float64), "norm", False
    if f"metadata.{color}" in coords:
        # a dataset's own "label" column (SST, the sentiment sentences) means its classes,
        # not the readable labels of the points
        color = f"metadata.{color}"
    if color not in coords:
        metadata = [c for c in coords.columns if c not in ("x", "y", "z")]
        raise InvalidParameterError(
            f"color must be a column ({', '.join(metadata)}), 'norm' or 'similarity:WORD'; "
            f"got {color!r}"
        )
    column = coords[color]
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric and not (pd.api.types.is_integer_dtype(column) and column.nunique() <= 12):
        return column.to_numpy(dtype=np.float64), color, False
    distinct = column.nunique(dropna=False)
    if distinct > MAX_CATEGORIES:
        raise InvalidParameterError(
            f"color column {color!r} has {distinct:,} distinct values; colour by a column with "
            f"at most {MAX_CATEGORIES} categories, a numeric column, or 'similarity:WORD'"
        )
    return column.astype(str).to_numpy(), color, True


def _hover_text(coords: Any, color_name: str, values: np.ndarray | None) -> np.ndarray:
    keys = coords["key"].astype(str).to_numpy()
    labels = coords["label"].astype(str).to_numpy()
    lines = [np.asarray(["<b>" + html.escape(label) + "</b>" for label in labels], dtype=object)]
    differs = keys != labels
    lines.append(np.where(differs, np.char.add("<br>key: ", [html.escape(k) for k in keys]), ""))
    if values is not None and color_name not in coords:
        shown = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in values.tolist()]
        lines.append(np.char.add(f"<br>{html.escape(color_name)}: ", shown))
    extra = [c for c in coords.columns if c not in ("key", "label", "x", "y", "z")]
    for column in extra[:HOVER_COLUMNS]:
        cells = coords[column].tolist()
        shown = [
            html.escape(f"{v:.4g}" if isinstance(v, float) else _shorten(str(v))) for v in cells
        ]
        lines.append(np.char.add(f"<br>{html.escape(column)}: ", shown))
    text = lines[0]
    for part in lines[1:]:
        text = np.char.add(text.astype(str), part)
    return np.asarray(text, dtype=object)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _palette(count: int) -> list[str]:
    from plotly.colors import qualitative

    palette = qualitative.Plotly if count <= 10 else qualitative.Alphabet + qualitative.Dark24
    return [palette[i % len(palette)] for i in range(count)]


def distance_profile(
    space: EmbeddingSpace | DistanceProfile,
    query: Query | None = None,
    *,
    pieces: PiecesMode = "error",
    top_k: int = 15,
) -> go.Figure:
    """The BERT lecture's two panels for one query, side by side.

    Left: every row's Euclidean distance to the query against its row (token id), coloured by
    cosine similarity. Right: Euclidean distance against cosine similarity, coloured by the
    row's norm: for unit vectors the two would fall on one curve (``|a-b|² = 2 - 2cos``), so the
    spread around it is the norms at work. Accepts a space and a query, or a
    ``DistanceProfile``.
    """
    go = _plotly()
    from plotly.subplots import make_subplots

    from .analysis.profile import DistanceProfile

    if isinstance(space, DistanceProfile):
        profile = space
    else:
        if query is None:
            raise InvalidParameterError("distance_profile needs a query word or vector")
        profile = space.distance_profile(query, top_k=top_k, pieces=pieces)
    table = profile.table.sort_values("row", kind="stable")
    n = len(table)
    trace = go.Scattergl if n > WEBGL_ABOVE else go.Scatter
    hover = [
        f"<b>{html.escape(str(label))}</b><br>row {row}<br>cosine {c:.3f}<br>"
        f"euclidean {e:.3f}<br>norm {m:.3f}"
        for label, row, c, e, m in zip(
            table["label"],
            table["row"],
            table["cosine"],
            table["euclidean"],
            table["norm"],
            strict=True,
        )
    ]
    size = 5 if n <= 5000 else 3
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            f"Euclidean distance to {profile.query!r} by row",
            "Euclidean distance against cosine similarity",
        ),
        horizontal_spacing=0.2,
    )
    panels = (  # x, colour, colour axis, column
        (table["row"], table["cosine"], "coloraxis", 1),
        (table["cosine"], table["norm"], "coloraxis2", 2),
    )
    for x, colour, axis, column in panels:
        figure.add_trace(
            trace(
                x=x,
                y=table["euclidean"],
                mode="markers",
                marker={"size": size, "color": colour, "coloraxis": axis},
                hovertext=hover,
                hoverinfo="text",
                name="rows",
            ),
            row=1,
            col=column,
        )
    nearest = table.nsmallest(min(profile.top_k, 10), "cosine_rank")
    figure.add_trace(
        go.Scatter(
            x=nearest["cosine"],
            y=nearest["euclidean"],
            mode="text",
            text=[str(label) for label in nearest["label"]],
            textposition="middle left",
            textfont={"size": 10},
            hoverinfo="skip",
            name=f"top {len(nearest)} by cosine",
        ),
        row=1,
        col=2,
    )
    figure.update_layout(
        title={
            "text": (
                f"Cosine and Euclidean distance for {html.escape(profile.query)!r}<br><sup>"
                f"{profile.overlap} of the top {profile.top_k} agree; Spearman rank correlation "
                f"{profile.rank_correlation:.3f}</sup>"
            )
        },
        template="plotly_white",
        showlegend=False,
        coloraxis={
            "colorscale": "RdBu",
            "reversescale": True,
            "cmid": 0.0,
            "colorbar": {"title": {"text": "cosine"}, "x": 0.42, "thickness": 12},
        },
        coloraxis2={
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "norm"}, "x": 1.01, "thickness": 12},
        },
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
    )
    figure.update_xaxes(title_text="row (token id)", row=1, col=1)
    figure.update_yaxes(title_text="Euclidean distance", row=1, col=1)
    figure.update_xaxes(title_text="cosine similarity", row=1, col=2)
    figure.update_yaxes(title_text="Euclidean distance", row=1, col=2)
    return figure


def check_figure_path(path: str | Path) -> Path:
    """``path`` when ``save`` can write its kind of file, else an error saying which it can."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm", *IMAGE_SUFFIXES):
        raise InvalidParameterError(
            f"figure file must end in .html or one of {', '.join(IMAGE_SUFFIXES)}; "
            f"got {path.name!r}"
        )
    return path


def save(figure: go.Figure, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write ``figure`` atomically: ``.html`` self-contained (plotly.js inside, opens offline),
    or a static ``.png``/``.svg``/``.pdf``/``.jpg``/``.webp`` image (needs kaleido and a
    Chrome or Chromium on the machine)."""
    path = check_figure_path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        with atomic_path(path) as temporary:
            figure.write_html(
                temporary, include_plotlyjs=True, full_html=True, config={"displaylogo": False}
            )
        return path
    try:
        import kaleido  # noqa: F401 - plotly uses it to draw images
    except ImportError:
        raise MissingDependencyError("kaleido", extra="viz", purpose="static images") from None
    with atomic_path(path) as temporary:
        try:
            figure.write_image(
                temporary, format=suffix.lstrip(".").replace("jpg", "jpeg"), scale=scale
            )
        except Exception as error:  # kaleido reports a missing browser in several ways
            if "chrome" in str(error).lower() or "browser" in str(error).lower():
                raise EmbscopeError(
                    f"writing {path.name} needs Chrome or Chromium for kaleido: install one "
                    "(Debian/Ubuntu: apt-get install chromium) or run plotly_get_chrome"
                ) from None
            raise
    return path


def class_similarity(
    space: EmbeddingSpace | ClassSimilarity, label: str | None = None
) -> go.Figure:
    """The mean cosine similarity between members of every two classes as a heatmap, each cell
    annotated with its value (hover: the standard deviation and the number of pairs). The
    diagonal is each class's within-class mean. Accepts a ``ClassSimilarity``, or a space and
    the metadata column holding the classes."""
    go = _plotly()
    from .analysis.classes import ClassSimilarity

    result = space if isinstance(space, ClassSimilarity) else space.class_similarity(label)
    names = [str(value) for value in result.labels]
    mean = result.mean.to_numpy()
    std = result.std.to_numpy()
    pairs = result.pairs.to_numpy()
    hover = [
        [
            f"<b>{html.escape(names[i])}</b> × <b>{html.escape(names[j])}</b><br>"
            f"mean cosine {mean[i, j]:.3f}<br>std {std[i, j]:.3f}<br>{pairs[i, j]:,} pairs"
            for j in range(len(names))
        ]
        for i in range(len(names))
    ]
    figure = go.Figure(
        go.Heatmap(
            z=mean,
            x=names,
            y=names,
            texttemplate="%{z:.3f}",
            hovertext=hover,
            hoverinfo="text",
            colorscale="RdBu",
            reversescale=True,
            zmid=0.0,
            colorbar={"title": {"text": "mean cosine"}},
        )
    )
    column = html.escape(str(result.label_column))
    figure.update_layout(
        title={
            "text": (
                f"Mean cosine similarity between classes of {column}<br><sup>"
                f"{len(names)} classes, {result.rows:,} rows; the diagonal pairs two different "
                "members of one class</sup>"
            )
        },
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
    )
    figure.update_xaxes(type="category", title_text=column)
    figure.update_yaxes(type="category", title_text=column, autorange="reversed")
    return figure
