"""``embscope neighbors``: the closest (or most opposite) rows to a word."""

from __future__ import annotations

import click

from .common import (
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
@click.argument("word")
@source_option
@click.option("--top-k", "-k", default=10, show_default=True, type=click.IntRange(min=1))
@metric_option
@click.option("--opposite", is_flag=True, help="The most dissimilar rows instead.")
@pieces_option
@json_option
def neighbors(
    word: str,
    source: str,
    top_k: int,
    metric: str | None,
    opposite: bool,
    pieces: str,
    as_json: bool,
) -> None:
    """Nearest neighbours of WORD (or, with --opposite, its most opposite rows)."""
    space = load_space(source)
    ask = space.opposites if opposite else space.neighbors
    frame = ask(word, top_k=top_k, metric=metric, pieces=pieces)
    echo_pieces_note(frame)
    if as_json:
        echo_json_records(frame)
    else:
        echo_table(frame, title=score_title(frame, "Opposites" if opposite else "Neighbours"))


COMMANDS = [neighbors]
