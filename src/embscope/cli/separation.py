"""``embscope separation``: how well the classes of a labelled space separate, and how similar
each class is to each other."""

from __future__ import annotations

import click

from .common import echo_json, echo_table, json_option, load_options, load_space


@click.command()
@click.argument("source")
@load_options
@click.option("--label", help="The label column (default: the one `embscope encode` recorded).")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the folds.")
@json_option
def separation(
    source: str, label: str | None, k: int, folds: int, seed: int, as_json: bool
) -> None:
    """Silhouette, cross-validated kNN and linear-probe accuracy of the classes of SOURCE,
    per-class recall, and the mean cosine within and between classes."""
    space = load_space(source)
    result = space.separation(label, k=k, folds=folds, random_state=seed)
    similarity = space.class_similarity(result.label_column)
    if as_json:
        echo_json({**result.summary(), "class_similarity": similarity.summary()})
        return
    click.echo(f"{result!r}"[1:-1])
    per_class = result.to_pandas().merge(
        similarity.per_class().drop(columns="count"), on="label", how="left"
    )
    echo_table(per_class, title=f"Per class ({folds}-fold cross-validation; cosine similarity)")
    matrix = similarity.mean.reset_index(names="mean cosine")
    echo_table(matrix, title="Mean cosine similarity between the members of two classes")


COMMANDS = [separation]
