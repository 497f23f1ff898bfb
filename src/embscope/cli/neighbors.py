"""``embscope neighbors``: the closest (or most opposite) rows to words or vectors."""

from __future__ import annotations

from pathlib import Path

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
@click.argument("words", nargs=-1)
@source_option
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
@pieces_option
@json_option
def neighbors(
    words: tuple[str, ...],
    source: str,
    top_k: int,
    metric: str | None,
    opposite: bool,
    vector_file: Path | None,
    restrict_vocab: int | None,
    pieces: str,
    as_json: bool,
) -> None:
    """Nearest neighbours of each WORD (or, with --opposite, its most opposite rows)."""
    if not words and vector_file is None:
        raise click.UsageError("give at least one WORD, or --vector-file")
    space = load_space(source)
    batches: list = []  # each batch is answered by one matrix product
    if words:
        batches.append(list(words) if len(words) > 1 else words[0])
    if vector_file is not None:
        from ..sources.arrays import read_query_vectors

        vectors = read_query_vectors(vector_file, dim=space.dim)
        batches.append(vectors if len(vectors) > 1 else vectors[0])
    options = {"top_k": top_k, "metric": metric, "pieces": pieces, "opposite": opposite}
    if restrict_vocab is not None:
        options["restrict_vocab"] = restrict_vocab
    what = "Opposites" if opposite else "Neighbours"
    text_column = space.provenance.options.get("text_column")
    for batch in batches:
        for hits in space.search_many(batch, **options):
            echo_pieces_note(hits.query)
            frame = hits.to_pandas()
            if as_json:
                frame.insert(0, "query", hits.query.text)
                echo_json_records(frame)
            else:
                # a document's text is its label already: one copy in the table is enough
                hidden = [c for c in (text_column,) if c and c in frame.columns]
                echo_table(frame.drop(columns=hidden), title=score_title(hits, what))


COMMANDS = [neighbors]
