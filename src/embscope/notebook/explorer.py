"""``Explorer``: the web explorer inline in a notebook (Jupyter, JupyterLab, VS Code, Colab,
marimo), as an anywidget.

The page is the one ``embscope serve`` serves, built into ``static/widget.js`` and shown in an
iframe of the output; its requests come through the widget's comm and are answered by the same
FastAPI app inside the kernel (``bridge.InProcessApp``), so there is one front end and one API,
and no server, port or network. Each request is answered on a worker thread, so a projection
running in the app's job thread never keeps the kernel from answering the page, and the page
shows the job's progress as it does when served.

Python drives the page (``query``) and reads back what the user did: ``selection`` (the rows
selected on the cloud or in the histograms, with their metadata), ``projection`` (the points
drawn), ``on_select(callback)``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from ..errors import EmbscopeError, InvalidParameterError
from .bridge import InProcessApp

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
WIDGET_JS = STATIC / "widget.js"
# requests answered at once: a poll or a search is never stuck behind a slow export
REQUEST_THREADS = 4


class Explorer(anywidget.AnyWidget):
    """The explorer of ``sources`` inline; see the module note. ``height`` is in pixels."""

    # anywidget reads the file when the class is made: without a built page the class still
    # imports, and making a widget says what is missing
    _esm = WIDGET_JS if WIDGET_JS.is_file() else "export default { render() {} };"
    height = traitlets.Int(640).tag(sync=True)
    #: the query the page shows; set it to search a word in the page
    query = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        sources: Sequence[str | EmbeddingSpace],
        *,
        height: int = 640,
        query: str = "",
        workers: int = 1,
    ) -> None:
        from ..server.app import create_app
        from ..server.state import state_of

        if isinstance(height, bool) or not isinstance(height, int) or not 200 <= height <= 4000:
            raise InvalidParameterError(f"height must be 200 to 4000 pixels; got {height!r}")
        if not WIDGET_JS.is_file():
            raise EmbscopeError(
                "this installation has no built widget page (embscope/notebook/static/widget.js); "
                "reinstall embscope, or build it: cd frontend && npm ci && npm run build"
            )
        app = create_app(list(sources), workers=workers)
        self._state = state_of(app)
        self._app = InProcessApp(app)
        self._pool = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="embscope-widget")
        self._lock = threading.Lock()
        self._selected: tuple[str, str | None, np.ndarray] | None = None
        self._drawn: tuple[str, str] | None = None
        self._shown_query = ""
        self._callbacks: list[Callable[[pd.DataFrame], Any]] = []
        super().__init__(height=height)
        self.on_msg(self._on_page_message)
        self.observe(self._query_set, names="query")
        if query:
            self.query = query

    # ---- what Python reads back -----------------------------------------------------------
    @property
    def sources(self) -> list[str]:
        """The ids of the sources the page offers."""
        return self._state.spaces.ids

    @property
    def selection(self) -> pd.DataFrame:
        """The selected rows of the projection drawn (key, label, x, y(, z), metadata), in its
        order; empty when nothing is selected. ``attrs`` name the source and the projection."""
        with self._lock:
            selected = self._selected
        if selected is None or selected[1] is None:
            return _empty_selection()
        source, job_id, indices = selected
        coords = self._coords_of(job_id)
        if coords is None:
            return _empty_selection()
        frame = coords.iloc[indices].reset_index(drop=True)
        frame.attrs.update(source=source, projection=job_id, method=coords.attrs.get("method"))
        return frame

    @property
    def projection(self) -> pd.DataFrame | None:
        """The projection drawn in the page (its coordinates, keys, labels and metadata, as
        ``Projection.coords``), or None before one is drawn."""
        with self._lock:
            drawn = self._drawn
        return None if drawn is None else self._coords_of(drawn[1])

    def on_select(self, callback: Callable[[pd.DataFrame], Any]) -> None:
        """Call ``callback(selection)`` each time the selection in the page changes."""
        if not callable(callback):
            raise InvalidParameterError(f"on_select takes a function; got {callback!r}")
        self._callbacks.append(callback)

    def close(self) -> None:
        """Close the widget and stop its app (its projection jobs are cancelled)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._app.close()
        super().close()

    def __repr__(self) -> str:
        return f"<Explorer of {', '.join(self.sources)}: query {self.query!r}>"

    # ---- the comm ---------------------------------------------------------------------------
    def _query_set(self, change: dict[str, Any]) -> None:
        query = change["new"]
        # a query the page itself reported (the user searched there) is not sent back to it
        if query and query != self._shown_query:
            self.send({"kind": "search", "query": query})

    def _on_page_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        if kind == "request":
            self._pool.submit(self._answer, content)
        elif kind == "query" and isinstance(content.get("query"), str):
            self._shown_query = content["query"]
            self.query = content["query"]
        elif kind == "projection":
            with self._lock:
                self._drawn = (str(content.get("source")), str(content.get("job")))
        elif kind == "selection":
            self._selection_changed(content, buffers)

    def _answer(self, content: dict[str, Any]) -> None:
        request_id = content.get("id")
        body = content.get("body")
        try:
            answer = self._app.request(
                content.get("method", "GET"),
                content.get("url", ""),
                body=body.encode("utf-8") if isinstance(body, str) else None,
                content_type=content.get("content_type"),
            )
            status, content_type, data = answer.status, answer.content_type, answer.body
        except EmbscopeError as error:  # a request the page should not have sent
            status, content_type = 400, "application/json"
            data = _json_detail(str(error))
        except Exception as error:  # a bug: the page shows a message, the kernel logs it
            logger.exception("the explorer's request %s failed", content.get("url"))
            status, content_type = 500, "application/json"
            data = _json_detail(f"the explorer failed ({type(error).__name__}); see the log")
        reply = {"kind": "response", "id": request_id, "status": status}
        self.send({**reply, "content_type": content_type}, buffers=[data])

    def _selection_changed(self, content: dict[str, Any], buffers: list[Any]) -> None:
        job = content.get("job")
        data = bytes(buffers[0]) if buffers else b""
        if len(data) % 4:
            logger.warning("the page sent a selection that is not int32 indices; ignored")
            return
        indices = np.frombuffer(data, dtype=np.int32).astype(np.int64)
        job = job if isinstance(job, str) else None
        coords = self._coords_of(job)
        if (
            coords is not None
            and len(indices)
            and not 0 <= indices.min() <= indices.max() < len(coords)
        ):
            logger.warning("the page selected points its projection does not hold; ignored")
            return
        with self._lock:
            self._selected = (str(content.get("source")), job, indices)
        if self._callbacks:
            selection = self.selection
            for callback in list(self._callbacks):
                try:
                    callback(selection)
                except Exception:  # a user's callback must not stop the page's messages
                    logger.exception("on_select callback %r failed", callback)

    def _coords_of(self, job_id: str | None) -> pd.DataFrame | None:
        job = self._state.jobs.get(job_id) if job_id else None
        if job is None or job.state != "done" or job.result is None:
            return None
        return job.result.coords


def _empty_selection() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"key": [], "label": [], "x": [], "y": []})


def _json_detail(message: str) -> bytes:
    import json

    return json.dumps({"detail": message}).encode("utf-8")


def widget(*sources: str | EmbeddingSpace, **options: Any) -> Explorer:
    """The explorer of ``sources`` (spaces, or names/paths/hub ids as ``embscope.load`` takes
    them) inline in a notebook; options: ``height`` (pixels), ``query`` (searched at once),
    ``workers`` (projection threads)."""
    if not sources:
        raise InvalidParameterError("give at least one space or source to explore")
    return Explorer(sources, **options)


__all__ = ["Explorer", "widget"]
