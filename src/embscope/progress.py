"""A progress bar for long computations: rich, on stderr, gone when done; a no-op if disabled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: float, description: str, *, enabled: bool = True) -> Iterator[Callable]:
    """Yield ``advance(amount, description=None)``; the bar shows percent done and time left
    out of ``total``, and a new ``description`` names the phase a computation has reached."""
    if not enabled:
        yield lambda amount, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(amount: float, description: str | None = None) -> None:
            if description is not None:
                bar.update(task, description=description)
            bar.advance(task, amount)

        yield advance
