"""Two sources compared (``embscope.compare``): a job per pair of sources and ``top_k``, then,
read from the finished comparison at once, its summary figures, a word's neighbours in both
spaces side by side, the keys that moved most (or least), and a joint aligned projection (an
Arrow IPC stream, as every set of coordinates the page draws)."""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from ..jobs import ProgressCallback
from ..schemas import (
    MAX_COMPARE_TOP_K,
    MAX_LAYOUT_SAMPLE,
    MAX_TOP_K,
    ComparedHit,
    ComparedWord,
    CompareRequest,
    ComparisonAnswer,
    ComparisonFigure,
    JobAnswer,
    MovedAnswer,
    SideBySideAnswer,
    Text,
    stability_answer,
)
from ..state import ServerState, StateDep
from .analysis import number
from .export import ARROW_MEDIA_TYPE
from .jobs import job_answer

if TYPE_CHECKING:
    from ...analysis.compare import Comparison
    from ...search.results import Hits
    from ...space import EmbeddingSpace

router = APIRouter()

TopK = Annotated[
    int,
    Query(ge=1, le=MAX_COMPARE_TOP_K, description="the top_k the comparison was started with"),
]


@router.post("/api/compare", response_model=JobAnswer, status_code=202)
def start_comparison(request: CompareRequest, state: StateDep) -> JobAnswer:
    """Start (or join) the comparison of source ``b`` with source ``a``; poll
    ``/api/jobs/{id}``, then read ``/api/compare/{a}/{b}/summary`` (and ``neighbors``,
    ``moved``, ``layout``) with the same ``top_k``. A comparison already made answers a job
    that is done."""
    space_a, space_b = pair(state, request.a, request.b)

    def work(report: ProgressCallback) -> Comparison:
        from ...analysis.compare import compare

        return compare(space_a, space_b, top_k=request.top_k, progress=report)

    what = f"comparison of {request.b} with {request.a} (top {request.top_k})"
    key = (request.a, request.b, request.top_k)
    return job_answer(state.comparisons.start(key, what, work))


@router.get("/api/compare/{a}/{b}/summary", response_model=ComparisonAnswer)
def comparison_summary(a: str, b: str, state: StateDep, top_k: TopK = 10) -> ComparisonAnswer:
    """The comparison's figures, each with its chance level (``Comparison.summary()``)."""
    comparison = finished(state, a, b, top_k)
    summary = comparison.summary()
    fields: dict[str, Any] = {
        name: number(value) if isinstance(value, float) else value
        for name, value in asdict(summary).items()
    }
    fields.update(metric=summary.metric.value, dims=list(summary.dims))
    return ComparisonAnswer(
        **fields,
        a=a,
        b=b,
        line=summary.line(),
        coverage=summary.coverage(),
        figures=[
            ComparisonFigure(name=name, value=number(value), chance=number(chance), meaning=meaning)
            for name, value, chance, meaning in summary.figures()
        ],
        overlap_counts=np.bincount(comparison.overlap, minlength=top_k + 1).tolist(),
    )


@router.get("/api/compare/{a}/{b}/moved", response_model=MovedAnswer)
def moved(
    a: str,
    b: str,
    state: StateDep,
    top_k: TopK = 10,
    top: int = Query(20, ge=1, le=MAX_TOP_K),
    least: Annotated[bool, Query(description="the steadiest keys instead")] = False,
) -> MovedAnswer:
    """The ``top`` shared keys whose neighbourhoods changed most, most moved first (or, with
    ``least``, changed least, steadiest first): ``Comparison.moved``'s rows."""
    comparison = finished(state, a, b, top_k)
    order = comparison.moved_order()
    chosen = order[::-1][:top] if least else order[:top]
    return MovedAnswer(
        a=a, b=b, top_k=top_k, least=least, words=compared_words(comparison, order, chosen)
    )


@router.get("/api/compare/{a}/{b}/neighbors", response_model=SideBySideAnswer)
def side_by_side(
    a: str,
    b: str,
    word: Annotated[Text, Query()],
    state: StateDep,
    top_k: TopK = 10,
    exact: Annotated[
        bool, Query(description="the word is a key as the answers give it (a listed row)")
    ] = False,
) -> SideBySideAnswer:
    """The word's ``top_k`` nearest keys in A and in B (each in its whole space, under the
    comparison's metric), side by side, those both lists hold marked ``in_both``
    (``Comparison.neighbors``). A word either space lacks is a 404 naming that space's
    closest keys."""
    from ...analysis.compare import SideBySide

    comparison = finished(state, a, b, top_k)
    space_a, space_b = comparison.a, comparison.b
    # a key asks for exactly its row in each space (king: the piece, not the word's ␣king)
    text_a = space_a.query_text(word) if exact else word
    text_b = space_b.query_text(word) if exact else word
    # resolved before taking the lock, as a plain search: an unknown word's suggestions scan
    # the whole vocabulary without holding up the other searches
    space_a.resolve(text_a)
    space_b.resolve(text_b, pieces=comparison.pieces)
    with state.compute:
        hits_a = space_a.search(text_a, top_k=top_k, metric=comparison.metric)
        hits_b = space_b.search(
            text_b, top_k=top_k, metric=comparison.metric, pieces=comparison.pieces
        )
        # measured by the search from the scores it had (a second pass only where it had none)
        stability_a, stability_b = stability_answer(hits_a), stability_answer(hits_b)
    side = SideBySide(
        word=word, a=hits_a, b=hits_b, name_a=comparison.name_a, name_b=comparison.name_b
    )
    shared = side.shared
    own = figures_of(comparison, space_a, hits_a)
    return SideBySideAnswer(
        a=a,
        b=b,
        word=word,
        space_a=side.name_a,
        space_b=side.name_b,
        metric=comparison.metric.value,
        a_keys=list(hits_a.query.keys),
        a_labels=list(hits_a.query.labels),
        b_keys=list(hits_b.query.keys),
        b_labels=list(hits_b.query.labels),
        hits_a=compared_hits(hits_a, shared),
        hits_b=compared_hits(hits_b, shared),
        shared=len(shared),
        figures=own,
        stability_a=stability_a,
        stability_b=stability_b,
    )


@router.get("/api/compare/{a}/{b}/layout", response_class=Response)
async def layout(
    a: str,
    b: str,
    state: StateDep,
    top_k: TopK = 10,
    sample: int = Query(2000, ge=2, le=MAX_LAYOUT_SAMPLE),
    moved: int = Query(20, ge=0, le=MAX_TOP_K),
    random_state: int = Query(0, ge=0, le=2**32 - 1),
) -> Response:
    """One PCA of A's rows and B's rows aligned onto A, for a seeded ``sample`` of shared keys
    (the ``moved`` most moved always among them), as an Arrow IPC stream: ``key``, ``label``,
    ``x_a``, ``y_a``, ``x_b``, ``y_b`` (float32) and ``moved``; the schema's metadata holds
    ``explained``, the two components' shares of the variance."""

    def stream() -> bytes:
        from ...analysis.compare import joint_layout

        comparison = finished(state, a, b, top_k)
        found = joint_layout(comparison, sample=sample, moved=moved, random_state=random_state)
        return layout_stream(found)

    return Response(await state.slow.run(stream), media_type=ARROW_MEDIA_TYPE)


def pair(state: ServerState, a: str, b: str) -> tuple[EmbeddingSpace, EmbeddingSpace]:
    """The two spaces a comparison names: two different sources of this server."""
    ids = state.spaces.ids
    if len(ids) < 2:
        raise HTTPException(
            400,
            f"comparing needs two sources; this server has one ({ids[0]}): start it with two, "
            f"e.g. embscope serve {ids[0]} OTHER",
        )
    space_a, space_b = state.spaces.get(a), state.spaces.get(b)
    if a == b:
        raise HTTPException(400, f"a and b are both {a!r}: compare two different sources")
    return space_a, space_b


def finished(state: ServerState, a: str, b: str, top_k: int) -> Comparison:
    """The finished comparison of ``b`` with ``a`` at ``top_k`` (404 for a source the server
    does not have, 409 while it is not computed)."""
    pair(state, a, b)
    return state.comparisons.get((a, b, top_k))


def compared_words(
    comparison: Comparison, order: np.ndarray, positions: np.ndarray
) -> list[ComparedWord]:
    """The rows of ``Comparison.words()`` at ``positions`` (of the shared keys), each with its
    place in the most-moved ``order``."""
    k = comparison.top_k
    shared = comparison.shared
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(1, len(order) + 1)
    labels = comparison.a.labels
    words = []
    for position in np.asarray(positions, dtype=np.int64).tolist():
        overlap = int(comparison.overlap[position])
        words.append(
            ComparedWord(
                key=shared.keys[position],
                label=labels[shared.rows_a[position]],
                moved_rank=int(place[position]),
                overlap=overlap / k,
                shared_neighbors=overlap,
                jaccard=overlap / (2 * k - overlap),
                rank_correlation=number(comparison.reference_correlation[position]),
                aligned_cosine=float(comparison.alignment.cosines[position]),
                norm_a=float(np.linalg.norm(shared.vectors_a[position])),
                norm_b=float(np.linalg.norm(shared.vectors_b[position])),
            )
        )
    return words


def figures_of(comparison: Comparison, space: EmbeddingSpace, hits: Hits) -> ComparedWord | None:
    """The figures of the one shared key that answered the word in A, if it is one."""
    if len(hits.query.keys) != 1:
        return None
    positions = np.flatnonzero(comparison.shared.rows_a == space.row(hits.query.keys[0]))
    if len(positions) == 0:
        return None
    return compared_words(comparison, comparison.moved_order(), positions[:1])[0]


def compared_hits(hits: Hits, shared: set[str]) -> list[ComparedHit]:
    return [
        ComparedHit(
            rank=rank, row=int(row), key=key, label=label, score=float(score), in_both=key in shared
        )
        for rank, (row, key, label, score) in enumerate(
            zip(hits.rows, hits.keys, hits.labels, hits.scores, strict=True), start=1
        )
    ]


def layout_stream(found: Any) -> bytes:
    """A ``JointLayout`` as one Arrow IPC stream."""
    import pyarrow as pa

    table = pa.table(
        {
            "key": pa.array(found.keys, pa.string()),
            "label": pa.array(found.labels, pa.string()),
            "x_a": pa.array(found.coords_a[:, 0], pa.float32()),
            "y_a": pa.array(found.coords_a[:, 1], pa.float32()),
            "x_b": pa.array(found.coords_b[:, 0], pa.float32()),
            "y_b": pa.array(found.coords_b[:, 1], pa.float32()),
            "moved": pa.array(found.moved, pa.bool_()),
        }
    ).replace_schema_metadata({"explained": " ".join(f"{v:.6f}" for v in found.explained)})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
