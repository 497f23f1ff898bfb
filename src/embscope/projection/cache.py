"""The on-disk cache of projections: coordinates, rows and parameters keyed by the space's
provenance and every parameter, written atomically; a broken entry is deleted and computed
again."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io.atomic import atomic_path
from .._io.cache import (
    BrokenEntry,
    check_array,
    open_arrays,
    read_entry,
    space_cache_dir,
)

if TYPE_CHECKING:
    from ..space import EmbeddingSpace
    from .quality import ProjectionQuality

logger = logging.getLogger(__name__)


# bump when a change would make cached coordinates differ
CACHE_FORMAT = 1


# ---- the cache ----------------------------------------------------------------------------
def cache_file_for(space: EmbeddingSpace, parameters: dict[str, Any]) -> Path:
    payload = json.dumps({"format": CACHE_FORMAT, **parameters}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:20]
    name = f"{parameters['method']}-{parameters['n_components']}d-{digest}.npz"
    return space_cache_dir(space) / "projections" / name


def write_cache(
    path: Path,
    coordinates: np.ndarray,
    rows: np.ndarray,
    parameters: dict[str, Any],
    seconds: float,
) -> None:
    try:
        with atomic_path(path) as temporary, temporary.open("wb") as handle:
            np.savez(
                handle,
                coordinates=coordinates,
                rows=rows,
                parameters=np.asarray(json.dumps(parameters, default=str)),
                seconds=np.asarray(seconds),
            )
    except OSError as error:  # a read-only or full cache must not lose the result
        logger.warning("could not cache the projection in %s: %s", path.parent, error)


@dataclass(frozen=True)
class CachedProjection:
    """What a cache entry holds, checked against the space and parameters asked for."""

    coordinates: np.ndarray
    rows: np.ndarray
    parameters: dict[str, Any]
    seconds: float


def read_cache(
    path: Path, space: EmbeddingSpace, parameters: dict[str, Any]
) -> CachedProjection | None:
    def read(path: Path) -> CachedProjection:
        with open_arrays(path) as stored:
            coordinates = check_array(stored["coordinates"], "coordinates", kind="f", ndim=2)
            rows = check_array(stored["rows"], "rows", kind="iu", ndim=1)
            recorded = json.loads(str(stored["parameters"]))
            seconds = float(stored["seconds"])
        # the file name is a digest of the parameters, so an entry that does not fit this
        # space is a damaged one
        if (
            coordinates.shape != (parameters["rows"], parameters["n_components"])
            or len(rows) != parameters["rows"]
            or (len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(space)))
            or not np.isfinite(coordinates).all()
            or not isinstance(recorded, dict)
        ):
            raise BrokenEntry("its arrays do not fit this space and these parameters")
        coordinates.flags.writeable = False
        rows.flags.writeable = False
        return CachedProjection(coordinates, rows, recorded, seconds)

    return read_entry(path, read, what="the cached projection", companions=[quality_file(path)])


def quality_file(cache_file: Path) -> Path:
    """Where the quality measured for a cached projection is kept, beside it."""
    return cache_file.with_suffix(".quality.json")


def read_quality(path: Path, rows: int) -> ProjectionQuality | None:
    from .quality import ProjectionQuality

    def read(path: Path) -> ProjectionQuality:
        quality = ProjectionQuality(**json.loads(path.read_text(encoding="utf-8")))
        numbers = (quality.trustworthiness, quality.knn_recall, quality.k, quality.rows_measured)
        if (
            not all(isinstance(n, int | float) for n in numbers)
            or quality.rows != rows
            or not isinstance(quality.metric, str)
        ):
            raise BrokenEntry("its fields do not describe this projection")
        return quality

    return read_entry(path, read, what="the cached projection quality")
