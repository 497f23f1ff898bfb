"""``embscope tour``: a first look at a space, the README's main job."""

from __future__ import annotations

import click

from ..errors import UnknownKeyError
from .common import echo_table, load_space, score_title, source_option

TOUR_WORDS = ("beauty", "king", "good")
TOUR_PAIRS = (("good", "bad"), ("good", "great"), ("king", "queen"), ("wonderful", "horrible"))
TOUR_OPPOSITE = "horrible"
TOUR_SPLIT_WORD = "embeddings"


@click.command()
@source_option
@click.option("--top-k", "-k", default=8, show_default=True, type=click.IntRange(min=1))
def tour(source: str, top_k: int) -> None:
    """A short tour of SOURCE: its shape, a few words' neighbours and opposites."""
    space = load_space(source)
    summary = space.summary()
    click.echo(
        f"{space.name}: {summary['rows']:,} vectors of {summary['dim']} dimensions "
        f"({summary['dtype']}{', memory-mapped' if summary['memory_mapped'] else ''}); "
        f"norms from {summary['norm_min']:.3f} to {summary['norm_max']:.3f}, "
        f"median {summary['norm_median']:.3f}; metric: {space.metric}\n"
    )
    click.echo("Cosine similarity of word pairs:")
    for first, second in TOUR_PAIRS:
        if first in space and second in space:
            click.echo(f"  {first:>10} ~ {second:<10} {space.similarity(first, second):+.4f}")
    click.echo("")
    for word in TOUR_WORDS:
        if word in space:
            frame = space.neighbors(word, top_k=top_k)
            echo_table(frame[["rank", "label", "score"]], title=score_title(frame, "Neighbours"))
            click.echo("")
    if TOUR_OPPOSITE in space:
        frame = space.opposites(TOUR_OPPOSITE, top_k=top_k)
        echo_table(frame[["rank", "label", "score"]], title=score_title(frame, "Opposites"))
        click.echo("")
    if space.has_tokenizer and TOUR_SPLIT_WORD not in space:
        try:
            space.resolve(TOUR_SPLIT_WORD)
        except UnknownKeyError as error:
            click.echo(f"Words outside the vocabulary: {error}\n")
        frame = space.neighbors(TOUR_SPLIT_WORD, top_k=top_k, pieces="mean")
        echo_table(
            frame[["rank", "label", "score"]],
            title=score_title(frame, "Neighbours of the mean of the pieces"),
        )
        click.echo("")
    click.echo(
        "Next: embscope neighbors WORD -s SOURCE -k 15 | embscope similarity A B | "
        "embscope table WORD | embscope info SOURCE | embscope --help"
    )


COMMANDS = [tour]
