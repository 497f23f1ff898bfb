"""Options and rendering shared by the commands."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
import pandas as pd

from ..metrics import METRIC_NAMES
from ..search.results import Hits, ResolvedQuery
from ..space import EmbeddingSpace

if TYPE_CHECKING:
    from ..analysis.compare import SideBySide

DEFAULT_SOURCE = "minilm"


def _one_source(_ctx: click.Context, _param: click.Parameter, given: tuple[str, ...]) -> str:
    # click keeps the last of a repeated option silently: "-s a -s b" would answer from b
    # alone while the user may think both were read
    if len(given) > 1:
        raise click.BadParameter(
            f"given {len(given)} times ({', '.join(given)}); this command reads one source: "
            "run it once per source"
        )
    return given[0] if given else DEFAULT_SOURCE


def source_option(command: Any) -> Any:
    """``--source/-s`` (once), with the options that say how to read it."""
    command = load_options(command)
    return click.option(
        "--source",
        "-s",
        multiple=True,
        callback=_one_source,
        help=f"Bundled name, checkpoint directory or hub id, or a vectors file.  [default: "
        f"{DEFAULT_SOURCE}]",
    )(command)


def _one_or_two_sources(
    _ctx: click.Context, _param: click.Parameter, given: tuple[str, ...]
) -> tuple[str, ...]:
    if len(given) > 2:
        raise click.BadParameter(
            f"given {len(given)} times ({', '.join(given)}); two sources are shown side by "
            "side, no more: run it once per pair"
        )
    return given or (DEFAULT_SOURCE,)


def one_or_two_sources_option(command: Any) -> Any:
    """``--source/-s`` once, or twice for two spaces side by side, with the options that say
    how to read them (both the same way)."""
    command = load_options(command)
    return click.option(
        "--source",
        "-s",
        "sources",
        multiple=True,
        callback=_one_or_two_sources,
        help=f"Bundled name, checkpoint directory or hub id, or a vectors file; twice for two "
        f"spaces side by side.  [default: {DEFAULT_SOURCE}]",
    )(command)


metric_option = click.option(
    "--metric",
    "-m",
    type=click.Choice(METRIC_NAMES),
    default=None,
    help="Similarity to rank by (default: the space's own, usually cosine).",
)
pieces_option = click.option(
    "--pieces",
    type=click.Choice(["error", "mean"]),
    default="error",
    show_default=True,
    help="A word the tokenizer splits into several pieces: stop and show them, or use their mean.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")


_LOAD_OPTIONS = "embscope.load_options"


def _remember_load_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        if param.name == "max_inflation":
            value = None if value.lower() == "none" else _inflation_bound(value)
        ctx.meta.setdefault(_LOAD_OPTIONS, {})[_LOAD_OPTION_NAMES[param.name]] = value


def _inflation_bound(text: str) -> float:
    try:
        bound = float(text)
    except ValueError:
        bound = 0.0
    if not bound >= 1:
        raise click.BadParameter(f"a number of at least 1, or 'none'; got {text!r}")
    return bound


# CLI option -> the keyword embscope.load takes
_LOAD_OPTION_NAMES = {
    "vocab": "vocabulary",
    "model": "model",
    "max_inflation": "max_inflation",
    "layer": "layer",
    "key": "key",
    "column": "column",
    "tokenizer": "tokenizer",
    "initializer": "initializer",
    "folder": "folder",
}
# options that only pick a part of a file, by name: passed on as given
_PART_OPTIONS = {
    "--layer": "A Keras file's Embedding layer, by name (when it has several).",
    "--key": "The array of an .npz that holds the vectors (when it has several).",
    "--column": "The vector column of a Parquet or CSV table (when it has several).",
    "--tokenizer": "An ONNX model's tokenizer file or folder (when none lies beside it).",
    "--initializer": "The ONNX initializer that holds the embedding (when the graph hides it).",
    "--folder": "The checkpoint folder inside a zip (when the zip holds several).",
}


def load_options(command: Any) -> Any:
    """``--vocab``, ``--model`` and ``--max-inflation``, for every command that reads a
    source; ``load_space`` passes them on (only the readers that take them accept them, the
    others say so)."""
    for flag, help_text in _PART_OPTIONS.items():
        command = click.option(
            flag, expose_value=False, callback=_remember_load_option, help=help_text
        )(command)
    command = click.option(
        "--max-inflation",
        "max_inflation",
        metavar="N|none",
        expose_value=False,
        callback=_remember_load_option,
        help="A compressed file (.npz, .keras, .gz, Parquet) may take at most N times its size "
        "in memory (default 100, and 64 MiB always); 'none' lifts the bound for a file you "
        "trust.",
    )(command)
    command = click.option(
        "--model",
        expose_value=False,
        callback=_remember_load_option,
        help="For a document space (Parquet from `embscope encode`): the model that encodes "
        "typed queries; the file's own record of its model is used only when it is a bundled "
        "one.",
    )(command)
    return click.option(
        "--vocab",
        "--vocabulary",
        "vocab",
        expose_value=False,
        type=click.Path(exists=True, dir_okay=False),
        callback=_remember_load_option,
        help="The vocabulary file (one token per line) of a Keras model or a .npy/.npz matrix.",
    )(command)


def load_space(source: str) -> EmbeddingSpace:
    from .. import load

    context = click.get_current_context(silent=True)
    options = context.meta.get(_LOAD_OPTIONS, {}) if context is not None else {}
    return load(source, **options)


def echo_pieces_note(query: ResolvedQuery) -> None:
    """Say on stderr when a word was answered by other keys than it names: its word-start
    token, its pieces, another case. They are shown as tables show them (``␣king``, never
    ``Ġking``); a label typed as shown needs no note."""
    if query.looked_up_as:
        click.echo(f"note: {query.text!r} was looked up as {query.looked_up_as}", err=True)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def echo_json_records(frame: pd.DataFrame) -> None:
    for record in frame.to_dict(orient="records"):
        click.echo(json.dumps({k: _plain(v) for k, v in record.items()}, ensure_ascii=False))


def echo_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps({k: _plain(v) for k, v in payload.items()}, ensure_ascii=False))


def echo_table(frame: pd.DataFrame, *, title: str | None = None) -> None:
    """A DataFrame as a terminal table (plain text when piped).

    Cells are rich Text, not markup: a token such as ``[CLS]`` or ``[unused5]`` must print as
    itself, not vanish as a style tag; long cells wrap instead of being cut.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(title) if title else None,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and frame[column].dtype != bool
        table.add_column(
            str(column),
            justify="right" if numeric else "left",
            overflow="fold",
            # a header or a number broken over two lines ("betwee / n") reads as two things
            min_width=len(str(column)),
            no_wrap=numeric,
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(_format_cell(value)) for value in row))
    # piped into a file or another program there is no terminal width to fit: rich's
    # fallback of 80 columns would fold every wide table
    width = None if sys.stdout.isatty() else PIPED_WIDTH
    Console(file=sys.stdout, soft_wrap=True, width=width).print(table)


PIPED_WIDTH = 1000


# a cell longer than this (a document's text) is cut, so a row stays a few lines high
CELL_CHARACTERS = 60


def _format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | np.floating):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    text = " ".join(str(value).split()) if len(str(value)) > CELL_CHARACTERS else str(value)
    return text if len(text) <= CELL_CHARACTERS else text[: CELL_CHARACTERS - 1] + "…"


def echo_stability(hits: Hits, *, err: bool = False) -> None:
    """Say under a list when its order is a near tie (``Hits.stability``)."""
    stability = hits.stability
    if stability is not None and stability.near_tie:
        click.echo(f"{'note: ' if err else ''}{stability.line()}", err=err)


_SIDE_HEADER_CHARACTERS = 24


def echo_side_by_side(side: SideBySide) -> None:
    """Two lists as one table, a row's label marked * when both lists hold it, and a note
    under it for a list that is a near tie."""
    frame = side.to_pandas()
    table = frame[["rank"]].copy()
    for suffix, name in (("a", side.name_a), ("b", side.name_b)):
        labels = frame[f"label_{suffix}"]
        marks = frame[f"in_both_{suffix}"].map({True: "*", False: ""})
        # the title names both spaces; a long path as a column header would double the width
        header = name if len(name) <= _SIDE_HEADER_CHARACTERS else suffix.upper()
        table[header] = (marks + labels.fillna("")).where(labels.notna(), None)
        table[f"score {suffix.upper()}"] = frame[f"score_{suffix}"]
    click.echo(side.title())  # a table's title wraps to the table's width: two paths would fold
    echo_table(table)
    click.echo("* in both lists")
    for note in side.stability_notes():
        click.echo(note)


def score_title(hits: Hits, what: str, *, query: str | None = None) -> str:
    """``Neighbours of 'good' in glove-6b-50d (score = cosine similarity)``; ``query`` names
    the query otherwise than as typed."""
    shown = query if query is not None else hits.query.text
    return f"{what} of {shown!r} in {hits.space_name} ({hits.metric.meaning})"


def position_or_name(value: str | None) -> str | int | None:
    """A column option: digits are a 0-based position, anything else a name."""
    return int(value) if value is not None and value.isdigit() else value


def check_output(path: Path, *, directory: bool = False) -> Path:
    """``path`` if a result can be written there; otherwise one line now, before the work.

    A folder that is really a file, a file name that is a folder, or a place this process may
    not create files in (a read-only disk, a folder of someone else's) would otherwise be
    found only after minutes of work, and the work lost.
    """
    path = path.expanduser()
    if path.exists() and path.is_dir() != directory:
        wanted = "a directory" if directory else "a file name"
        found = "a directory" if path.is_dir() else "a file"
        raise click.ClickException(f"{path} is {found}; give {wanted}")
    nearest = path if directory and path.is_dir() else path.parent
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise click.ClickException(f"cannot write {path}: {nearest} is a file, not a directory")
    try:  # the only honest test: os.access says yes to root on a read-only disk
        handle, probe = tempfile.mkstemp(dir=nearest, prefix=".embscope-write-test-")
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise click.ClickException(
            f"cannot write {path}: {nearest}: {reason}; choose another place"
        ) from None
    os.close(handle)
    os.unlink(probe)
    return path
