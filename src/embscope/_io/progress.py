"""Progress of long computations: a rich bar on stderr (gone when done), a caller's callback
(the server's jobs report percent done to the page), or nothing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeAlias

ProgressCallback: TypeAlias = Callable[[float, str], None]
"""Called with the fraction done (0 to 1) and the phase the computation has reached."""

Progress: TypeAlias = bool | ProgressCallback
"""True: a bar on stderr; False: nothing; a callable: ``callback(fraction, phase)``."""


@contextmanager
def progress_bar(total: float, description: str, *, enabled: Progress = True) -> Iterator[Callable]:
    """Yield ``advance(amount, description=None)``; the bar shows percent done and time left
    out of ``total``, and a new ``description`` names the phase a computation has reached.
    ``enabled`` may be a callback, which then hears of every advance instead of a bar."""
    if callable(enabled):
        yield _reporter(total, description, enabled)
        return
    if not enabled:
        yield lambda amount, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
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


def _reporter(total: float, description: str, callback: ProgressCallback) -> Callable:
    done = 0.0
    phase = description
    callback(0.0, phase)

    def advance(amount: float, description: str | None = None) -> None:
        nonlocal done, phase
        done += amount
        phase = description if description is not None else phase
        callback(min(1.0, done / total) if total > 0 else 1.0, phase)

    return advance


class TqdmToCallback(io.TextIOBase):
    """A file for a library's own tqdm bar (umap-learn takes only tqdm's keyword arguments):
    with ``TqdmToCallback.BAR_FORMAT`` tqdm writes "n/total", which goes to ``callback``."""

    BAR_FORMAT = "{n}/{total}"
    _COUNT = re.compile(r"(\d+)/(\d+)\s*$")

    def __init__(self, callback: ProgressCallback, phase: str) -> None:
        super().__init__()
        self._callback = callback
        self._phase = phase

    def write(self, text: str) -> int:
        found = self._COUNT.search(text)
        if found and int(found.group(2)) > 0:
            self._callback(min(1.0, int(found.group(1)) / int(found.group(2))), self._phase)
        return len(text)

    def flush(self) -> None:  # tqdm flushes after every write
        pass
