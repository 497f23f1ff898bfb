"""Background jobs for work that takes seconds (projections, token scans): one job per distinct
request, shared by every client that asks for it, run by a few worker threads from a bounded
queue, cancellable, failures kept in the job, progress (fraction done and phase) kept in the job
for the page to show.

A running job is cancelled through its progress callback: the next ``report(fraction, phase)``
after the cancellation raises ``JobCancelled``, which unwinds the work (the library's caches are
written atomically, so an unwound projection leaves nothing half-written).

What is computed from a finished job's result later (a projection's cluster names) is kept in a
``JobCache``, which the runner empties of a job when it drops the job: such caches are bounded
by the job store, however many jobs clients start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import EmbscopeError

logger = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
MAX_QUEUED = 16
KEEP_FINISHED = 64

T = TypeVar("T")

#: A job's progress callback, as the library's ``progress=`` arguments take one: called with the
#: fraction done (0 to 1) and the phase the work has reached.
ProgressCallback = Callable[[float, str], None]


class JobCancelled(Exception):
    """Raised from a cancelled job's progress callback to stop its work at that step."""


class QueueFull(Exception):
    """The runner already holds its most waiting jobs; the client should come back later."""


@dataclass
class Job:
    id: str
    description: str
    state: str = "queued"
    created: float = field(default_factory=time.time)
    seconds: float | None = None
    error: str | None = None
    progress: float | None = None
    phase: str | None = None
    result: Any = field(default=None, repr=False)
    cancel_reason: str | None = field(default=None, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def report(self, fraction: float, phase: str) -> None:
        """The work's progress callback (``ProgressCallback``)."""
        if self.cancel_reason is not None:
            raise JobCancelled(self.cancel_reason)
        self.progress = min(1.0, max(0.0, float(fraction)))
        self.phase = phase


class JobRunner:
    """Runs ``work(report)`` callables in the background, ``report(fraction, phase)`` being
    the job's progress callback; the same ``key`` gets the same job (while it is queued,
    running or done), so two tabs asking for one projection share it. At most ``max_queued``
    jobs wait (``submit`` raises ``QueueFull`` beyond). A job that raises is marked failed with
    the error's message; the runner and the server go on."""

    def __init__(
        self, workers: int = 1, *, max_queued: int = MAX_QUEUED, keep: int = KEEP_FINISHED
    ) -> None:
        if workers < 1 or max_queued < 0:
            raise ValueError(f"need workers >= 1 and max_queued >= 0; got {workers}, {max_queued}")
        self._lock = threading.Lock()
        self._work_waiting = threading.Condition(self._lock)
        self._waiting: deque[tuple[Job, Callable[[ProgressCallback], Any]]] = deque()
        self._by_key: dict[Hashable, Job] = {}
        self._by_id: dict[str, Job] = {}
        self._max_queued = max_queued
        self._keep = keep
        self._stopped = False
        self._forget_listeners: list[Callable[[str], None]] = []
        # Daemon threads: a job stuck in a step that reports no progress (a C loop) must not
        # keep a stopped server's process alive; it is abandoned when the interpreter exits.
        self._workers = [
            threading.Thread(target=self._serve, name=f"embscope-job-{n}", daemon=True)
            for n in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def submit(
        self, key: Hashable, description: str, work: Callable[[ProgressCallback], Any]
    ) -> Job:
        with self._lock:
            job = self._by_key.get(key)
            if job is not None and job.state not in ("failed", "cancelled"):
                return job
            if self._stopped:
                raise QueueFull("the server is stopping")
            if len(self._waiting) >= self._max_queued:
                raise QueueFull(
                    f"{len(self._waiting)} jobs are already waiting (at most {self._max_queued});"
                    " try again when one has finished, or cancel one"
                )
            job = Job(id=uuid.uuid4().hex[:12], description=description)
            self._by_key[key] = job
            self._by_id[job.id] = job
            forgotten = self._forget_old()
            self._waiting.append((job, work))
            self._work_waiting.notify()
        # outside the lock: a listener takes its own lock, and may call get() while holding it
        for old in forgotten:
            for listener in self._forget_listeners:
                listener(old.id)
        return job

    def on_forget(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` for every job the runner drops from now on (finished jobs
        beyond the newest ``keep``), after it is gone from ``get``."""
        self._forget_listeners.append(listener)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._by_id.get(job_id)

    def cancel(self, job_id: str, *, wait: float = 0.0) -> Job | None:
        """Drop a queued job, or ask a running one to stop at its next progress step and wait
        up to ``wait`` seconds for it to; a finished job is left as it is. None: no such job."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return None
            self._cancel(job, "cancelled by a client")
        if job.state == "running":
            job.finished.wait(wait)
        return job

    def shutdown(self, *, wait: float = 0.0) -> None:
        """Stop: queued jobs are dropped, running ones asked to stop at their next progress
        step (waited for up to ``wait`` seconds), and nothing new is accepted."""
        with self._lock:
            self._stopped = True
            running = [job for job in self._by_id.values() if job.state == "running"]
            for job in [job for job, _ in self._waiting] + running:
                self._cancel(job, "cancelled: the server stopped")
            self._work_waiting.notify_all()
        deadline = time.monotonic() + wait
        for job in running:
            job.finished.wait(max(0.0, deadline - time.monotonic()))

    def _cancel(self, job: Job, reason: str) -> None:
        # called with the lock held, so a queued job cannot start while it is being dropped
        if job.state == "queued":
            self._waiting = deque(entry for entry in self._waiting if entry[0] is not job)
            job.state, job.error = "cancelled", reason
            job.finished.set()
        elif job.state == "running" and job.cancel_reason is None:
            job.cancel_reason = reason

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopped:
                    self._work_waiting.wait()
                if self._stopped:
                    return
                job, work = self._waiting.popleft()
                job.state = "running"
            self._run(job, work)

    def _run(self, job: Job, work: Callable[[ProgressCallback], Any]) -> None:
        started = time.perf_counter()
        try:
            job.result = work(job.report)
            job.state = "done"
        except Exception as error:  # a job's failure is reported to its clients, not raised
            # the work may wrap the cancellation in an error of its own: the request decides
            if job.cancel_reason is not None:
                job.error, job.state = job.cancel_reason, "cancelled"
            else:
                job.error, job.state = _client_message(error), "failed"
        finally:
            job.seconds = time.perf_counter() - started
            job.finished.set()

    def _forget_old(self) -> list[Job]:
        # finished jobs beyond the newest ``keep`` are dropped, so memory stays bounded
        finished = [j for j in self._by_id.values() if j.state in FINISHED]
        dropped = sorted(finished, key=lambda j: j.created)[: max(0, len(finished) - self._keep)]
        for job in dropped:
            del self._by_id[job.id]
            for key, kept in list(self._by_key.items()):
                if kept is job:
                    del self._by_key[key]
        return dropped


class JobCache(Generic[T]):
    """Values computed once from a job's result (a projection's cluster names), each kept while
    ``jobs`` keeps its job and dropped with it, so the cache never holds more entries than the
    runner holds jobs."""

    def __init__(self, jobs: JobRunner) -> None:
        self._jobs = jobs
        self._values: dict[str, T] = {}
        self._lock = threading.Lock()
        jobs.on_forget(self._forget)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._values

    def get_or_compute(self, job_id: str, compute: Callable[[], T]) -> T:
        """The value kept for ``job_id``, else ``compute()``'s (kept while the job is)."""
        with self._lock:
            if job_id in self._values:
                return self._values[job_id]
        value = compute()  # unlocked: it takes seconds, and other jobs' values stay readable
        with self._lock:
            # a job dropped while its value was computed must not leave the value behind; the
            # runner tells its listeners after releasing its lock, so asking it here is safe
            if self._jobs.get(job_id) is not None:
                self._values[job_id] = value
        return value

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._values.pop(job_id, None)


def _client_message(error: Exception) -> str:
    """What a failed job tells its clients: a user's mistake (an EmbscopeError) in its own
    words; anything else only by its kind, since its text can name paths and internals of
    this machine, with the traceback in the server's log."""
    if isinstance(error, EmbscopeError):
        return str(error)
    if isinstance(error, MemoryError):
        return "the job ran out of memory; ask for fewer rows (a sample or a neighbourhood)"
    logger.error("a job failed unexpectedly", exc_info=error)
    return f"the job failed unexpectedly ({type(error).__name__}); the server's log has the details"
