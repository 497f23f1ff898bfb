"""The ``embscope`` command: each subcommand parses, calls the library, renders."""

from __future__ import annotations

import logging

import click

from ..errors import EmbscopeError


class _Group(click.Group):
    """Turns every EmbscopeError into a one-line message and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EmbscopeError as error:
            raise click.ClickException(str(error)) from None


class _NoteHandler(logging.Handler):
    """Prints embscope's log records (a sample drawn, an automatic choice) as notes on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"note: {record.getMessage()}", err=True)


def _show_notes(verbose: bool) -> None:
    package_logger = logging.getLogger("embscope")
    if not any(isinstance(h, _NoteHandler) for h in package_logger.handlers):
        package_logger.addHandler(_NoteHandler())
    package_logger.setLevel(logging.INFO if verbose else logging.WARNING)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="embscope")
@click.option("--verbose", "-v", is_flag=True, help="Also say which automatic choices were made.")
def main(verbose: bool) -> None:
    """Explore the embedding spaces of language models.

    SOURCE is a bundled name (see `embscope sources`), a Hugging Face checkpoint directory or
    hub id, a word-vector file (word2vec, GloVe, fastText), a Keras file, a .npy/.npz,
    Parquet/CSV table, or a TensorBoard projector folder.
    """
    _show_notes(verbose)


def _register() -> None:
    from . import (
        analogy,
        encode,
        evaluate,
        export,
        graph,
        info,
        neighbors,
        project,
        separation,
        serve,
        similarity,
        tokens,
        tour,
        train,
    )

    modules = (
        tour,
        info,
        neighbors,
        similarity,
        analogy,
        evaluate,
        graph,
        project,
        encode,
        train,
        tokens,
        separation,
        export,
        serve,
    )
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
