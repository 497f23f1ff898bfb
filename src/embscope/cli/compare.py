"""``embscope compare``: two spaces over the keys both hold (neighbour overlap, similarity
correlation, CKA, the alignment of B onto A), the keys that moved most and least, chosen words
side by side, and a report file."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    check_output,
    echo_json,
    echo_side_by_side,
    echo_table,
    load_options,
    load_space,
    metric_option,
)


@click.command()
@click.argument("source_a")
@click.argument("source_b")
@load_options
@click.option(
    "--word",
    "-w",
    "words",
    multiple=True,
    help="Show this word's neighbours in both spaces side by side (the option may repeat).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the most (and least) moved keys to list.",
)
@click.option(
    "--top-k",
    "-k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Neighbours per key whose overlap is measured.",
)
@metric_option
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    help="Compare only A's first N keys (the most frequent words of a frequency-ordered file).",
)
@click.option(
    "--anchors",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fit the alignment on these keys only: a file with one key per line.",
)
@click.option(
    "--pieces",
    type=click.Choice(["error", "mean"]),
    default="error",
    show_default=True,
    help="A key B lacks: leave it out, or compose it from B's tokenizer pieces (mean).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a report: .html (self-contained, with the figure) or .parquet (a row "
    "per shared key).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the on-disk cache.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON line.")
def compare(
    source_a: str,
    source_b: str,
    words: tuple[str, ...],
    top: int,
    top_k: int,
    metric: str | None,
    restrict_vocab: int | None,
    anchors: Path | None,
    pieces: str,
    seed: int,
    out: Path | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Compare SOURCE_B with SOURCE_A over the keys both hold: each figure beside its chance
    level, the keys whose neighbours changed most and least, and --word side by side."""
    from ..analysis.compare import compare as compare_spaces
    from ..analysis.compare.report import check_report_path

    if out is not None:
        check_output(check_report_path(out))
    anchor_keys = _read_anchors(anchors) if anchors is not None else None
    a, b = load_space(source_a), load_space(source_b)
    comparison = compare_spaces(
        a,
        b,
        top_k=top_k,
        metric=metric,
        restrict_vocab=restrict_vocab,
        anchors=anchor_keys,
        pieces=pieces,  # type: ignore[arg-type]
        random_state=seed,
        cache=not no_cache,
    )
    sides = [comparison.neighbors(word) for word in words]
    summary = comparison.summary()
    if as_json:
        frame = summary.to_pandas()
        echo_json(
            {
                **frame.attrs,
                "moved": comparison.moved(top)["key"].tolist(),
                "least_moved": comparison.moved(top, least=True)["key"].tolist(),
            }
        )
    else:
        click.echo(str(summary))
        columns = ["label", "shared_neighbors", "rank_correlation", "aligned_cosine"]
        for least in (False, True):
            what = "least" if least else "most"
            echo_table(
                comparison.moved(top, least=least)[columns],
                title=f"The {top} {what} moved keys (neighbours in both of {top_k})",
            )
        for side in sides:
            echo_side_by_side(side)
    if out is not None:
        comparison.save(out, words=words, top=top)
        click.echo(f"wrote {out}", err=True)


def _read_anchors(path: Path) -> list[str]:
    keys = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    keys = [key for key in keys if key]
    if not keys:
        raise click.BadParameter(f"{path} holds no keys (one per line)", param_hint="--anchors")
    return keys


COMMANDS = [compare]
