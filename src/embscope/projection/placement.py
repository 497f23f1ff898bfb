"""A part of a space shown where it lies in the whole space's projection.

A neighbourhood projected alone is laid out by its own 61 rows; the notebook instead picks
those rows out of the t-SNE of the whole vocabulary, where the same words sit among all the
others. ``project(..., placement="whole")`` does the latter: it projects the space the part
was cut from (cached like any projection, and sampled for t-SNE and UMAP with a sample made
to hold the part's rows) and keeps the part's coordinates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError
from .result import Projection
from .settings import METHOD_NAMES

if TYPE_CHECKING:
    from ..space import EmbeddingSpace


def whole_and_rows(space: EmbeddingSpace) -> tuple[EmbeddingSpace, np.ndarray]:
    """The space ``space`` was cut from (the one the user cut it from: a neighbourhood of
    the 1,000 most frequent words is placed among those 1,000), and its rows there."""
    if space.part_of is None:
        raise InvalidParameterError(
            f"placement='whole' needs a space cut from another (neighborhood, subset, "
            f"keys_subspace); {space.name} is a whole space: use placement='own'"
        )
    return space.part_of


def project_within_whole(space: EmbeddingSpace, method: str, **options: Any) -> Projection:
    """``space``'s rows with the coordinates the whole space's ``method`` projection gives
    them; ``parameters["placed_in"]`` says in what."""
    from .pipeline import project

    whole, rows = whole_and_rows(space)
    whole_projection = project(whole, method, holding_rows=rows, **options)
    # a projection's rows are sorted (every row, or a sorted sample holding ``rows``)
    positions = np.searchsorted(whole_projection.rows, rows)
    coordinates = whole_projection.coordinates[positions]
    coordinates.flags.writeable = False
    parameters = {
        key: value
        for key, value in whole_projection.parameters.items()
        if key not in ("sample", "sample_holds")
    }
    shown = len(whole_projection)
    of_rows = f"{shown:,} rows" if shown == len(whole) else f"{shown:,} of the {len(whole):,} rows"
    parameters.update(
        rows=len(space),
        rows_in_space=len(space),
        placement="whole",
        placed_in=f"the {METHOD_NAMES[method]} of {of_rows} of {whole.name}",
    )
    if "sample" in whole_projection.parameters:
        parameters["whole_sample"] = whole_projection.parameters["sample"]
    return Projection(
        space=space,
        method=method,
        coordinates=coordinates,
        rows=np.arange(len(space), dtype=np.int64),
        parameters=parameters,
        seconds=whole_projection.seconds,
        from_cache=whole_projection.from_cache,
    )
