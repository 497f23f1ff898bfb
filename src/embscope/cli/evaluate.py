"""``embscope evaluate``: word-similarity and analogy benchmarks of a space, as gensim scores
them."""

from __future__ import annotations

import json
import math
from typing import Any

import click
import numpy as np
import pandas as pd

from ..analysis.analogy import ANALOGY_METHODS
from ..analysis.benchmark_data import ANALOGY_SETS, WORD_PAIR_SETS
from .common import DEFAULT_SOURCE, echo_table, json_option, load_options, load_space


@click.command()
@click.argument("source", required=False)
@load_options
@click.option(
    "--source",
    "-s",
    "source_option",
    default=None,
    help=f"The space, as SOURCE (default: {DEFAULT_SOURCE}).",
)
@click.option(
    "--pairs",
    multiple=True,
    metavar="NAME|PATH",
    help=f"Word-similarity set: {', '.join(WORD_PAIR_SETS)} or a word<TAB>word<TAB>score file "
    "(repeatable).",
)
@click.option(
    "--analogies",
    multiple=True,
    metavar="NAME|PATH",
    help=f"Analogy set: {', '.join(ANALOGY_SETS)} (questions-words) or a file in its format "
    "(repeatable).",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(min=1),
    default=300000,
    show_default=True,
    metavar="N",
    help="Only the first N rows count as known words, and answers come from them.",
)
@click.option("--case-sensitive", is_flag=True, help="Match words to keys exactly.")
@click.option(
    "--method",
    type=click.Choice(ANALOGY_METHODS, case_sensitive=False),
    default="3cosadd",
    show_default=True,
    help="How analogies are answered.",
)
@json_option
def evaluate(
    source: str | None,
    source_option: str | None,
    pairs: tuple[str, ...],
    analogies: tuple[str, ...],
    restrict_vocab: int,
    case_sensitive: bool,
    method: str,
    as_json: bool,
) -> None:
    """Correlation with human word-similarity scores and accuracy on analogy questions.

    With neither --pairs nor --analogies, runs wordsim353, simlex999 and google (the sets
    gensim ships: needs gensim installed, or give file paths).
    """
    if source and source_option and source != source_option:
        raise click.UsageError(f"two sources given: {source!r} and {source_option!r}")
    space = load_space(source or source_option or DEFAULT_SOURCE)
    if not pairs and not analogies:
        pairs, analogies = tuple(WORD_PAIR_SETS), tuple(ANALOGY_SETS)
    options: dict[str, Any] = {
        "restrict_vocab": restrict_vocab,
        "case_insensitive": not case_sensitive,
    }
    pair_results = [space.evaluate_word_pairs(name, **options) for name in pairs]
    analogy_results = []
    for name in analogies:
        if not as_json:
            click.echo(f"answering the {name} analogies…", err=True)
        analogy_results.append(space.evaluate_analogies(name, method=method.lower(), **options))

    if as_json:
        for result in pair_results:
            row = result.to_pandas().iloc[0].to_dict()
            _echo_line({"kind": "word_pairs", **row})
        for result in analogy_results:
            sections = result.sections.to_dict(orient="records")
            _echo_line(
                {
                    "kind": "analogies",
                    "dataset": result.dataset,
                    "space": result.space,
                    "method": result.method,
                    "accuracy": result.accuracy,
                    "correct": result.correct,
                    "incorrect": result.incorrect,
                    "oov": result.oov,
                    "oov_ratio": result.oov_ratio,
                    "questions_total": result.questions_total,
                    "restrict_vocab": result.restrict_vocab,
                    "sections": sections,
                }
            )
        return

    rows_known = min(restrict_vocab, len(space))
    if pair_results:
        table = pd.DataFrame(
            {
                "set": [r.dataset for r in pair_results],
                "pairs": [r.pairs_total for r in pair_results],
                "used": [r.pairs_used for r in pair_results],
                "unknown": [f"{r.oov_ratio:.1%}" for r in pair_results],
                "pearson": [r.pearson for r in pair_results],
                "spearman": [r.spearman for r in pair_results],
            }
        )
        echo_table(table, title=f"Word similarity on {space.name} (first {rows_known:,} rows)")
    for result in analogy_results:
        if pair_results or result is not analogy_results[0]:
            click.echo()
        table = result.to_pandas()
        table["accuracy"] = [_percent(value) for value in table["accuracy"]]
        echo_table(
            table,
            title=(
                f"Analogies {result.dataset} on {space.name} ({result.method}, first "
                f"{rows_known:,} rows; {result.oov:,} of {result.questions_total:,} questions "
                f"skipped for unknown words)"
            ),
        )


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def _echo_line(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(_plain(payload), ensure_ascii=False))


COMMANDS = [evaluate]
