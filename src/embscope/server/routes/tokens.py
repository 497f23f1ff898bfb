"""Token scans (``embscope.tokens``): a job per source that looks for under-trained and glitch
tokens, and its candidates once done."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Query

from ..schemas import MAX_TOP_K, JobAnswer, TokenCandidate, TokenScanAnswer
from ..state import StateDep
from .jobs import finished_job, job_answer

router = APIRouter()


@router.post("/api/sources/{source}/tokens", response_model=JobAnswer, status_code=202)
def start_token_scan(source: str, state: StateDep) -> JobAnswer:
    """Start (or join) a scan for under-trained and glitch tokens (``embscope.tokens``);
    poll ``/api/jobs/{id}``, then read ``/api/jobs/{id}/tokens``."""
    from ...tokens import scan

    space = state.spaces.get(source)
    return job_answer(
        state.jobs.submit(
            (source, "tokens"),
            f"token scan of {source}",
            lambda report: scan(space, progress=report),
        )
    )


@router.get("/api/jobs/{job_id}/tokens", response_model=TokenScanAnswer)
def job_tokens(
    job_id: str, state: StateDep, top: int = Query(50, ge=1, le=MAX_TOP_K)
) -> TokenScanAnswer:
    from ...tokens import TokenReport

    job = finished_job(state.jobs, job_id)
    if not isinstance(job.result, TokenReport):
        raise HTTPException(409, f"job {job_id} is not a token scan")
    report = job.result
    shown = report.candidates.head(top)
    return TokenScanAnswer(
        # through JSON and back: the summary holds numpy numbers and paths
        summary=json.loads(json.dumps(report.summary(), default=str)),
        indicator=report.indicator,
        caution=report.caution,
        candidates=[
            TokenCandidate(
                rank=int(row["rank"]),
                token_id=int(row["token_id"]),
                key=str(row["key"]),
                label=str(row["label"]),
                category=str(row["category"]),
                value=float(row[report.indicator]),
            )
            for _, row in shown.iterrows()
        ],
    )
