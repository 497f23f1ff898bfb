"""``embscope similarity`` and ``embscope table``: one pair, or one word against every row."""

from __future__ import annotations

from pathlib import Path

import click

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError
from .common import (
    check_output,
    echo_json,
    echo_json_records,
    echo_pieces_note,
    echo_table,
    json_option,
    load_space,
    metric_option,
    pieces_option,
    score_title,
    source_option,
)


@click.command()
@click.argument("first")
@click.argument("second")
@source_option
@metric_option
@pieces_option
@json_option
def similarity(
    first: str, second: str, source: str, metric: str | None, pieces: str, as_json: bool
) -> None:
    """Similarity of FIRST and SECOND (cosine by default; Euclidean gives a distance)."""
    space = load_space(source)
    metric = metric or space.metric
    resolved = [space.resolve(word, pieces=pieces) for word in (first, second)]
    for query in resolved:
        if query.looked_up_as:
            click.echo(f"note: {query.text!r} was looked up as {query.looked_up_as}", err=True)
    value = space.similarity(resolved[0].vector, resolved[1].vector, metric=metric)
    if as_json:
        echo_json({"first": first, "second": second, "metric": metric, "score": value})
    else:
        click.echo(f"{metric}({first}, {second}) = {value:.4f}")


@click.command()
@click.argument("word")
@source_option
@metric_option
@pieces_option
@click.option(
    "--head",
    "-n",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows to print; the whole table goes to --out.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every row to a .csv or .parquet file.",
)
@json_option
def table(
    word: str,
    source: str,
    metric: str | None,
    pieces: str,
    head: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """WORD's similarity to every row, closest first (the notebook's cosine table)."""
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise InvalidParameterError(f"--out must end in .csv or .parquet; got {out.name}")
    if out is not None:
        check_output(out)
    space = load_space(source)
    from ..search.exact import similarity_table

    hits = similarity_table(space, word, metric=metric, pieces=pieces)
    echo_pieces_note(hits.query)
    frame = hits.to_pandas()
    if out is not None:
        with atomic_path(out) as temporary:
            if out.suffix == ".csv":
                frame.to_csv(temporary, index=False)
            else:
                frame.to_parquet(temporary, index=False)
        click.echo(f"wrote {len(frame):,} rows to {out}", err=True)
    shown = frame.head(head)
    if as_json:
        echo_json_records(shown)
    else:
        echo_table(shown, title=score_title(hits, f"Top {len(shown)} of {len(frame):,} rows"))


COMMANDS = [similarity, table]
