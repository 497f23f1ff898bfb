"""Progress of long computations: a rich bar on stderr (gone when done), a caller's callback
(the server's jobs report percent done to the page), or nothing.

In a Jupyter kernel rich's bar is not used: rich draws there through an ipywidgets ``Output``
and, without ipywidgets, prints 'install "ipywidgets" for Jupyter support' on every refresh.
A notebook gets an ipywidgets progress bar when ipywidgets is installed (anywidget, which the
inline explorer needs, brings it), else one line of plain text updated in place (a display
update, which every notebook front end shows); both are gone when the work is done, as the
terminal bar is.
"""

from __future__ import annotations

import io
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

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
    if in_notebook():
        with notebook_bar(total, description) as advance:
            yield advance
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


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab), whose
    output is a notebook's rather than a terminal's."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


# a notebook bar is redrawn at most this often (seconds): every redraw is a message to the page
_REDRAW_EVERY = 0.15
_TEXT_BAR_WIDTH = 30


@contextmanager
def notebook_bar(total: float, description: str) -> Iterator[Callable]:
    """``progress_bar`` in a notebook: an ipywidgets bar when ipywidgets can be imported, else
    a line of text updated in place; removed when the work ends (or fails)."""
    quiet_tqdm_notice()
    try:
        draw, close = _widget_bar(total, description)
    except Exception:  # no ipywidgets, or no comm to the page: text needs neither
        draw, close = _text_bar(total, description)
    started = time.monotonic()
    state = {"done": 0.0, "phase": description, "drawn": started}

    def advance(amount: float, description: str | None = None) -> None:
        state["done"] += amount
        if description is not None:
            state["phase"] = description
        now = time.monotonic()
        if now - state["drawn"] >= _REDRAW_EVERY or state["done"] >= total:
            state["drawn"] = now
            draw(state["done"], state["phase"], now - started)

    try:
        yield advance
    finally:
        close()


def _eta(done: float, total: float, elapsed: float) -> str:
    if done <= 0 or total <= 0 or done >= total:
        return f"{elapsed:.0f} s"
    left = elapsed * (total - done) / done
    return f"{elapsed:.0f} s, about {left:.0f} s left"


def _widget_bar(total: float, description: str) -> tuple[Callable, Callable]:
    import ipywidgets
    from IPython.display import display

    label = ipywidgets.Label(description)
    bar = ipywidgets.FloatProgress(value=0.0, min=0.0, max=max(float(total), 1e-12))
    info = ipywidgets.Label("")
    box = ipywidgets.HBox([label, bar, info])
    handle = display(box, display_id=True)

    def draw(done: float, phase: str, elapsed: float) -> None:
        label.value = phase
        bar.value = min(done, bar.max)
        share = done / total if total > 0 else 1.0
        info.value = f"{min(share, 1.0):.0%} ({_eta(done, total, elapsed)})"

    def close() -> None:
        # the output becomes empty text, so a saved notebook keeps no view of a closed widget
        handle.update({"text/plain": ""}, raw=True)
        for widget in (box, label, bar, info):
            widget.close()

    return draw, close


def _text_bar(total: float, description: str) -> tuple[Callable, Callable]:
    from IPython.display import display

    def line(done: float, phase: str, elapsed: float) -> dict[str, Any]:
        share = min(done / total, 1.0) if total > 0 else 1.0
        filled = round(share * _TEXT_BAR_WIDTH)
        drawn = "━" * filled + " " * (_TEXT_BAR_WIDTH - filled)
        return {"text/plain": f"{phase}  {drawn}  {share:.0%} ({_eta(done, total, elapsed)})"}

    handle = display(line(0.0, description, 0.0), raw=True, display_id=True)

    def draw(done: float, phase: str, elapsed: float) -> None:
        handle.update(line(done, phase, elapsed), raw=True)

    def close() -> None:
        handle.update({"text/plain": ""}, raw=True)

    return draw, close


def quiet_tqdm_notice() -> None:
    """In a notebook without ipywidgets, import tqdm's notebook chooser with its notice
    ("IProgress not found. Please update jupyter and ipywidgets") silenced: the libraries
    embscope calls (huggingface_hub, transformers, umap-learn) import it, and their bars fall
    back to text without it. Once imported, a module is not imported (nor warns) again."""
    if "tqdm.autonotebook" in sys.modules or not in_notebook() or _has_ipywidgets():
        return
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*IProgress not found.*")
            import tqdm.auto  # noqa: F401 - imported for its side effect, once
    except ImportError:
        pass


def _has_ipywidgets() -> bool:
    import importlib.util

    if "ipywidgets" in sys.modules:
        return sys.modules["ipywidgets"] is not None
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False


# at import, before any library that embscope calls imports tqdm's chooser (umap-learn does
# when it is imported): nothing happens outside a notebook or where ipywidgets is installed
quiet_tqdm_notice()


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
