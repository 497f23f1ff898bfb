"""The ``embscope`` command: each subcommand parses, calls the library, renders."""

from __future__ import annotations

import errno
import logging
import os
import sys
import traceback
from typing import Any

import click

from ..errors import EmbscopeError

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class _Group(click.Group):
    """One place where every failure becomes one line on stderr and a non-zero status.

    EmbscopeError (a user's mistake or a broken file) and the operating system's refusals (a
    folder that cannot be written, a full disk) are one line and status 1; Ctrl-C is
    "interrupted" and status 130; anything else is a bug in embscope: one line that says so,
    the traceback only with ``-v``.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EmbscopeError as error:
            raise click.ClickException(" ".join(str(error).split())) from None

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        if extra.pop("standalone_mode", True) is False:  # CliRunner and callers who handle it
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            status = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt) as error:
            if isinstance(error.__cause__, EOFError):  # click files a reader's EOFError here
                click.echo(f"Error: a file ended before its data did: {error.__cause__}", err=True)
                sys.exit(1)
            click.echo("\ninterrupted", err=True)
            sys.exit(INTERRUPTED)
        except OSError as error:
            if error.errno == errno.EPIPE:  # `embscope … | head`: the reader has gone
                sys.stderr.close()
                os._exit(1)
            click.echo(f"Error: {_describe_os_error(error)}", err=True)
            sys.exit(1)
        except Exception as error:
            if _out_of_memory(error):
                click.echo(
                    "Error: out of memory; try a smaller input (a sample, fewer rows, a smaller "
                    "model) or a machine with more memory",
                    err=True,
                )
                sys.exit(1)
            # a bug: say so in one line; -v shows where
            if logging.getLogger("embscope").isEnabledFor(logging.INFO):
                traceback.print_exc()
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            click.echo(
                f"Error: {type(error).__name__}{': ' + message[:300] if message else ''} "
                "(this is a bug in embscope: rerun with -v for the traceback and report it)",
                err=True,
            )
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)


def _out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError, or torch's allocator failing (a RuntimeError on the CPU,
    ``torch.OutOfMemoryError`` on a GPU)."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


def _describe_os_error(error: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` as ``x: permission denied``."""
    reason = (error.strerror or str(error)).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    where = error.filename if error.filename is not None else None
    return f"{where}: {reason}" if where is not None else reason


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
        compare,
        encode,
        evaluate,
        export,
        graph,
        info,
        neighbors,
        project,
        report,
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
        compare,
        report,
        export,
        serve,
    )
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
