"""What one running app holds: its spaces, its job queue, the locks and lanes requests share,
and what is cached per space or per job. Routes reach it through the ``get_state`` dependency
(``state: StateDep`` in a route's parameters), never through loose ``app.state`` attributes."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from ..space import EmbeddingSpace
from .completion import PrefixIndex
from .jobs import JobCache, JobRunner
from .lanes import Lane
from .schemas import ClusterLabel

MAX_SLOW_WAITING = 8
_SOURCE_ID = re.compile(r"[^a-z0-9]+")


class Spaces:
    """The sources the server was started with, by id, loaded on first use (loading a
    checkpoint takes a moment; a server with several should start at once), and each one's
    completion index, built on its first completion."""

    def __init__(self, sources: Sequence[str | EmbeddingSpace]) -> None:
        self._given: dict[str, str | EmbeddingSpace] = {}
        for source in sources:
            name = source.name if isinstance(source, EmbeddingSpace) else str(source)
            base = _SOURCE_ID.sub("-", Path(name).name.lower()).strip("-") or "source"
            source_id, number = base, 2
            while source_id in self._given:
                source_id, number = f"{base}-{number}", number + 1
            self._given[source_id] = source
        self._loaded: dict[str, EmbeddingSpace] = {}
        self._prefixes: dict[str, PrefixIndex] = {}
        self._lock = threading.Lock()

    @property
    def ids(self) -> list[str]:
        return list(self._given)

    def get(self, source_id: str) -> EmbeddingSpace:
        """The space of ``source_id``, loaded now if it was not yet; an id the server was not
        started with is a 404 naming the ones it was."""
        if source_id not in self._given:
            raise HTTPException(
                404, f"no source {source_id!r}; this server has {', '.join(self._given)}"
            )
        with self._lock:
            if source_id not in self._loaded:
                given = self._given[source_id]
                if isinstance(given, EmbeddingSpace):
                    self._loaded[source_id] = given
                else:
                    from ..sources import load

                    self._loaded[source_id] = load(given)
            return self._loaded[source_id]

    def prefixes(self, source_id: str) -> PrefixIndex:
        """The completion index of ``source_id``'s space."""
        space = self.get(source_id)
        with self._lock:
            if source_id not in self._prefixes:
                self._prefixes[source_id] = PrefixIndex(space)
            return self._prefixes[source_id]


@dataclass(frozen=True)
class ServerState:
    """One app's state. ``compute`` lets one search run at a time: a search reads the whole
    matrix with BLAS threads that already use every core, so twenty concurrent ones only thrash
    (measured: 23 requests/s with 20 clients unserialised); queued, each takes a few
    milliseconds. ``slow`` is the lane of the requests that compute for a while (``lanes.py``).
    ``clusters`` holds each projection job's cluster names while the job is kept."""

    spaces: Spaces
    jobs: JobRunner
    compute: threading.Lock
    slow: Lane
    clusters: JobCache[list[ClusterLabel]]

    @classmethod
    def start(
        cls, sources: Sequence[str | EmbeddingSpace], *, workers: int, max_queued: int
    ) -> ServerState:
        """The state of a new app serving ``sources``, its job workers started."""
        jobs = JobRunner(workers, max_queued=max_queued)
        return cls(
            spaces=Spaces(sources),
            jobs=jobs,
            compute=threading.Lock(),
            slow=Lane(waiting=MAX_SLOW_WAITING),
            clusters=JobCache(jobs),
        )


def attach(app: FastAPI, state: ServerState) -> None:
    app.state.embscope = state


def state_of(app: FastAPI) -> ServerState:
    """The state of an app ``create_app`` made."""
    state = app.state.embscope
    assert isinstance(state, ServerState)
    return state


async def get_state(request: Request) -> ServerState:
    # async: a plain def dependency would cost every request a hop through the thread pool
    return state_of(request.app)


StateDep = Annotated[ServerState, Depends(get_state)]
