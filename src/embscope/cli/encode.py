"""``embscope encode``: a labelled text dataset → a document space in Parquet, which every
other command then takes as its source."""

from __future__ import annotations

from pathlib import Path

import click

from ..text.model import BACKENDS, DEFAULT_BATCH_SIZE
from .common import check_output, position_or_name


@click.command()
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--text", "text_column", help="The text column (name or 0-based position).")
@click.option("--label", "label_column", help="The label column, if any.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The document space to write (.parquet).",
)
@click.option(
    "--model",
    default="minilm",
    show_default=True,
    help="sentence-transformers model: minilm (bundled, offline), a directory or a hub id.",
)
@click.option("--columns", help="Column names of a CSV/TSV without a header, comma-separated.")
@click.option(
    "--label-names",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file naming the integer labels, one name per line (line n = label n).",
)
@click.option(
    "--format",
    "data_format",
    default="auto",
    show_default=True,
    type=click.Choice(
        ["auto", "csv", "tsv", "jsonl", "parquet", "lines", "label-text", "text-tab-label"]
    ),
)
@click.option("--sample-per-label", type=click.IntRange(min=1), help="At most N texts per label.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True
)
@click.option("--device", help="cpu, cuda, cuda:1, mps… (default: a GPU when there is one).")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: a Ray Data pipeline over model replicas (pip install 'embscope[ray]').",
)
@click.option(
    "--backend",
    type=click.Choice(list(BACKENDS)),
    default="auto",
    show_default=True,
    help="What runs the model. auto: torch on a GPU; on a CPU, bfloat16 where the CPU has "
    "native bf16 and a sample stays within cosine 0.9999 of fp32, else ONNX Runtime "
    "(pip install 'embscope[onnx]') when it reproduces the model, else torch. onnx-int8 is "
    "faster and less exact, and prints what it costs against fp32.",
)
@click.option("--ray-address", help="A running Ray cluster (auto, ray://host:10001).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the encoding cache.")
def encode(
    data: Path,
    text_column: str | None,
    label_column: str | None,
    out: Path,
    model: str,
    columns: str | None,
    label_names: Path | None,
    data_format: str,
    sample_per_label: int | None,
    seed: int,
    batch_size: int,
    device: str | None,
    engine: str,
    backend: str,
    ray_address: str | None,
    no_cache: bool,
) -> None:
    """Encode the texts of DATA (CSV/TSV, JSONL, Parquet, text lines, or a folder per label)
    and write a document space to OUT.

    Encodings are cached per model and text: running again after adding rows encodes only
    the new ones, and an interrupted run resumes where it stopped.
    """
    from ..sources.export import export
    from ..text.encode import encode_dataset_reported

    if out.suffix.lower() != ".parquet":
        raise click.UsageError(f"--out must be a .parquet file; got {out.name!r}")
    check_output(out)
    space, report = encode_dataset_reported(
        data,
        text=position_or_name(text_column),
        label=position_or_name(label_column),
        model=model,
        columns=[c.strip() for c in columns.split(",")] if columns else None,
        label_names=label_names,
        format=data_format,
        sample_per_label=sample_per_label,
        random_state=seed,
        batch_size=batch_size,
        device=device,
        engine=engine,
        cache=not no_cache,
        ray_address=ray_address,
        backend=backend,
    )
    click.echo(str(report))
    export(space, out, format="parquet")
    label = space.provenance.options["label_column"]
    classes = f", {space.metadata[label].nunique()} classes in {label!r}" if label else ""
    click.echo(f"wrote {out}: {len(space):,} texts x {space.dim}{classes}")


COMMANDS = [encode]
