"""``embscope export``: write a space in a format other tools read."""

from __future__ import annotations

from pathlib import Path

import click

from ..sources.export import EXPORT_FORMATS
from .common import check_output, load_options, load_space


@click.command(name="export")
@click.argument("source")
@load_options
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    required=True,
    help="projector: TensorBoard TSV folder; npy; parquet; word2vec (binary); word2vec-text.",
)
def export_command(source: str, out: Path, fmt: str) -> None:
    """Write SOURCE to OUT in another format."""
    from ..sources.export import export

    check_output(out, directory=fmt == "projector")
    space = load_space(source)
    export(space, out, format=fmt)
    click.echo(f"wrote {len(space):,} x {space.dim} ({EXPORT_FORMATS[fmt]}) to {out}")


COMMANDS = [export_command]
