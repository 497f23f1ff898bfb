"""A source's questions about one word or text: its neighbours (or opposites) and the
similarity of two. They are quick, and take the state's ``compute`` lock one at a time."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from ...metrics import Metric
from ..schemas import (
    EXACT_HELP,
    MAX_TOP_K,
    PIECES_HELP,
    SKIP_HELP,
    Hit,
    MetricName,
    NeighborsAnswer,
    Pieces,
    SimilarityAnswer,
    SkipKinds,
    Text,
    query_keys,
    stability_answer,
)
from ..state import StateDep

if TYPE_CHECKING:
    from ...search.results import Hits

router = APIRouter()

LISTED_HELP = (
    "the rows of the answer a page lists: the stability note is about the first 'listed' "
    "(default: all top_k)"
)


@router.get("/api/sources/{source}/neighbors", response_model=NeighborsAnswer)
def neighbors(
    source: str,
    query: Annotated[Text, Query()],
    state: StateDep,
    top_k: int = Query(10, ge=1, le=MAX_TOP_K),
    metric: MetricName | None = None,
    opposite: bool = False,
    restrict_vocab: int | None = Query(None, ge=1),
    pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
    exact: Annotated[bool, Query(description=EXACT_HELP)] = False,
    listed: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description=LISTED_HELP)] = None,
    skip: Annotated[SkipKinds, Query(description=SKIP_HELP)] = [],  # noqa: B006 (FastAPI copies it)
) -> NeighborsAnswer:
    """The query's closest (or most opposite) rows; ``query_keys`` says which key(s)
    answered it (``king`` is ``Ġking`` in a byte-level vocabulary), ``stability`` whether
    the list's order is a near tie; ``skip`` leaves kinds of rows out (``EmbeddingSpace.search``'s
    ``skip``)."""
    space = state.spaces.get(source)
    text = space.query_text(query) if exact else query
    # resolved before taking the lock: an unknown word is answered 404 with suggestions, which
    # scan the whole vocabulary, without holding up the other searches
    space.resolve(text, pieces=pieces)
    with state.compute:
        hits = space.search(
            text,
            top_k=top_k,
            metric=metric,
            opposite=opposite,
            pieces=pieces,
            restrict_vocab=restrict_vocab,
            skip=skip,
        )
        # the rows a page lists of a longer answer (it colours the cloud by the rest)
        shown = hits if listed is None or listed >= len(hits) else first_rows(hits, listed)
        stability = stability_answer(shown)
    return NeighborsAnswer(
        source=source,
        query=query,
        **query_keys(space, hits.query),
        metric=hits.metric.value,
        opposite=hits.opposite,
        hits=[
            Hit(rank=rank, row=int(row), key=key, label=label, score=float(score))
            for rank, (row, key, label, score) in enumerate(
                zip(hits.rows, hits.keys, hits.labels, hits.scores, strict=True), start=1
            )
        ],
        stability=stability,
    )


def first_rows(hits: Hits, count: int) -> Hits:
    """The first ``count`` of ``hits``, as the same search would have answered them."""
    return replace(hits, rows=hits.rows[:count], scores=hits.scores[:count], keys=hits.keys[:count])


@router.get("/api/sources/{source}/similarity", response_model=SimilarityAnswer)
def similarity(
    source: str,
    a: Annotated[Text, Query()],
    b: Annotated[Text, Query()],
    state: StateDep,
    metric: MetricName | None = None,
    pieces: Annotated[Pieces, Query(description=PIECES_HELP)] = "error",
) -> SimilarityAnswer:
    """The similarity of two words (or texts); ``a_keys`` and ``b_keys`` say which keys
    answered each."""
    space = state.spaces.get(source)
    first, second = (space.resolve(word, pieces=pieces) for word in (a, b))
    used = Metric.of(metric or space.metric)
    with state.compute:
        score = space.similarity(first.vector, second.vector, metric=used)
    return SimilarityAnswer(
        source=source,
        a=a,
        b=b,
        a_keys=list(first.keys),
        a_labels=list(first.labels),
        b_keys=list(second.keys),
        b_labels=list(second.labels),
        metric=used.value,
        score=float(score),
    )
