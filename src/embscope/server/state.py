"""What one running app holds: its spaces, its job queue, the locks and lanes requests share,
and what is cached per space or per job. Routes reach it through the ``get_state`` dependency
(``state: StateDep`` in a route's parameters), never through loose ``app.state`` attributes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from ..space import EmbeddingSpace
from .completion import PrefixIndex
from .jobs import Job, JobCache, JobRunner, ProgressCallback
from .lanes import Lane
from .schemas import ClusterLabel

if TYPE_CHECKING:
    from ..analysis.compare import Comparison

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


ComparisonKey = tuple[str, str, int]
"""A comparison as the routes name it: source a, source b, top_k."""


class Comparisons:
    """The comparison jobs by (source a, source b, top_k), each kept while the runner keeps its
    job: once one is done, the summary, side-by-side, moved and layout requests read its
    ``Comparison`` at once. Memory stays bounded by the job store, as for projections."""

    def __init__(self, jobs: JobRunner) -> None:
        self._jobs = jobs
        self._by_key: dict[ComparisonKey, Job] = {}
        self._lock = threading.Lock()
        jobs.on_forget(self._forget)

    def start(
        self,
        key: ComparisonKey,
        description: str,
        work: Callable[[ProgressCallback], Comparison],
    ) -> Job:
        """Start (or join) the job comparing ``key``'s two sources."""
        job = self._jobs.submit(("compare", *key), description, work)
        with self._lock:
            self._by_key[key] = job
        return job

    def get(self, key: ComparisonKey) -> Comparison:
        """The finished comparison of ``key``: a 409 that says what to do while it is not."""
        a, b, top_k = key
        with self._lock:
            job = self._by_key.get(key)
        if job is None or self._jobs.get(job.id) is not job:
            raise HTTPException(
                409,
                f"{a} and {b} have not been compared at top_k={top_k} (or the result is no "
                "longer kept): start the comparison with POST /api/compare",
            )
        if job.state != "done":
            ended = f": {job.error}" if job.error else ""
            raise HTTPException(409, f"the comparison of {a} with {b} is {job.state}{ended}")
        return job.result

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_key)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            for key, job in list(self._by_key.items()):
                if job.id == job_id:
                    del self._by_key[key]


@dataclass(frozen=True)
class ServerState:
    """One app's state. ``compute`` lets one search run at a time: a search reads the whole
    matrix with BLAS threads that already use every core, so twenty concurrent ones only thrash
    (measured: 23 requests/s with 20 clients unserialised); queued, each takes a few
    milliseconds. ``slow`` is the lane of the requests that compute for a while (``lanes.py``).
    ``clusters`` holds each projection job's cluster names while the job is kept, and
    ``comparisons`` the comparison jobs by the two sources and top_k."""

    spaces: Spaces
    jobs: JobRunner
    compute: threading.Lock
    slow: Lane
    clusters: JobCache[list[ClusterLabel]]
    comparisons: Comparisons

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
            comparisons=Comparisons(jobs),
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
