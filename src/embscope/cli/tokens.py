"""``embscope tokens``: under-trained and glitch token candidates of a vocabulary."""

from __future__ import annotations

from pathlib import Path

import click

from .common import check_output, echo_json, echo_json_records, echo_table


@click.command()
@click.argument("source")
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report: .html (summary, figure, candidates) or .parquet/.csv (every token).",
)
@click.option(
    "--references",
    help="Token ids or strings known never to be trained, comma-separated "
    "(default: the registry's: [unused*], bytes F5-FF, rows past the tokenizer).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.02,
    show_default=True,
    help="Candidates: this lowest share of the main indicator.",
)
@click.option(
    "--indicator",
    default="auto",
    show_default=True,
    help="The main indicator: auto, input_norm, output_cosine, output_l2, output_bias, "
    "centroid_distance.",
)
@click.option(
    "--verify",
    "verify_top",
    type=click.IntRange(min=1),
    help="Prompt the model (a causal LM checkpoint or GGUF file) to repeat its first N "
    "candidates, in batches (needs torch and transformers).",
)
@click.option("--revision", help="Branch, tag or commit of a hub id.")
@click.option("--json", "as_json", is_flag=True, help="The summary and candidates as JSON lines.")
def tokens(
    source: str,
    top: int,
    out: Path | None,
    references: str | None,
    threshold: float,
    indicator: str,
    verify_top: int | None,
    revision: str | None,
    as_json: bool,
) -> None:
    """Find under-trained and glitch tokens in SOURCE's vocabulary (a checkpoint, a bundled
    name, word vectors, or a tokenizer file such as gpt2.tiktoken for the audit alone)."""
    from ..tokens import scan
    from ..tokens.report import check_report_path

    if out is not None:
        check_output(check_report_path(out))
    report = scan(
        source,
        references=_references(references),
        threshold=threshold,
        indicator=indicator,
        revision=revision,
    )
    if verify_top is not None:
        report.verify(top=verify_top)
    table = report.table
    if report.indicator is not None:
        shown = report.candidates.head(top).astype({"rank": "int64"})
        indicators = [report.indicator, *(c for c in _INDICATOR_ORDER if c != report.indicator)]
        columns = ["rank", "token_id", "label", "category"]
        columns += [c for c in indicators if c in table.columns]
        columns += [c for c in ("max_probability", "verified") if c in table.columns]
        title = f"Candidates, most likely first ({len(shown)} of {len(report.candidates):,})"
        if report.caution is not None:  # no reference tokens: a list, not a finding
            title = (
                f"Lowest {report.indicator}, NOT evidence of under-training (no reference "
                f"tokens; --verify N tests them) ({len(shown)} of {len(report.candidates):,})"
            )
    else:  # a tokenizer alone: the tokens its audit flags
        flagged = table[~table["category"].isin(["ok", "special"])]
        order = {category: i for i, category in enumerate(_FLAGGED_FIRST)}
        shown = flagged.sort_values("category", key=lambda c: c.map(order), kind="stable")
        shown = shown.head(top)
        columns = ["token_id", "label", "category"]
        title = f"Tokens the tokenizer cannot produce or decode ({len(shown)} shown)"
    if as_json:
        echo_json({"summary": report.summary()})
        echo_json_records(shown[columns])
    else:
        click.echo(str(report))
        if len(shown):
            echo_table(shown[columns], title=title)
    if out is not None:
        report.save(out, top=max(top, 200))
        click.echo(f"wrote {out}", err=as_json)


_FLAGGED_FIRST = (
    "unused_byte",
    "unreachable_single",
    "unreachable_multi",
    "unreachable_special",
    "undecodable",
    "padding_row",
    "unchecked",
)
_INDICATOR_ORDER = ("output_cosine", "output_l2", "input_norm", "output_bias", "centroid_distance")


def _references(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    return [int(item) if item.strip().isdigit() else item.strip() for item in text.split(",")]


COMMANDS = [tokens]
