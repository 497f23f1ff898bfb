"""Projection jobs: started (or joined) per source, and the names of a finished projection's
dense regions. The points themselves are read through ``export.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ...errors import InvalidParameterError, UnknownKeyError
from ...search.results import ResolvedQuery
from ...space import EmbeddingSpace
from ..jobs import ProgressCallback
from ..schemas import (
    EXACT_HELP,
    PIECES_HELP,
    ClusterLabel,
    JobAnswer,
    MetricName,
    Pieces,
    ProjectionRequest,
    Text,
)
from ..state import StateDep
from .export import ARROW_MEDIA_TYPE
from .jobs import job_answer, projection_job

if TYPE_CHECKING:
    from ...analysis.directions import Direction

router = APIRouter()
AXIS_FIELDS = ("x_positive", "x_negative", "y_positive", "y_negative")


@router.post("/api/sources/{source}/projections", response_model=JobAnswer, status_code=202)
def start_projection(source: str, request: ProjectionRequest, state: StateDep) -> JobAnswer:
    """Start (or join) a projection job; poll ``/api/jobs/{id}``, then fetch
    ``/api/jobs/{id}/points`` (Arrow IPC)."""
    space = state.spaces.get(source)
    around: ResolvedQuery | None = None
    if request.neighborhood is not None:
        # the word's own token (king: Ġking), found now, so an unknown word is a 404 now;
        # a neighbourhood is one row's, so a word of several pieces is refused with them
        around = one_token(space, request.neighborhood)
        request = request.model_copy(update={"neighborhood": around.keys[0]})
    options: dict[str, Any] = {"n_components": request.n_components}
    if request.method == "axes":
        # the directions are the whole space's, found now (an unknown word is a 404 now), so a
        # neighbourhood is placed on the same axes as the whole space
        options = dict(zip("xy", axis_directions(space, request), strict=True))
    if request.method in ("tsne", "umap"):
        options["random_state"] = request.random_state
    if request.perplexity is not None:
        options["perplexity"] = request.perplexity
    if request.n_neighbors is not None:
        options["n_neighbors"] = request.n_neighbors

    def work(report: ProgressCallback) -> Any:
        target = space
        if request.neighborhood is not None:
            target = space.neighborhood(
                request.neighborhood, similar=request.similar, opposite=request.opposite
            )
        if request.method == "axes":  # instant: nothing to report
            projection = target.project("axes", **options)
        else:
            projection = target.project(request.method, progress=report, **options)
        _ = projection.quality  # measured here, in the job, not in a status request
        return projection

    key = (source, request.model_dump_json())
    what = f"{request.method} {request.n_components}D of {source}"
    if request.method == "axes":
        what = f"axes {options['x'].name} × {options['y'].name} of {source}"
    if around is not None:
        what += f" around {around.labels[0]!r}"
    started = job_answer(state.jobs.submit(key, what, work))
    if around is not None:
        started.query_keys, started.query_labels = list(around.keys), list(around.labels)
    return started


@router.get("/api/jobs/{job_id}/clusters", response_model=list[ClusterLabel])
async def job_clusters(job_id: str, state: StateDep) -> list[ClusterLabel]:
    """Names for the projection's dense regions (HDBSCAN on the projected points), largest
    first; computed once per projection."""
    from ...analysis.clusters import projection_clusters

    job = projection_job(state.jobs, job_id)

    def named() -> list[ClusterLabel]:
        return [
            ClusterLabel(label=c.label, size=c.size, position=list(c.position))
            for c in projection_clusters(job.result)
        ]

    # in the slow lane, so one projection's names are computed once however many ask at once
    return await state.slow.run(lambda: state.clusters.get_or_compute(job_id, named))


@router.get("/api/sources/{source}/projections/{job_id}/scores", response_class=Response)
def projection_scores(
    source: str,
    job_id: str,
    query: Annotated[Text, Query()],
    state: StateDep,
    metric: MetricName | None = None,
    pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
    exact: Annotated[bool, Query(description=EXACT_HELP)] = False,
) -> Response:
    """The query's score against every row of a finished projection of ``source`` (a
    neighbourhood's too), in the order of its points: an Arrow IPC stream of one float32
    column, ``score``, so the page colours every point as ``figure(color="similarity:...")``
    does."""
    import pyarrow as pa

    space = state.spaces.get(source)
    projection = projection_job(state.jobs, job_id).result
    text = space.query_text(query) if exact else query
    vector = space.resolve(text, pieces=pieces).vector
    rows = projection.rows
    if projection.space is not space:  # a neighbourhood: its rows by their keys in the source
        keys = projection.space.keys
        if any(keys[row] not in space for row in rows):
            raise HTTPException(409, f"job {job_id} is not a projection of {source}")
        rows = np.fromiter((space.row(keys[row]) for row in rows), np.int64, len(rows))
    with state.compute:
        scores = space.scores(vector, metric=metric or space.metric)[0][rows]
    table = pa.table({"score": pa.array(np.asarray(scores, np.float32))})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_MEDIA_TYPE)


def axis_directions(space: EmbeddingSpace, request: ProjectionRequest) -> list[Direction]:
    """The x and y directions an "axes" request names (``good+great`` for a group of words);
    a missing end, or 3 components, is a 400, an unknown word a 404 with the closest keys."""
    from ...analysis.directions import direction

    missing = [name for name in AXIS_FIELDS if getattr(request, name) is None]
    if missing:
        raise InvalidParameterError(
            f"the axes projection needs {', '.join(AXIS_FIELDS)}; {', '.join(missing)} missing"
        )
    if request.n_components != 2:
        raise InvalidParameterError("the axes projection is 2-D: n_components must be 2")
    if request.perplexity is not None or request.n_neighbors is not None:
        raise InvalidParameterError("the axes projection takes no perplexity or n_neighbors")

    def words(text: str) -> list[str]:
        return [word.strip() for word in text.split("+") if word.strip()] or [text]

    return [
        direction(
            space,
            words(getattr(request, f"{axis}_positive")),
            words(getattr(request, f"{axis}_negative")),
        )
        for axis in "xy"
    ]


def one_token(space: EmbeddingSpace, word: str) -> ResolvedQuery:
    """The one row a word names (its key, label or word-start token, through the tokenizer
    when it is one piece); a word of several pieces is a 404 that lists them."""
    try:
        resolved = space.resolve(word)
    except UnknownKeyError as error:
        if len(error.pieces) < 2:
            raise
        raise UnknownKeyError(
            word,
            space_name=space.name,
            pieces=error.pieces,
            piece_labels=error.piece_labels,
            offer_mean=False,
        ) from None
    if len(resolved.keys) != 1:  # a document space's encoded text has no row of its own
        raise InvalidParameterError(
            f"the neighbourhood must be a row of {space.name}; {word!r} is not one"
        )
    return resolved
