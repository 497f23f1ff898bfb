"""Background jobs as clients see them: a job's state, its cancellation, and the lookups the
routes reading a job's result share (a job that is missing, unfinished or of another kind is
answered 404 or 409 alike everywhere)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException

from ..jobs import Job, JobRunner
from ..schemas import JobAnswer
from ..state import StateDep

CANCEL_WAIT_SECONDS = 5.0
GONE = "(finished jobs are kept for a while)"

router = APIRouter()


@router.get("/api/jobs/{job_id}", response_model=JobAnswer)
def job_state(job_id: str, state: StateDep) -> JobAnswer:
    return job_answer(find_job(state.jobs, job_id))


@router.delete("/api/jobs/{job_id}", response_model=JobAnswer)
def cancel_job(job_id: str, state: StateDep) -> JobAnswer:
    """Cancel a job, for every client sharing it: a queued one is dropped, a running one
    stops at its next progress step (answered once it has, or after a few seconds while it
    still runs); a finished job is left as it is. Answers the job's state."""
    job = state.jobs.cancel(job_id, wait=CANCEL_WAIT_SECONDS)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} {GONE}")
    return job_answer(job)


def find_job(jobs: JobRunner, job_id: str) -> Job:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} {GONE}")
    return job


def finished_job(jobs: JobRunner, job_id: str) -> Job:
    """The job, which must be done (409 while it is queued or running, or when it failed)."""
    job = find_job(jobs, job_id)
    if job.state != "done":
        raise HTTPException(409, f"job {job_id} is {job.state}, not done")
    return job


def projection_job(jobs: JobRunner, job_id: str) -> Job:
    """The job, which must be a finished projection (its ``result`` a ``Projection``)."""
    from ...projection.pipeline import Projection

    job = finished_job(jobs, job_id)
    if not isinstance(job.result, Projection):
        raise HTTPException(409, f"job {job_id} is not a projection")
    return job


def job_answer(job: Job) -> JobAnswer:
    from ...figures import axis_titles
    from ...projection.pipeline import Projection

    rows = quality = titles = None
    if job.state == "done" and isinstance(job.result, Projection):
        rows = len(job.result.coords)
        quality = {k: float(v) for k, v in _quality(job.result).items()}
        titles = axis_titles(job.result)
    return JobAnswer(
        id=job.id,
        state=job.state,
        description=job.description,
        seconds=job.seconds,
        error=job.error,
        rows=rows,
        quality=quality,
        progress=job.progress,
        phase=job.phase,
        axis_titles=titles,
    )


def _quality(projection: Any) -> Mapping[str, float]:
    quality = projection.quality
    return {
        name: getattr(quality, name)
        for name in ("trustworthiness", "knn_recall")
        if isinstance(getattr(quality, name, None), int | float)
    }
