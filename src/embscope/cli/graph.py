"""``embscope graph``: every row's nearest rows, written to Parquet or npz."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..search.graph import MAX_BLOCK_ROWS
from .common import check_output, load_options, load_space, metric_option


@click.command()
@click.argument("source")
@load_options
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--top-k",
    "-k",
    default=15,
    show_default=True,
    type=click.IntRange(min=1),
    help="Neighbours per row.",
)
@metric_option
@click.option(
    "--approximate",
    is_flag=True,
    help="Ask the approximate index (built once and cached) and report its recall.",
)
@click.option(
    "--block-rows",
    type=click.IntRange(1, MAX_BLOCK_ROWS),
    default=None,
    help="Rows scored per block (memory grows with its square; default 1024).",
)
def graph(
    source: str, out: Path, top_k: int, metric: str | None, approximate: bool, block_rows: int
) -> None:
    """The kNN graph of SOURCE (each row's TOP_K nearest rows, itself excluded) to OUT:
    .parquet (source, rank, target, score, source_row, target_row) or .npz (ids, scores,
    keys)."""
    from ..search.graph import knn_graph

    check_output(out)
    space = load_space(source)
    start = time.perf_counter()
    result = knn_graph(
        space, top_k=top_k, metric=metric, block_rows=block_rows, approximate=approximate
    )
    seconds = time.perf_counter() - start
    result.save(out)
    how = "approximate" if result.approximate else "exact"
    click.echo(
        f"wrote the {how} kNN graph of {space.name} ({len(result):,} rows x {result.top_k}, "
        f"{result.metric}) to {out} in {seconds:.1f} s"
    )
    if result.approximate:
        recall = space.approximate_index(metric=result.metric).recall(space, k=result.top_k)
        click.echo(f"approximate index recall@{result.top_k} on 1,000 rows: {recall:.3f}")


COMMANDS = [graph]
