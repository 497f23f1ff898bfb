"""A source's slower analyses: the distance profile of a query and the class-similarity matrix
of a labelled space. They run in the state's ``slow`` lane, one at a time, behind each other
rather than in front of the neighbour queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ..lanes import Lane
from ..schemas import (
    MAX_PROFILE_SAMPLE,
    MAX_TOP_K,
    PIECES_HELP,
    ClassesAnswer,
    Pieces,
    ProfileAnswer,
    Text,
    query_keys,
)
from ..state import StateDep

router = APIRouter()


@router.get("/api/sources/{source}/profile", response_model=ProfileAnswer)
async def profile(
    source: str,
    query: Annotated[Text, Query()],
    state: StateDep,
    top_k: int = Query(15, ge=1, le=MAX_TOP_K),
    sample: int = Query(1500, ge=0, le=MAX_PROFILE_SAMPLE),
    pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
) -> Response:
    """The BERT lecture's profile: every row's Euclidean distance to the query against its
    cosine similarity (the ``top_k`` of each by key, and a sample of rows to plot)."""

    def answer() -> ProfileAnswer:
        space = state.spaces.get(source)
        resolved = space.resolve(query, pieces=pieces)
        result = space.distance_profile(query, top_k=top_k, pieces=pieces)
        table = result.table
        chosen = np.random.default_rng(0).permutation(len(table))[:sample]
        plotted = table.iloc[np.sort(chosen)][["cosine", "euclidean"]].to_numpy(np.float64)
        return ProfileAnswer(
            source=source,
            query=query,
            **query_keys(space, resolved),
            rank_correlation=float(result.rank_correlation),
            overlap=int(result.overlap),
            rows=records(table.head(top_k)),
            euclidean_rows=records(table.nsmallest(top_k, "euclidean_rank")),
            sample=[[round(c, 5), round(e, 5)] for c, e in plotted if np.isfinite(c + e)],
        )

    return await json_from(state.slow, answer)


@router.get("/api/sources/{source}/classes", response_model=ClassesAnswer)
async def classes(
    source: str, state: StateDep, label: Annotated[Text | None, Query()] = None
) -> Response:
    """A labelled (document) space's class-similarity matrix: the mean cosine within and
    between classes."""

    def answer() -> ClassesAnswer:
        space = state.spaces.get(source)
        result = space.class_similarity(label)
        order = list(result.labels)
        return ClassesAnswer(
            source=source,
            label_column=result.label_column,
            labels=[str(v) for v in order],
            counts=[int(result.counts[v]) for v in order],
            mean=[[number(result.mean.loc[a, b]) for b in order] for a in order],
            within=[number(result.within[v]) for v in order],
            between=[number(result.between[v]) for v in order],
        )

    return await json_from(state.slow, answer)


async def json_from(lane: Lane, answer: Callable[[], BaseModel]) -> Response:
    """Run ``answer()`` in ``lane`` and serialise its model there too: a profile's thousands of
    rows would otherwise be validated on the event loop, holding up every other request."""
    body = await lane.run(lambda: answer().model_dump_json().encode())
    return Response(body, media_type="application/json")


def number(value: Any) -> float | None:
    """A float for JSON, None for NaN (a class of one row has no within-class pairs)."""
    value = float(value)
    return None if value != value else value


def records(frame: Any) -> list[dict[str, Any]]:
    """A table's rows as JSON-ready dicts (numpy scalars as Python numbers)."""
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
