"""The sources a server holds, and completions of what is typed in a source's search box."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...errors import EmbscopeError
from ...space import EmbeddingSpace
from ..schemas import MAX_COMPLETIONS, Completion, SourceInfo, Text
from ..state import StateDep

router = APIRouter()


@router.get("/api/sources", response_model=list[SourceInfo])
def list_sources(state: StateDep) -> list[SourceInfo]:
    return [source_info(source_id, state.spaces.get(source_id)) for source_id in state.spaces.ids]


@router.get("/api/sources/{source}/complete", response_model=list[Completion])
def complete(
    source: str,
    prefix: Annotated[Text, Query()],
    state: StateDep,
    limit: int = Query(10, ge=1, le=MAX_COMPLETIONS),
) -> list[Completion]:
    """Rows whose key or label starts with ``prefix`` (case-insensitive), most frequent
    first (the source's row order); in a vocabulary of word-start tokens the words
    (``␣king``) come before the pieces that continue a word. Each comes with its label and
    the text that asks about exactly it."""
    space = state.spaces.get(source)
    keys, labels = space.keys, space.labels
    return [
        Completion(key=keys[row], label=labels[row], query=space.query_text(keys[row]))
        for row in state.spaces.prefixes(source).complete(prefix, limit)
    ]


def source_info(source_id: str, space: EmbeddingSpace) -> SourceInfo:
    from ...analysis.classes import label_column

    kind = space.provenance.kind if space.provenance is not None else "array"
    try:
        labels = label_column(space)
    except EmbscopeError:
        labels = None
    return SourceInfo(
        id=source_id,
        name=space.name,
        rows=len(space),
        dim=space.dim,
        metric=space.metric.value,
        kind=kind,
        columns=[str(c) for c in space.metadata.columns],
        label_column=labels,
    )
