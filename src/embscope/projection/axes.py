"""The "axes" projection: each coordinate is a row's position along a direction defined by
words (TensorBoard's custom projection, whatlies' word axes). Exact and instant: nothing is
fitted, so the same words always put a row in the same place."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError
from .result import Projection

if TYPE_CHECKING:
    from ..analysis.directions import Direction, Words
    from ..space import EmbeddingSpace

AXIS_NAMES = ("x", "y", "z")


def project_axes(
    space: EmbeddingSpace,
    *,
    x: Direction | tuple[Words, Words] | None = None,
    y: Direction | tuple[Words, Words] | None = None,
    z: Direction | tuple[Words, Words] | None = None,
    **unknown: Any,
) -> Projection:
    """Every row at its positions along ``x``, ``y`` (and ``z``): each a ``Direction`` or a
    ``(positive, negative)`` pair of words or word lists. ``parameters`` name each axis, and
    ``axes_cosine`` says how far from perpendicular two axes are (word directions seldom are:
    a point's x and y then share part of one meaning)."""
    if unknown:
        raise InvalidParameterError(
            f"the axes projection takes x, y and z; got {', '.join(sorted(unknown))}"
        )
    given = {name: axis for name, axis in zip(AXIS_NAMES, (x, y, z), strict=True) if axis}
    if list(given) not in (["x", "y"], ["x", "y", "z"]):
        raise InvalidParameterError(
            "the axes projection needs x and y (and may take z), each a direction or a "
            "(positive, negative) pair of words, e.g. x=('good', 'bad'), y=('man', 'woman')"
        )
    from ..analysis.directions import total_variance

    start = time.perf_counter()
    directions = [_direction(space, name, axis) for name, axis in given.items()]
    coordinates = np.stack([d.positions(of=space) for d in directions], axis=1)
    coordinates = coordinates.astype(np.float32)
    cosines = {
        f"{AXIS_NAMES[i]}{AXIS_NAMES[j]}": round(
            float(directions[i].vector @ directions[j].vector), 4
        )
        for i in range(len(directions))
        for j in range(i + 1, len(directions))
    }
    total = total_variance(space, unit_rows=directions[0].unit_rows)
    parameters: dict[str, Any] = {
        "method": "axes",
        "n_components": len(directions),
        "metric": space.metric,
        "rows": len(space),
        "rows_in_space": len(space),
        **{name: d.name for name, d in zip(given, directions, strict=True)},
        "geometry": "unit rows (cosine)" if directions[0].unit_rows else "rows as stored",
        "axes_cosine": cosines,
        # each axis's share of the variance of every row, as a PCA component states its own
        "explained_variance_ratio": [
            round(float(values.var() / total), 4) if total > 0 else 0.0
            for values in coordinates.astype(np.float64).T
        ],
    }
    rows = np.arange(len(space), dtype=np.int64)
    rows.flags.writeable = False
    coordinates.flags.writeable = False
    return Projection(
        space=space,
        method="axes",
        coordinates=coordinates,
        rows=rows,
        parameters=parameters,
        seconds=time.perf_counter() - start,
    )


def _direction(space: EmbeddingSpace, name: str, axis: Any) -> Direction:
    from ..analysis.directions import Direction, direction

    if isinstance(axis, Direction):
        if axis.vector.shape != (space.dim,):
            raise InvalidParameterError(
                f"{name}: the direction {axis.name} has {len(axis.vector)} dimensions; "
                f"{space.name} has {space.dim}"
            )
        return axis
    if isinstance(axis, str) and ":" in axis:  # "good:bad", as the CLI writes it
        axis = tuple(axis.split(":", 1))
    if not isinstance(axis, tuple | list) or len(axis) != 2:
        raise InvalidParameterError(
            f"{name} must be a direction or a (positive, negative) pair of words; got {axis!r}"
        )
    return direction(space, axis[0], axis[1])


__all__ = ["AXIS_NAMES", "project_axes"]
