"""``embscope analogy``: the words that complete ``a : b :: c : ?``."""

from __future__ import annotations

import click

from ..analysis.analogy import ANALOGY_METHODS, expression, parse_analogy
from .common import echo_json_records, echo_table, json_option, load_space, source_option


@click.command()
@click.argument("words", nargs=-1, required=True)
@click.option("--minus", multiple=True, metavar="WORD", help="A word to subtract (repeatable).")
@source_option
@click.option("--top-k", "-k", default=10, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--method",
    type=click.Choice(ANALOGY_METHODS, case_sensitive=False),
    default="3cosadd",
    show_default=True,
    help="3cosadd: cosine with b + c - a (word2vec, gensim's most_similar); 3cosmul: "
    "Levy & Goldberg's multiplicative objective.",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Answer only from the first N rows (the frequent words of a sorted vocabulary).",
)
@json_option
def analogy(
    words: tuple[str, ...],
    minus: tuple[str, ...],
    source: str,
    top_k: int,
    method: str,
    restrict_vocab: int | None,
    as_json: bool,
) -> None:
    """The words that complete an analogy: WORDS are added, --minus words subtracted.

    \b
      embscope analogy king woman --minus man -s glove-6b-50d
      embscope analogy king - man + woman -s glove-6b-50d
      embscope analogy "man : king :: woman : ?" -s glove-6b-50d
    """
    positive, negative = parse_analogy(" ".join(words))
    negative = [*negative, *minus]
    space = load_space(source)
    frame = space.analogy(
        positive, negative, top_k=top_k, method=method.lower(), restrict_vocab=restrict_vocab
    )
    if as_json:
        echo_json_records(frame)
        return
    meaning = (
        "score = cosine with the combined vector"
        if method.lower() == "3cosadd"
        else "score = 3CosMul objective"
    )
    title = f"{expression(positive, negative)} in {space.name} ({method.lower()}, {meaning})"
    echo_table(frame, title=title)


COMMANDS = [analogy]
