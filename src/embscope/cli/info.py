"""``embscope info`` and ``embscope sources``: what a space is, and what can be loaded."""

from __future__ import annotations

import click
import pandas as pd

from .common import echo_json, echo_json_records, echo_table, json_option, load_options, load_space


@click.command()
@click.argument("source")
@load_options
@json_option
def info(source: str, as_json: bool) -> None:
    """Shape, storage, tokenizer and norm spread of SOURCE."""
    summary = load_space(source).summary()
    if as_json:
        echo_json(summary)
        return
    frame = pd.DataFrame({"property": list(summary), "value": [_cell(v) for v in summary.values()]})
    echo_table(frame, title=source)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


@click.command()
@json_option
def sources(as_json: bool) -> None:
    """Bundled spaces and the kinds of file and checkpoint embscope reads."""
    from ..sources import KINDS, bundled_sources

    frame = bundled_sources()
    if as_json:
        echo_json_records(frame)
        return
    echo_table(frame, title="Bundled spaces (embscope.load(name))")
    click.echo("\nAlso readable: " + ", ".join(k for k in KINDS if k != "bundled"))
    click.echo(
        "(a path is recognised by its suffix or contents; a hub id like org/name is "
        "downloaded from the Hugging Face hub)"
    )


COMMANDS = [info, sources]
