"""A finished projection's points, for the page (an Arrow IPC stream: typed columns, not JSON
lists of floats) and as files to download: CSV, Parquet, or a self-contained plotly page."""

from __future__ import annotations

import io
import re
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query
from fastapi.responses import Response

from ..jobs import Job
from ..schemas import ColourText
from ..state import StateDep
from .jobs import projection_job

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"

router = APIRouter()


@router.get("/api/jobs/{job_id}/points", response_class=Response)
def job_points(job_id: str, state: StateDep) -> Response:
    """The projection as an Arrow IPC stream: ``key``, ``label`` (left out where it is
    the key, as in word spaces), ``x``, ``y`` (and ``z``) as float32, ``norm``, plus the
    metadata columns."""
    job = projection_job(state.jobs, job_id)
    return Response(arrow_stream(with_norms(job.result)), media_type=ARROW_MEDIA_TYPE)


@router.get("/api/jobs/{job_id}/points.{extension}", response_class=Response)
def job_points_file(job_id: str, extension: Literal["csv", "parquet"], state: StateDep) -> Response:
    """The projection's rows as a CSV or Parquet file to download (what
    ``Projection.save`` writes: key, label, x, y(, z), metadata)."""
    job = projection_job(state.jobs, job_id)
    sink = io.BytesIO()
    if extension == "csv":
        job.result.coords.to_csv(sink, index=False)
    else:
        job.result.coords.to_parquet(sink, index=False)
    return Response(
        sink.getvalue(),
        media_type="text/csv" if extension == "csv" else "application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="{file_name(job)}.{extension}"'},
    )


@router.get("/api/jobs/{job_id}/figure.html", response_class=Response)
async def job_figure(
    job_id: str,
    state: StateDep,
    color: Annotated[ColourText | None, Query()] = None,
) -> Response:
    """The projection as a self-contained interactive HTML file (plotly, no CDN) to share:
    ``color`` is a metadata column or ``similarity:WORD``."""
    job = projection_job(state.jobs, job_id)

    def html() -> str:
        figure = job.result.figure(color=color)
        return figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})

    page = await state.slow.run(html)
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file_name(job)}.html"'},
    )


def file_name(job: Job) -> str:
    """A download's name, without extension, from what the job computed."""
    return "embscope-" + (re.sub(r"[^\w.-]+", "-", job.description).strip("-") or "projection")


def with_norms(projection: Any) -> Any:
    """The projection's rows with each row's vector length added (``norm``, unless the
    metadata has one): the page colours, plots and filters by it, and short vectors are where
    rare and under-trained tokens sit."""
    coords = projection.coords
    if "norm" in coords.columns:
        return coords
    return coords.assign(norm=np.asarray(projection.space.norms, np.float32)[projection.rows])


def arrow_stream(frame: Any) -> bytes:
    """``frame`` as one Arrow IPC stream, coordinates as float32."""
    import pyarrow as pa

    if "label" in frame.columns and frame["label"].equals(frame["key"]):
        frame = frame.drop(columns="label")  # a word space's labels are its keys: half the bytes
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = {}
    for name in table.column_names:
        column = table[name]
        if name in ("x", "y", "z"):
            column = column.cast(pa.float32())
        columns[name] = column
    table = pa.table(columns)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
