"""``embscope neighbors``: the closest (or most opposite) rows to words or vectors, in one
space or in two side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..space import EmbeddingSpace
from .common import (
    echo_json_records,
    echo_pieces_note,
    echo_side_by_side,
    echo_stability,
    echo_table,
    json_option,
    load_space,
    metric_option,
    one_or_two_sources_option,
    pieces_option,
    score_title,
)


@click.command()
@click.argument("words", nargs=-1)
@one_or_two_sources_option
@click.option("--top-k", "-k", default=10, show_default=True, type=click.IntRange(min=1))
@metric_option
@click.option("--opposite", is_flag=True, help="The most dissimilar rows instead.")
@click.option(
    "--vector-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Query vectors instead of words: .npy, or text with one vector per line.",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    help="Search only the first N rows (the most frequent words of a frequency-ordered file).",
)
@click.option(
    "--skip",
    metavar="KINDS",
    help="Leave out kinds of rows, comma-separated: special ([CLS], [MASK]), unused "
    "([unused5]), pieces (##ing, continuation pieces), bytes (<0x0A>).",
)
@pieces_option
@json_option
def neighbors(
    words: tuple[str, ...],
    sources: tuple[str, ...],
    top_k: int,
    metric: str | None,
    opposite: bool,
    vector_file: Path | None,
    restrict_vocab: int | None,
    skip: str | None,
    pieces: str,
    as_json: bool,
) -> None:
    """Nearest neighbours of each WORD (or, with --opposite, its most opposite rows).

    With two --source options each word's lists in both spaces are printed side by side,
    the rows both lists hold marked with *. A list whose scores are a near tie (rows left
    out score inside the band the listed ones span) says so under it.
    """
    if not words and vector_file is None:
        raise click.UsageError("give at least one WORD, or --vector-file")
    options: dict[str, Any] = {
        "top_k": top_k,
        "metric": metric,
        "pieces": pieces,
        "opposite": opposite,
    }
    if restrict_vocab is not None:
        options["restrict_vocab"] = restrict_vocab
    if skip:
        from ..search.exact import SKIP_KINDS

        kinds = [kind.strip() for kind in skip.split(",") if kind.strip()]
        wrong = [kind for kind in kinds if kind not in SKIP_KINDS]
        if wrong:
            raise click.BadParameter(
                f"{', '.join(wrong)}: the kinds are {', '.join(SKIP_KINDS)}", param_hint="--skip"
            )
        options["skip"] = kinds
    if len(sources) == 2:
        if vector_file is not None:
            raise click.UsageError(
                "--vector-file holds vectors of one space: give one --source with it"
            )
        _side_by_side(words, *(load_space(source) for source in sources), options, as_json)
        return
    space = load_space(sources[0])
    batches: list = []  # each batch is answered by one matrix product
    if words:
        batches.append(list(words) if len(words) > 1 else words[0])
    if vector_file is not None:
        from ..sources.arrays import read_query_vectors

        vectors = read_query_vectors(vector_file, dim=space.dim)
        batches.append(vectors if len(vectors) > 1 else vectors[0])
    what = "Opposites" if opposite else "Neighbours"
    text_column = space.provenance.options.get("text_column")
    for batch in batches:
        for hits in space.search_many(batch, **options):
            echo_pieces_note(hits.query)
            frame = hits.to_pandas()
            if as_json:
                frame.insert(0, "query", hits.query.text)
                echo_json_records(frame)
                echo_stability(hits, err=True)
            else:
                # a document's text is its label already: one copy in the table is enough
                hidden = [c for c in (text_column,) if c and c in frame.columns]
                echo_table(frame.drop(columns=hidden), title=score_title(hits, what))
                echo_stability(hits)


def _side_by_side(
    words: tuple[str, ...],
    a: EmbeddingSpace,
    b: EmbeddingSpace,
    options: dict[str, Any],
    as_json: bool,
) -> None:
    from ..analysis.compare import SideBySide

    for word in words:
        # each space answers in full before anything prints: a word one of them lacks is an
        # error naming that space, not half a table
        hits_a, hits_b = a.search(word, **options), b.search(word, **options)
        for hits in (hits_a, hits_b):
            echo_pieces_note(hits.query)
        side = SideBySide(word=word, a=hits_a, b=hits_b)
        frame = side.to_pandas()
        if as_json:
            frame.insert(0, "query", word)
            frame.insert(1, "space_a", side.name_a)
            frame.insert(2, "space_b", side.name_b)
            echo_json_records(frame)
            for note in side.stability_notes():
                click.echo(f"note: {note}", err=True)
            continue
        echo_side_by_side(side)


COMMANDS = [neighbors]
