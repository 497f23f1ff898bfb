"""``embscope project``: PCA, t-SNE or UMAP of a space (or of some of its words) to an
interactive HTML file, a static image, and a coordinates table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from .common import check_output, echo_json, load_options, load_space, metric_option

_METHODS = ("pca", "tsne", "umap")
# parameters the first summary line already states
_SAID = ("method", "n_components", "rows", "rows_in_space", "sample", "placement", "placed_in")


@click.command()
@click.argument("source")
@load_options
@click.option("--method", type=click.Choice(_METHODS), default="pca", show_default=True)
@click.option(
    "--dims", type=click.IntRange(min=2, max=3), default=2, show_default=True, help="2 or 3."
)
@click.option(
    "--words",
    multiple=True,
    help="Project only these keys (comma-separated; the option may repeat).",
)
@click.option(
    "--neighborhood",
    metavar="WORD",
    help="Project only WORD, its --similar closest and its --opposite least similar rows.",
)
@click.option(
    "--axes",
    metavar="POS:NEG,POS:NEG[,POS:NEG]",
    help="Place rows along directions defined by words instead of a fitted projection: "
    "x runs from the first NEG to its POS, y from the second (z from a third); a group is "
    "written a+b (good+great:bad+awful).",
)
@click.option(
    "--placement",
    type=click.Choice(("own", "whole")),
    default="own",
    show_default=True,
    help="With --neighborhood or --words: fit the projection to those rows (own), or show "
    "them where they lie in the projection of the whole space (whole).",
)
@click.option("--similar", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--opposite", type=click.IntRange(min=0), default=30, show_default=True)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    help="--neighborhood looks only among the first N rows (the most frequent words).",
)
@metric_option
@click.option("--perplexity", type=float, help="t-SNE perplexity (default: auto).")
@click.option(
    "--iterations",
    type=click.IntRange(1, 100_000),
    help="t-SNE iterations (default 750).",
)
@click.option("--n-neighbors", type=click.IntRange(min=2), help="UMAP neighbours (default 15).")
@click.option("--min-dist", type=float, help="UMAP minimum distance (default 0.1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--sample", type=click.IntRange(min=1), help="Project a random sample of N rows.")
@click.option("--all-rows", is_flag=True, help="t-SNE/UMAP every row, even above 50,000 (slow).")
@click.option(
    "--color",
    help="A metadata column, norm, or similarity:WORD (default: the neighbourhood group).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Interactive HTML file, self-contained (default: NAME-METHOD-DIMSd.html).",
)
@click.option("--png", is_flag=True, help="Also a static PNG beside the HTML file.")
@click.option(
    "--coords",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also the coordinates: .parquet, .csv or .tsv.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the on-disk cache.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON line.")
def project(
    source: str,
    method: str,
    dims: int,
    words: tuple[str, ...],
    neighborhood: str | None,
    axes: str | None,
    placement: str,
    similar: int,
    opposite: int,
    restrict_vocab: int | None,
    metric: str | None,
    perplexity: float | None,
    iterations: int | None,
    n_neighbors: int | None,
    min_dist: float | None,
    seed: int,
    sample: int | None,
    all_rows: bool,
    color: str | None,
    out: Path | None,
    png: bool,
    coords: Path | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Place the rows of SOURCE in 2D or 3D and write an interactive figure.

    The HTML file embeds plotly.js and opens offline; --coords exports the coordinates with
    keys, labels and metadata. Results are cached, so the same call again returns at once.
    """
    from ..figures import check_figure_path, save
    from ..projection.result import check_coordinates_path

    if words and neighborhood:
        raise click.UsageError("give --words or --neighborhood, not both")
    if placement == "whole" and not (words or neighborhood):
        raise click.UsageError(
            "--placement whole shows --words or a --neighborhood in the whole space's "
            "projection: give one of them"
        )
    if sample is not None and all_rows:
        raise click.UsageError("give --sample or --all-rows, not both")
    options = _method_options(method, perplexity, iterations, n_neighbors, min_dist)
    axis_words = _axis_words(axes) if axes is not None else None
    if axis_words is not None:
        if method != "pca" or options:
            raise click.UsageError("--axes is a projection of its own: leave out --method")
        method, dims = "axes", len(axis_words)
    # bad file names are reported before minutes of work, not after
    if out is not None:
        check_output(check_figure_path(out))
    if coords is not None:
        check_output(check_coordinates_path(coords))
    space = load_space(source)
    if axis_words is not None:  # defined in the whole space, so a neighbourhood can lack them
        options = {
            name: space.direction(positive, negative)
            for name, (positive, negative) in zip("xyz", axis_words, strict=False)
        }
    if neighborhood:
        space = space.neighborhood(
            neighborhood,
            similar=similar,
            opposite=opposite,
            metric=metric,
            restrict_vocab=restrict_vocab,
        )
    elif words:
        space = space.keys_subspace([w.strip() for item in words for w in item.split(",")])
    result = space.project(
        method,
        n_components=dims,
        metric=metric,
        random_state=seed,
        sample=None if all_rows else (sample or "auto"),
        cache=not no_cache,
        placement=placement,
        **options,
    )
    figure = result.figure(color=color)
    out = out or Path(_default_name(result))
    written = [save(figure, out)]
    if png:
        written.append(save(figure, out.with_suffix(".png")))
    if coords is not None:
        written.append(result.save(coords))
    quality = result.quality
    if as_json:
        echo_json(
            {
                "method": method,
                "n_components": dims,
                "rows": len(result),
                "seconds": round(result.seconds, 3),
                "from_cache": result.from_cache,
                "trustworthiness": round(quality.trustworthiness, 4),
                "knn_recall": round(quality.knn_recall, 4),
                "placement": result.placement,
                "parameters": result.parameters,
                "files": [str(path) for path in written],
            }
        )
        return
    click.echo(f"{result!r}"[1:-1])
    if (words or neighborhood) and placement == "own":
        click.echo(
            f"the rows are {result.placement} (--placement whole shows them where they lie in "
            "the whole space's projection)"
        )
    shown = {k: v for k, v in result.parameters.items() if k not in _SAID}
    click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    click.echo(
        f"quality: trustworthiness@{quality.k} {quality.trustworthiness:.3f}, kNN recall@"
        f"{quality.k} {quality.knn_recall:.3f} against the original {quality.metric} space"
    )
    for path in written:
        click.echo(f"wrote {path}")


def _axis_words(text: str) -> list[tuple[list[str], list[str]]]:
    """``good:bad,man:woman`` as [(["good"], ["bad"]), (["man"], ["woman"])]."""
    pairs = []
    for item in text.split(","):
        positive, colon, negative = item.partition(":")
        ends = [[w.strip() for w in end.split("+") if w.strip()] for end in (positive, negative)]
        if not colon or not all(ends):
            raise click.BadParameter(
                f"{item.strip()!r} is not POS:NEG (e.g. good:bad, or good+great:bad+awful)",
                param_hint="--axes",
            )
        pairs.append((ends[0], ends[1]))
    if len(pairs) not in (2, 3):
        raise click.BadParameter(
            f"give two or three POS:NEG pairs (x, y and maybe z); got {len(pairs)}",
            param_hint="--axes",
        )
    return pairs


def _method_options(
    method: str,
    perplexity: float | None,
    iterations: int | None,
    n_neighbors: int | None,
    min_dist: float | None,
) -> dict[str, Any]:
    given = {
        "perplexity": ("tsne", "--perplexity", perplexity),
        "n_iter": ("tsne", "--iterations", iterations),
        "n_neighbors": ("umap", "--n-neighbors", n_neighbors),
        "min_dist": ("umap", "--min-dist", min_dist),
    }
    options = {}
    for name, (owner, flag, value) in given.items():
        if value is None:
            continue
        if owner != method:
            raise click.UsageError(f"{flag} applies to --method {owner}, not {method}")
        options[name] = value
    return options


def _default_name(result: Any) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", result.space.name).strip("-.") or "space"
    return f"{name}-{result.method}-{result.n_components}d.html"


COMMANDS = [project]
