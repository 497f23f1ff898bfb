"""Neighbour search over a space: every row scored (or a fast pass's candidates re-measured),
the query's own rows and excluded keys left out, answers as ``Hits``.

``EmbeddingSpace.search`` / ``search_many`` / ``neighbors`` / ``opposites`` call in here; the
kernels that score rows live in ``search.kernels``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import candidate_count, positive_int
from ..errors import InvalidParameterError
from ..metrics import Metric
from . import kernels, stability
from .results import Hits, HitsBatch, ResolvedQuery, SearchScope

if TYPE_CHECKING:
    from ..space import EmbeddingSpace, PiecesMode, Query

# a batch of queries is scored together while its (queries x rows) float32 scores stay this size
_BATCH_SCORE_BYTES = 256 * 1024 * 1024

# kinds of rows a learner rarely wants listed: a tokenizer's special tokens ([CLS], [MASK],
# <s>), reserved slots ([unused5], <unused12>), pieces that continue a word (##ing, or "king"
# inside "making" in byte-level vocabularies) and single bytes (<0x0A>)
SKIP_KINDS = ("special", "unused", "pieces", "bytes")
_UNUSED_KEY = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")
_KIND_COLUMN_VALUES = {"special": "special", "pieces": "continuation", "bytes": "byte"}


def search_many(
    space: EmbeddingSpace,
    queries: Sequence[Query] | np.ndarray,
    *,
    top_k: int = 10,
    metric: str | None = None,
    pieces: PiecesMode = "error",
    opposite: bool = False,
    exclude: Sequence[str] = (),
    restrict_vocab: int | None = None,
    approximate: bool | None = None,
    skip: Sequence[str] = (),
) -> HitsBatch:
    """See ``EmbeddingSpace.search_many``."""
    metric = Metric.of(metric or space.metric)
    top_k = positive_int(top_k, "top_k")
    resolved = [space.resolve(q, pieces=pieces) for q in query_list(queries)]
    if not resolved:
        raise InvalidParameterError("queries must not be empty")
    if len(resolved) > 1:  # several raw vectors need names to tell their answers apart
        resolved = [
            replace(r, text=f"<vector {i}>") if not r.keys else r for i, r in enumerate(resolved)
        ]
    excluded_keys = [space.row(key) for key in exclude]
    excluded_keys += skipped_rows(space, skip).tolist()
    rows_scored = space.rows_scored(restrict_vocab)
    for item in resolved:
        _check_answerable(space, item, metric, rows_scored, excluded_keys)
    largest = metric.higher_is_closer != opposite
    from .index import wants_approximate

    wanted = candidate_count(top_k, len(excluded_keys) + max(len(r.rows) for r in resolved))
    answer = _Answer(space, top_k, metric, excluded_keys, opposite, rows_scored)
    if (
        not opposite
        and restrict_vocab is None
        and wants_approximate(space, approximate, metric=metric)
    ):
        index = space.approximate_index(metric=metric)
        candidates, _ = index.query(np.stack([r.vector for r in resolved]), wanted)
        return HitsBatch(answer.rescored(resolved, candidates))
    results = HitsBatch()
    vectors = space.vectors
    for batch in _batches(resolved, rows_scored):
        matrix = np.stack([r.vector for r in batch])
        if not opposite:  # float16 rows: one SIMD pass finds the candidates
            candidates = kernels.scan_candidates(
                kernels.first_rows(vectors, rows_scored), matrix, wanted, metric
            )
            if candidates is not None:
                results += answer.rescored(batch, candidates)
                continue
        batch_scores = space.scores(matrix, metric=metric, restrict_vocab=rows_scored)
        for item, row_scores in zip(batch, batch_scores, strict=True):
            excluded = np.asarray([*item.rows, *excluded_keys], dtype=np.int64)
            rows, exact = kernels.refined_top_k(
                vectors,
                row_scores,
                item.vector,
                top_k,
                metric,
                largest=largest,
                excluded=excluded[excluded < rows_scored],
            )
            hits = answer.hits(item, rows, exact)
            hits.remember_stability(stability.from_scores(hits, row_scores))
            results.append(hits)
    return results


class _Answer:
    """What every query of one call shares: builds its Hits, re-measures candidates."""

    def __init__(
        self,
        space: EmbeddingSpace,
        top_k: int,
        metric: Metric,
        excluded_keys: list[int],
        opposite: bool,
        rows_scored: int,
    ) -> None:
        self.space = space
        self.top_k = top_k
        self.metric = metric
        self.excluded_keys = excluded_keys
        self.opposite = opposite
        self.rows_scored = rows_scored

    def hits(self, item: ResolvedQuery, rows: np.ndarray, scores: np.ndarray) -> Hits:
        keys = self.space.keys
        return Hits(
            rows=rows,
            scores=scores,
            keys=[keys[r] for r in rows],
            metric=self.metric,
            query=item,
            space=self.space,
            opposite=self.opposite,
            scope=SearchScope(self.rows_scored, (*item.rows, *self.excluded_keys)),
        )

    def rescored(self, resolved: list[ResolvedQuery], candidate_rows: np.ndarray) -> list[Hits]:
        """Hits from candidate rows (-1 = none) measured exactly, the excluded rows dropped."""
        results = []
        for item, candidates in zip(resolved, candidate_rows, strict=True):
            dropped = {*item.rows, *self.excluded_keys}
            kept = np.asarray(
                [r for r in candidates.tolist() if r >= 0 and r not in dropped], dtype=np.int64
            )
            exact = kernels.exact_scores(self.space.vectors, kept, item.vector, self.metric)
            order = np.lexsort((kept, self.metric.best_first(exact)))[: self.top_k]
            results.append(self.hits(item, kept[order], exact[order]))
        return results


def _check_answerable(
    space: EmbeddingSpace,
    item: ResolvedQuery,
    metric: Metric,
    rows_scored: int,
    excluded: list[int],
) -> None:
    """Refuse a question whose answer would be empty or meaningless, saying why, instead of
    answering it with nothing or with rows that all score the same."""
    if metric.needs_direction and not np.any(item.vector):
        raise InvalidParameterError(
            f"{item.text!r} is a zero vector: it has no direction, so every row scores 0 "
            f"by {metric}; ask about another word, or use metric='euclidean'"
        )
    left_out = {row for row in (*item.rows, *excluded) if row < rows_scored}
    if rows_scored - len(left_out) <= 0:
        scope = f"the first {rows_scored:,} rows" if rows_scored < len(space) else "its rows"
        raise InvalidParameterError(
            f"nothing to rank for {item.text!r}: {space.name} has {len(space):,} row(s), and "
            f"{scope} are all the query's own or excluded"
        )


def skipped_rows(space: EmbeddingSpace, skip: Sequence[str]) -> np.ndarray:
    """The rows of the kinds in ``skip`` (see ``SKIP_KINDS``): special tokens by the
    tokenizer's own ``special``/``kind`` columns, reserved ``[unusedN]`` / ``<unusedN>`` slots
    by their keys, word pieces and bytes by ``kind``. A space without a tokenizer has no rows
    of those kinds, so nothing is skipped there but reserved keys."""
    if isinstance(skip, str):
        skip = [part.strip() for part in skip.split(",") if part.strip()]
    unknown = [kind for kind in skip if kind not in SKIP_KINDS]
    if unknown:
        raise InvalidParameterError(
            f"skip takes {', '.join(SKIP_KINDS)}; got {', '.join(map(repr, unknown))}"
        )
    if not skip:
        return np.empty(0, dtype=np.int64)
    columns = space.metadata_arrays()
    mask = np.zeros(len(space), dtype=bool)
    kinds = columns.get("kind")
    for kind in skip:
        if kind == "unused":
            mask |= np.fromiter(
                (bool(_UNUSED_KEY.match(key)) for key in space.keys), bool, len(space)
            )
            continue
        if kinds is not None:
            mask |= np.asarray(kinds == _KIND_COLUMN_VALUES[kind], dtype=bool)
        if kind == "special" and "special" in columns:
            mask |= np.asarray(columns["special"], dtype=bool)
    return np.flatnonzero(mask)


def similarity_table(
    space: EmbeddingSpace,
    query: Query,
    *,
    metric: str | None = None,
    pieces: PiecesMode = "error",
    include_query: bool = False,
) -> Hits:
    """Every row against the query, closest first (equal scores: lower row first)."""
    metric = Metric.of(metric or space.metric)
    resolved = space.resolve(query, pieces=pieces)
    row_scores = space.scores(resolved.vector, metric=metric)[0]
    order = np.lexsort((np.arange(len(space)), metric.best_first(row_scores)))
    if not include_query and resolved.rows:
        order = order[~np.isin(order, resolved.rows)]
    keys = space.keys
    return Hits(
        rows=order,
        scores=row_scores[order].astype(np.float64),
        keys=[keys[r] for r in order],
        metric=metric,
        query=resolved,
        space=space,
        details={"title": "Similarity to every row"},
    )


def is_several(query: Any) -> bool:
    """A list of words or a 2-D array asks several questions; a list of numbers is one vector."""
    if isinstance(query, np.ndarray):
        return query.ndim == 2
    return (
        isinstance(query, list | tuple)
        and len(query) > 0
        and all(isinstance(item, str) for item in query)
    )


def query_list(queries: Any) -> list[Any]:
    if isinstance(queries, str):
        return [queries]
    if isinstance(queries, np.ndarray):
        return list(queries) if queries.ndim == 2 else [queries]
    return list(queries)


def _batches(items: list[Any], rows: int) -> Iterator[list[Any]]:
    size = max(1, _BATCH_SCORE_BYTES // max(1, rows * 4))
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "SKIP_KINDS",
    "is_several",
    "query_list",
    "search_many",
    "similarity_table",
    "skipped_rows",
]
