"""``embscope report``: one self-contained HTML page about a space (shape, norms, anisotropy,
hubness, intrinsic dimension, a sample projection), its figures printed too."""

from __future__ import annotations

import re
from pathlib import Path

import click

from .common import check_output, echo_json, load_options, load_space


@click.command()
@click.argument("source")
@load_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML page (default: NAME-report.html); it opens offline.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Rows the sampled sections (anisotropy, hubness, intrinsic dimension) measure.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--label", help="The metadata column of classes (default: the one `embscope encode` recorded)."
)
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON line.")
def report(
    source: str, out: Path | None, sample: int, seed: int, label: str | None, as_json: bool
) -> None:
    """Measure SOURCE and write a one-page report on its geometry."""
    from ..analysis.report import report as measure

    if out is not None:
        check_output(out)
        if out.suffix.lower() not in (".html", ".htm"):
            raise click.BadParameter(
                f"a report is an .html file; got {out.name!r}", param_hint="--out"
            )
    space = load_space(source)
    found = measure(space, sample=sample, random_state=seed, label=label)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", space.name).strip("-.") or "space"
    written = found.save(out or Path(f"{name}-report.html"))
    if as_json:
        echo_json(
            {
                "name": found.name,
                "rows": found.rows,
                "dim": found.dim,
                "sample": found.sample,
                "mean_cosine": found.mean_cosine,
                "isotropy": found.isotropy,
                "mean_cosine_after": found.mean_cosine_after,
                "isotropy_after": found.isotropy_after,
                "hubness_skew": found.hubness_skew,
                "hubness_skew_centred": found.hubness_skew_centred,
                "hubs": [key for key, _ in found.hubs[:10]],
                "intrinsic_dimension": found.intrinsic_dimension,
                "seconds": found.seconds,
                "file": str(written),
            }
        )
        return
    click.echo(str(found))
    click.echo(f"wrote {written}")


COMMANDS = [report]
