"""Background jobs for work that takes seconds (projections): one job per distinct request,
shared by every client that asks for it, run on a small thread pool, failures kept in the job,
progress (fraction done and phase) kept in the job for the page to show.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..progress import ProgressCallback

STATES = ("queued", "running", "done", "failed")


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

    def report(self, fraction: float, phase: str) -> None:
        """The work's progress callback (``embscope.progress.ProgressCallback``)."""
        self.progress = min(1.0, max(0.0, float(fraction)))
        self.phase = phase


class JobRunner:
    """Runs ``work(report)`` callables in the background, ``report(fraction, phase)`` being
    the job's progress callback; the same ``key`` gets the same job (while it is queued,
    running or done), so two tabs asking for one projection share it. A job that raises is
    marked failed with the error's message; the runner and the server go on."""

    def __init__(self, workers: int = 1, *, keep: int = 64) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embscope-job")
        self._lock = threading.Lock()
        self._by_key: dict[Hashable, Job] = {}
        self._by_id: dict[str, Job] = {}
        self._keep = keep

    def submit(
        self, key: Hashable, description: str, work: Callable[[ProgressCallback], Any]
    ) -> Job:
        with self._lock:
            job = self._by_key.get(key)
            if job is not None and job.state != "failed":
                return job
            job = Job(id=uuid.uuid4().hex[:12], description=description)
            self._by_key[key] = job
            self._by_id[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._by_id.get(job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Callable[[ProgressCallback], Any]) -> None:
        job.state = "running"
        started = time.perf_counter()
        try:
            job.result = work(job.report)
            job.state = "done"
        except Exception as error:  # a job's failure is reported to its clients, not raised
            job.error = str(error) or type(error).__name__
            job.state = "failed"
        finally:
            job.seconds = time.perf_counter() - started

    def _forget_old(self) -> None:
        # finished jobs beyond the newest ``keep`` are dropped, so memory stays bounded
        finished = [j for j in self._by_id.values() if j.state in ("done", "failed")]
        for job in sorted(finished, key=lambda j: j.created)[: max(0, len(finished) - self._keep)]:
            del self._by_id[job.id]
            for key, kept in list(self._by_key.items()):
                if kept is job:
                    del self._by_key[key]
