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
    pairs = [(a, b) for a, b in TOUR_PAIRS if a in space and b in space]
    if pairs:
        click.echo("Cosine similarity of word pairs:")
        for first, second in pairs:
            click.echo(f"  {first:>10} ~ {second:<10} {space.similarity(first, second):+.4f}")
        click.echo("")
    # a space without the tour's words (documents, another language, token ids) is shown
    # through its own first rows rather than through empty sections
    words = [w for w in TOUR_WORDS if w in space] or space.keys[: min(len(space) - 1, 2)]
    for word in words:
        hits = space.search(word, top_k=top_k)
        echo_table(_columns(hits), title=_title(space, hits, "Neighbours"))
        click.echo("")
    opposite = TOUR_OPPOSITE if TOUR_OPPOSITE in space else (words[0] if words else None)
    if opposite is not None:
        hits = space.search(opposite, top_k=top_k, opposite=True)
        echo_table(_columns(hits), title=_title(space, hits, "Opposites"))
        click.echo("")
    if space.has_tokenizer and TOUR_SPLIT_WORD not in space:
        try:
            space.resolve(TOUR_SPLIT_WORD)
        except UnknownKeyError as error:
            click.echo(f"Words outside the vocabulary: {error}\n")
        hits = space.search(TOUR_SPLIT_WORD, top_k=top_k, pieces="mean")
        echo_table(_columns(hits), title=score_title(hits, "Neighbours of the mean of the pieces"))
        click.echo("")
    click.echo(
        "Next: embscope neighbors WORD -s SOURCE -k 15 | embscope similarity A B | "
        "embscope table WORD | embscope info SOURCE | embscope --help"
    )


def _columns(hits):
    return hits.to_pandas()[["rank", "label", "score"]]


def _title(space, hits, what: str) -> str:
    """The table's title; a row whose key is not what a person reads (a document's row
    number) is named by its label."""
    query = hits.query.text
    if query in space and space.labels[space.row(query)] != query:
        return score_title(hits, what, query=f"{query}: {space.labels[space.row(query)]}")
    return score_title(hits, what)


COMMANDS = [tour]
