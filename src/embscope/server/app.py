"""The web explorer's HTTP API: ``create_app(sources)`` serves the spaces it was started with and
nothing else (no path from a request reaches the filesystem).

Routes live under ``/api``, one router per resource in ``routes/``, their models in
``schemas.py``, and what they share (spaces, jobs, caches, locks) in one ``ServerState``
(``state.py``); a built front end, when the package holds one, is mounted last at ``/``.
Coordinates travel as Arrow IPC streams (typed columns), not JSON lists of floats. User errors
answer 4xx with a message (an unknown word: 404 with the closest vocabulary matches);
projections run as background jobs that every client asking for the same one shares.

Hardened for a server that a browser with other sites open can reach (``guard.py``: the Host,
origin, content type and body size of every request), and against clients that ask too much:
the job queue is bounded (429 beyond it) and jobs can be cancelled, requests that compute for
a while take a lane of their own (``lanes.py``) so they cannot starve the neighbour queries,
and every text input is checked before it reaches the library.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import EmbscopeError, InvalidParameterError, UnknownKeyError
from ..space import EmbeddingSpace
from .guard import MAX_BODY, HostNames, RequestGuard
from .jobs import MAX_QUEUED, QueueFull
from .routes import ROUTERS
from .state import ServerState, attach

STOP_WAIT_SECONDS = 3.0
STATIC = Path(__file__).with_name("static")


def create_app(
    sources: Sequence[str | EmbeddingSpace],
    *,
    workers: int = 1,
    max_queued: int = MAX_QUEUED,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The explorer's app for ``sources`` (names, paths or hub ids as ``embscope.load`` takes
    them, or spaces); ``workers`` background threads compute projections, and at most
    ``max_queued`` jobs wait for them.

    Requests must name the server by a loopback name, ``host`` (the address it listens on) or
    one of ``allowed_hosts`` (``"*"``: any); request bodies are at most ``max_body`` bytes."""
    if not sources:
        raise InvalidParameterError("give at least one source to serve")
    state = ServerState.start(sources, workers=workers, max_queued=max_queued)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # a stopped server stops computing: queued jobs are dropped, running ones cancelled
        await anyio.to_thread.run_sync(lambda: state.jobs.shutdown(wait=STOP_WAIT_SECONDS))

    app = FastAPI(
        title="embscope",
        version=__version__,
        description="Explore embedding spaces: neighbours, opposites, projections.",
        lifespan=lifespan,
    )
    attach(app, state)
    app.add_middleware(RequestGuard, hosts=HostNames(host, allowed_hosts), max_body=max_body)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(QueueFull, queue_full)
    app.add_exception_handler(UnknownKeyError, unknown_word)
    app.add_exception_handler(EmbscopeError, user_error)
    for router in ROUTERS:
        app.include_router(router)
    if (STATIC / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=STATIC, html=True), name="front-end")
    return app


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: an error message quoting what a client
    sent stays encodable whatever it sent (a lone surrogate has no UTF-8)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    # FastAPI's own handler echoes the input, and a lone surrogate in it cannot be encoded
    return AsciiJSONResponse(status_code=422, content={"detail": jsonable_encoder(error.errors())})


async def queue_full(_request: Request, error: QueueFull) -> JSONResponse:
    return AsciiJSONResponse(
        status_code=429, content={"detail": str(error)}, headers={"Retry-After": "5"}
    )


async def unknown_word(_request: Request, error: UnknownKeyError) -> JSONResponse:
    return AsciiJSONResponse(
        status_code=404,
        content={
            "detail": str(error),
            "suggestions": error.suggestions,
            "pieces": error.pieces,
            "piece_labels": error.piece_labels,
        },
    )


async def user_error(_request: Request, error: EmbscopeError) -> JSONResponse:
    return AsciiJSONResponse(status_code=400, content={"detail": str(error)})
