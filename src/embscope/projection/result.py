"""``Projection``: coordinates of a space's rows with the parameters that made them, their
quality against the original space, a figure and a table."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ..space import EmbeddingSpace
    from .quality import ProjectionQuality

from .cache import quality_file, read_quality
from .settings import METHOD_NAMES

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Projection:
    """A space's rows placed in 2 or 3 dimensions.

    ``coordinates`` is an (m, n_components) float32 array for the space's ``rows`` (every row,
    or a sample); ``parameters`` records everything that made it, "auto" choices included.
    ``coords`` is the same as a table with keys, labels and metadata; ``quality`` measures how
    well it keeps the original space's neighbours.
    """

    space: EmbeddingSpace = field(repr=False)
    method: str
    coordinates: np.ndarray = field(repr=False)
    rows: np.ndarray = field(repr=False)
    parameters: dict[str, Any]
    seconds: float
    from_cache: bool = False
    cache_file: Path | None = field(default=None, repr=False)

    @property
    def n_components(self) -> int:
        return int(self.coordinates.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def explained_variance(self) -> np.ndarray | None:
        """The share of the variance each axis holds: a PCA component's (of the rows
        projected), a word axis's (of every row, in the same geometry); None for t-SNE and
        UMAP, whose axes hold no variance of their own."""
        shares = self.parameters.get("explained_variance_ratio")
        return None if shares is None else np.asarray(shares, dtype=np.float64)

    @property
    def placement(self) -> str:
        """How the rows were placed, as a phrase: fitted to them alone, or where they lie in the
        projection of the whole space they were cut from (``project(placement="whole")``)."""
        if "placed_in" in self.parameters:
            return f"placed where they lie in {self.parameters['placed_in']}"
        if self.space.part_of is not None and self.method != "axes":
            return f"fitted to these {len(self):,} rows alone"
        return f"fitted to the {len(self):,} rows"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.parameters.items() if k in _REPR_PARAMETERS)
        cached = ", from cache" if self.from_cache else ""
        placed = f", {self.placement}" if "placed_in" in self.parameters else ""
        return (
            f"<Projection {METHOD_NAMES[self.method]} {self.n_components}D of "
            f"{self.space.name!r}: {len(self):,} rows, {shown}{placed}, {self.seconds:.1f} s"
            f"{cached}>"
        )

    def _repr_html_(self) -> str:
        """How it was made and how well it keeps the neighbours, then its figure (a seeded
        sample of ``notebook_html.NOTEBOOK_POINTS`` points at most; plotly.js once per kernel
        session)."""
        from ..errors import MissingDependencyError
        from ..notebook_html import escape, projection_html

        try:
            return projection_html(self)
        except MissingDependencyError as error:  # no plotly: the line, and what to install
            return f"<div>{escape(repr(self))}</div><div><i>{escape(error)}</i></div>"

    @cached_property
    def coords(self) -> pd.DataFrame:
        """key, label, x, y(, z), then the space's metadata columns (a metadata column named
        like one of those is kept as ``metadata.<name>``)."""
        import pandas as pd

        keys = self.space.keys
        labels = self.space.labels
        columns: dict[str, Any] = {
            "key": [keys[r] for r in self.rows],
            "label": [labels[r] for r in self.rows],
        }
        for axis, values in zip("xyz", self.coordinates.T, strict=False):
            columns[axis] = values.astype(np.float64)
        for name, values in self.space.metadata_arrays().items():
            column = f"metadata.{name}" if name in columns or name == "z" else name
            columns[column] = values[self.rows]
        frame = pd.DataFrame(columns)
        frame.attrs.update(method=self.method, space=self.space.name, parameters=self.parameters)
        return frame

    def to_pandas(self) -> pd.DataFrame:
        return self.coords

    @cached_property
    def _positions(self) -> dict[str, int]:
        keys = self.space.keys
        return {keys[r]: i for i, r in enumerate(self.rows.tolist())}

    def position(self, key: str) -> np.ndarray:
        """The projected coordinates of one key."""
        if key not in self._positions:
            if key in self.space:
                raise InvalidParameterError(
                    f"{key!r} is in the space but not among the {len(self):,} projected rows "
                    f"(a sample of {len(self.space):,}); project it with sample=None"
                )
            raise self.space.unknown_key(key)
        return self.coordinates[self._positions[key]]

    def distance(self, a: str, b: str) -> float:
        """Euclidean distance between two keys in the projected space."""
        return float(np.linalg.norm(self.position(a).astype(np.float64) - self.position(b), ord=2))

    @cached_property
    def quality(self) -> ProjectionQuality:
        """Trustworthiness and kNN recall@10 against the original space (measured on up to
        1,000 rows; read from the cache when it was measured before)."""
        from .quality import projection_quality

        sidecar = quality_file(self.cache_file) if self.cache_file else None
        if sidecar is not None:
            cached = read_quality(sidecar, len(self.rows))
            if cached is not None:
                return cached
        measured = projection_quality(
            self.space,
            self.rows,
            self.coordinates,
            metric=self.parameters["metric"],
            random_state=self.parameters.get("random_state") or 0,
        )
        if sidecar is not None:
            with atomic_path(sidecar) as temporary:
                temporary.write_text(json.dumps(measured.to_dict()))
        return measured

    def figure(self, color: str | None = None, **options: Any) -> go.Figure:
        """A plotly scatter (2D or 3D) of the projection; see ``embscope.figures.projection``.

        ``color``: a metadata column, ``"similarity:WORD"``, ``"norm"``, ``"label"``, or None
        (the neighbourhood group when there is one).
        """
        from ..figures import projection as projection_figure

        return projection_figure(self, color=color, **options)

    def save(self, path: str | Path) -> Path:
        """Write ``coords`` to ``.parquet``, ``.csv`` or ``.tsv`` (atomically)."""
        path = check_coordinates_path(path)
        suffix = path.suffix.lower()
        frame = self.coords
        with atomic_path(path) as temporary:
            if suffix == ".parquet":
                frame.to_parquet(temporary, index=False)
            else:
                frame.to_csv(temporary, index=False, sep="\t" if suffix == ".tsv" else ",")
        return path


def check_coordinates_path(path: str | Path) -> Path:
    """``path`` when ``Projection.save`` can write its kind of file, else an error."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".csv", ".tsv"):
        raise InvalidParameterError(
            f"coordinates file must end in .parquet, .csv or .tsv; got {path.name!r}"
        )
    return path


_REPR_PARAMETERS = ("perplexity", "n_neighbors", "n_iter", "n_epochs", "metric")
