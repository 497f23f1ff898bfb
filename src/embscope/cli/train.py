"""``embscope train``: the notebook's sentiment model on labelled texts, saved as a directory
that every other command takes as a source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import check_output, position_or_name


@click.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--text", "text_column", help="The text column (name or 0-based position).")
@click.option("--label", "label_column", help="The label column.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The directory to save the model in (the best model so far is kept there).",
)
@click.option(
    "--label-names",
    help="Names of numbered labels, comma-separated in label order (neg,pos) or a file with "
    "one per line; applied to every DATA whose labels are numbers.",
)
@click.option("--classes", help="The class order, comma-separated (default: 0,1 or sorted names).")
@click.option(
    "--held-out",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A set you evaluate on: training texts equal to or holding its texts are removed "
    "(repeatable).",
)
@click.option("--vocab-size", type=click.IntRange(min=3), default=10_000, show_default=True)
@click.option("--sequence-length", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--dim", type=int, default=16, show_default=True, help="Embedding dimensions.")
@click.option("--hidden", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--pooling",
    type=click.Choice(["auto", "mean", "masked"]),
    default="auto",
    show_default=True,
    help="mean: over every position, padding included (Keras); masked: over the text's tokens.",
)
@click.option(
    "--standardization",
    type=click.Choice(["normalized", "keras"]),
    default="normalized",
    show_default=True,
    help="keras: exactly TextVectorization's; normalized: also joins PTB contractions, drops "
    "HTML tags.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, mps…")
def train(
    data: tuple[Path, ...],
    text_column: str | None,
    label_column: str | None,
    out: Path,
    label_names: str | None,
    classes: str | None,
    held_out: tuple[Path, ...],
    vocab_size: int,
    sequence_length: int,
    dim: int,
    hidden: int,
    pooling: str,
    standardization: str,
    epochs: int,
    patience: int,
    batch_size: int,
    learning_rate: float,
    validation_split: float,
    seed: int,
    device: str,
) -> None:
    """Train a sentiment model on the labelled texts of DATA (one or more files or folders)
    and save it to OUT; then explore it: embscope neighbors horrible --source OUT.

    Each epoch prints its training and validation loss and accuracy; training stops when the
    validation loss has not improved for --patience epochs and keeps the best epoch's weights.
    """
    from ..train.run import check_output_directory
    from ..train.sentiment import sentiment

    check_output(check_output_directory(out), directory=True)
    best: dict[str, Any] = {}

    def show(record: dict[str, Any]) -> None:
        if record["best"]:
            best.update(record)
        click.echo(
            f"epoch {record['epoch']:>{len(str(epochs))}}/{epochs}  "
            f"loss {record['loss']:.4f}  accuracy {record['accuracy']:.4f}  "
            f"val_loss {record['val_loss']:.4f}  val_accuracy {record['val_accuracy']:.4f}  "
            f"{record['seconds']:.1f} s{'  (best so far, saved)' if record['best'] else ''}",
            err=True,
        )

    try:
        run = sentiment(
            list(data),
            text=position_or_name(text_column),
            label=position_or_name(label_column),
            label_names=_names(label_names),
            classes=[c.strip() for c in classes.split(",")] if classes else None,
            held_out=list(held_out),
            vocab_size=vocab_size,
            sequence_length=sequence_length,
            dim=dim,
            hidden=hidden,
            pooling=pooling,
            standardization=standardization,
            epochs=epochs,
            patience=patience,
            batch_size=batch_size,
            learning_rate=learning_rate,
            validation_split=validation_split,
            random_state=seed,
            device=device,
            checkpoint=out,
            on_epoch=show,
        )
    except KeyboardInterrupt:
        if best:
            click.echo(
                f"\n{out} holds the best model so far (epoch {best['epoch']})",
                err=True,
            )
        raise click.Abort() from None
    run.save(out)
    data_report = run.data
    classes_shown = ", ".join(f"{n} {c:,}" for n, c in data_report["class_counts"].items())
    click.echo(
        f"trained on {data_report['training_rows']:,} texts, validated on "
        f"{data_report['validation_rows']:,} ({classes_shown}); vocabulary "
        f"{len(run.vectorizer):,}, {run.config['dim']} dimensions, {run.config['pooling']} "
        f"pooling, on {run.config['device']}"
    )
    click.echo(
        f"best epoch {best['epoch']}: val_loss {best['val_loss']:.4f}, "
        f"val_accuracy {best['val_accuracy']:.4f}; saved to {out}"
    )
    click.echo(f"explore it: embscope neighbors WORD --source {out} --restrict-vocab 2000")


def _names(label_names: str | None) -> Any:
    if label_names is None:
        return None
    if Path(label_names).expanduser().is_file():
        return Path(label_names).expanduser()
    return [name.strip() for name in label_names.split(",")]


COMMANDS = [train]
