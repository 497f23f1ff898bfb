"""Spaces made from a space: a subset of keys, another storage dtype, the neighbourhood of a
word (the notebook's "terrible cluster"), the space without a direction. Each keeps its
parent's labels, metadata, tokenizer and encoder, and a provenance that names the parent, so
caches never mix them up."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import integer_at_least
from .errors import InvalidParameterError
from .metrics import Metric
from .space import EmbeddingSpace, Provenance

if TYPE_CHECKING:
    from .analysis.directions import Direction

logger = logging.getLogger(__name__)


def neighborhood(
    space: EmbeddingSpace,
    query: str,
    *,
    similar: int = 30,
    opposite: int = 30,
    metric: str | None = None,
    restrict_vocab: int | None = None,
) -> EmbeddingSpace:
    """The query, its ``similar`` closest and ``opposite`` least similar rows, as a new space
    (the notebook's "terrible cluster").

    Metadata gains ``group`` (query / similar / opposite), ``score`` (against the query, by
    ``metric``) and ``rank`` within the group (from 1; the query is 0). ``restrict_vocab=N``
    looks only among the first N rows (in frequency-ordered vocabularies the rarest words
    crowd the opposite end).
    """
    if not isinstance(query, str):
        raise InvalidParameterError(f"the neighborhood query must be a word; got {query!r}")
    # the word as a query resolves it (a word-start token, a folded case), but the
    # neighbourhood is drawn around one row of the space, never a mean of pieces
    resolved = space.resolve(query)
    if len(resolved.rows) != 1:
        raise InvalidParameterError(
            f"the neighborhood query must be one row of the space; {query!r} is not"
        )
    if resolved.looked_up_as:
        logger.info("neighbourhood of %r drawn around %s", query, resolved.looked_up_as)
    row = resolved.rows[0]
    query = space._keys[row]
    similar = integer_at_least(similar, "similar", 0)
    opposite = integer_at_least(opposite, "opposite", 0)
    if similar + opposite == 0:
        raise InvalidParameterError("similar and opposite cannot both be 0: nothing to show")
    metric = Metric.of(metric or space.metric)
    # ranks count from 1 within each group, as in neighbors(); the query itself is rank 0
    parts = [("query", [row], [space.similarity(query, query, metric=metric)])]
    for group, count in (("similar", similar), ("opposite", opposite)):
        if count:
            hits = space.search(
                query,
                top_k=count,
                metric=metric,
                opposite=group == "opposite",
                restrict_vocab=restrict_vocab,
            )
            parts.append((group, hits.rows.tolist(), hits.scores.tolist()))
    rows: list[int] = []
    columns: dict[str, list[Any]] = {"group": [], "score": [], "rank": []}
    for group, group_rows, group_scores in parts:
        for rank, (found, score) in enumerate(zip(group_rows, group_scores, strict=True)):
            if found in rows:  # a tiny space can hold a row among the closest and farthest
                continue
            rows.append(found)
            columns["group"].append(group)
            columns["score"].append(score)
            columns["rank"].append(rank + 1 if group != "query" else 0)
    sub = space.subset([space._keys[r] for r in rows])
    from ._io.cache import space_key

    around = EmbeddingSpace(
        sub.vectors,
        sub.keys,
        labels=sub.labels,
        metadata={
            **sub.metadata_arrays(),
            "group": np.asarray(columns["group"]),
            "score": np.asarray(columns["score"]),
            "rank": np.asarray(columns["rank"], np.int64),
        },
        metric=space.metric,
        provenance=Provenance(
            source=space.provenance.source,
            kind=space.provenance.kind,
            options={
                **space.provenance.options,
                "neighborhood_of": space_key(space),
                "neighborhood": {
                    "query": query,
                    "similar": similar,
                    "opposite": opposite,
                    "metric": metric,
                    "restrict_vocab": restrict_vocab,
                },
            },
            fingerprint=sub.provenance.fingerprint,
        ),
        name=f"{space.name}: neighbourhood of {query!r}",
        tokenize=space._tokenize,
        encode=space._encode,
    )
    around.part_of = sub.part_of
    return around


def keys_subspace(space: EmbeddingSpace, words: Sequence[str]) -> EmbeddingSpace:
    """The rows of ``words`` (keys; repeats dropped) as a new space, to project a chosen
    set of words; an unknown word raises with the closest keys."""
    unique = list(dict.fromkeys(words))
    if not unique:
        raise InvalidParameterError("words must name at least one key of the space")
    return space.subset(unique)


def subset(space: EmbeddingSpace, keys: Sequence[str]) -> EmbeddingSpace:
    """A new space holding only the given keys, in that order (vectors copied)."""
    from ._io.cache import space_key

    rows = [space.row(k) for k in keys]
    part = EmbeddingSpace(
        np.asarray(space._vectors[rows]),
        [space._keys[r] for r in rows],
        labels=[space.labels[r] for r in rows],
        metadata=space.metadata.iloc[rows].reset_index(drop=True),
        metric=space.metric,
        provenance=Provenance(
            source=space.provenance.source,
            kind=space.provenance.kind,
            options={
                **space.provenance.options,
                # the parent's cache key: for an in-memory space it hashes the content,
                # so subsets of two different arrays never share a cache entry
                "subset_of": space_key(space),
                "subset_rows": len(rows),
            },
            fingerprint=hashlib.sha256("\n".join(map(str, rows)).encode()).hexdigest()[:16],
        ),
        name=space.name,
        tokenize=space._tokenize,
        encode=space._encode,
    )
    part.part_of = (space, np.asarray(rows, dtype=np.int64))
    return part


def astype(space: EmbeddingSpace, dtype: str | np.dtype) -> EmbeddingSpace:
    """The same space stored as ``"float16"`` (half the memory; answers still computed in
    float32) or ``"float32"`` (a bfloat16 space: widened into memory). Returns ``space``
    when the dtype already matches."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32):
        raise InvalidParameterError(f"dtype must be float16 or float32; got {dtype}")
    if str(dtype) == space.stored_dtype:
        return space
    if dtype == np.float16:
        largest = float(np.abs(np.asarray(space._vectors)).max()) if len(space) else 0.0
        if largest > float(np.finfo(np.float16).max):
            raise InvalidParameterError(
                f"dtype float16 cannot hold values up to {largest:.3g} (float16 max 65504)"
            )
    stored = EmbeddingSpace(
        space._vectors.astype(dtype),
        space._keys,
        labels=space._labels,
        metadata=space._metadata if space._metadata is not None else space._metadata_columns,
        metric=space.metric,
        provenance=replace(
            space.provenance, options={**space.provenance.options, "dtype_stored": str(dtype)}
        ),
        name=space.name,
        tokenize=space._tokenize,
        encode=space._encode,
    )
    stored.part_of = space.part_of  # the same rows, stored otherwise
    return stored


def without_direction(space: EmbeddingSpace, axis: Direction) -> EmbeddingSpace:
    """Every row with its component along ``axis`` removed (``v - (v·d) d``, the "neutralize"
    step of Bolukbasi et al. 2016): what the space holds when that meaning is gone. Rows stay
    float32; a cosine space's rows keep no component along the axis once scaled to length 1
    either, since the axis is removed from the stored vectors."""
    if axis.vector.shape != (space.dim,):
        raise InvalidParameterError(
            f"the direction {axis.name} has {len(axis.vector)} dimensions; {space.name} has "
            f"{space.dim}"
        )
    vectors = np.empty((len(space), space.dim), dtype=np.float32)
    step = 65_536
    for start in range(0, len(space), step):
        block = np.asarray(space._vectors[start : start + step], dtype=np.float64)
        vectors[start : start + len(block)] = block - np.outer(block @ axis.vector, axis.vector)
    return EmbeddingSpace(
        vectors,
        space._keys,
        labels=space._labels,
        metadata=space._metadata if space._metadata is not None else space._metadata_columns,
        metric=space.metric,
        provenance=replace(
            space.provenance,
            options={
                **space.provenance.options,
                "without": axis.name,
                "without_vector": hashlib.sha256(axis.vector.tobytes()).hexdigest()[:16],
            },
        ),
        name=f"{space.name} without {axis.name}",
        tokenize=space._tokenize,
        encode=space._encode,
    )
