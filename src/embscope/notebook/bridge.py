"""The explorer's HTTP API answered inside this process: the widget's page sends what it would
send over HTTP through the widget's comm, and ``InProcessApp`` hands it to the same FastAPI
app ``embscope serve`` runs, as an ASGI call on an event loop of its own. No socket, no port,
no server process; the routes, their checks and their errors are the served page's.

The page is our own front end, but its messages are still treated as requests from a client:
only ``/api/`` paths and the HTTP methods the API uses, a bounded body, and the app's own
guard (host, content type, size) in front of every route."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import InvalidParameterError

METHODS = frozenset({"GET", "POST", "DELETE"})
# the request bodies the page sends are small JSON documents (a projection or compare request)
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What the app answered: status, content type and the body's bytes."""

    status: int
    content_type: str
    body: bytes


class InProcessApp:
    """An ASGI app run on a private event loop thread; ``request`` is thread-safe and blocks
    until the answer is complete (call it from worker threads, never from the loop)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="embscope-widget-app", daemon=True
        )
        self._thread.start()
        self._shutdown: asyncio.Event | None = None
        self._lifespan: Future[Any] | None = None
        self._closed = False
        self._start_lifespan()

    def request(
        self, method: str, url: str, *, body: bytes | None = None, content_type: str | None = None
    ) -> Answer:
        """The app's answer to ``method url`` (``url``: path and query string under /api/)."""
        method, path, query = _checked(method, url, body)
        if self._closed:
            raise InvalidParameterError("the explorer was closed; show a new one")
        headers = [(b"host", b"127.0.0.1")]
        if content_type:
            headers.append((b"content-type", content_type.encode("latin-1")))
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        call = self._call(method, path, query, headers, body or b"")
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()

    def close(self) -> None:
        """Run the app's shutdown (its jobs are cancelled) and stop the loop; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._shutdown is not None and self._lifespan is not None:
            self._loop.call_soon_threadsafe(self._shutdown.set)
            # the app is going away either way: a failing shutdown only loses its jobs
            with contextlib.suppress(Exception):
                self._lifespan.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _call(
        self, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("ascii", "strict"),
            "query_string": query.encode("ascii", "strict"),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 80),
        }
        done = asyncio.Event()
        delivered = False
        status, content_type, chunks = 500, "application/octet-stream", []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # the client stays until the answer is complete
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self._app(scope, receive, send)
        finally:
            done.set()
        return Answer(status=status, content_type=content_type, body=b"".join(chunks))

    def _start_lifespan(self) -> None:
        """Run the app's lifespan (startup now, shutdown on ``close``) as a server would."""
        started = threading.Event()
        self._shutdown = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not started.is_set():
                return {"type": "lifespan.startup"}
            assert self._shutdown is not None
            await self._shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup."):
                started.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._lifespan = asyncio.run_coroutine_threadsafe(
            self._app(scope, receive, send), self._loop
        )
        started.wait(timeout=30)


def _checked(method: str, url: str, body: bytes | None) -> tuple[str, str, str]:
    """``method`` upper-cased, the path and the query string of ``url``, or an error when the
    request is not one the page sends."""
    method = str(method).upper()
    if method not in METHODS:
        raise InvalidParameterError(f"the explorer's page sends no {method} requests")
    if not isinstance(url, str) or not url.isascii():
        raise InvalidParameterError("a request URL must be ASCII (percent-encoded)")
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/api/"):
        raise InvalidParameterError(f"the explorer answers /api/ paths only; got {url[:80]!r}")
    if body is not None and len(body) > MAX_REQUEST_BYTES:
        raise InvalidParameterError(
            f"a request body of {len(body):,} bytes is over {MAX_REQUEST_BYTES:,}"
        )
    return method, parts.path, parts.query


__all__ = ["MAX_REQUEST_BYTES", "METHODS", "Answer", "InProcessApp"]
