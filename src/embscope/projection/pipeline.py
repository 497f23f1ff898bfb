"""Projections of a space to 2 or 3 dimensions (PCA, t-SNE, UMAP), cached on disk.

Each method comes from a library that does it well: scikit-learn's PCA, openTSNE (FFT-
accelerated interpolation in 2D; Barnes-Hut in 3D, as its FFT scheme stops at two dimensions)
and umap-learn. What embscope adds around them:

- the geometry of the space's metric: for cosine, rows are scaled to unit length first, so
  Euclidean distance between them orders neighbours exactly as cosine does;
- "auto" parameters chosen from the data (perplexity, learning rate, iterations, Barnes-Hut
  accuracy, PCA pre-reduction, initialisation), every choice recorded in
  ``Projection.parameters`` and logged;
- a progress bar, and Ctrl-C at any point leaves the cache as it was;
- an on-disk cache keyed by the space's provenance and every parameter: a second identical
  call returns at once; files are written atomically, so concurrent writers are safe, and a
  file that cannot be read is deleted (with a warning) and computed again;
- spaces above ``SAMPLE_THRESHOLD`` rows are sampled for t-SNE and UMAP with a stated seed
  (``sample=None`` projects every row and logs how long that will take);
- the quality of the result against the original space (``Projection.quality``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_integer
from .._io.atomic import atomic_path
from .._io.cache import (
    BrokenEntry,
    check_array,
    open_arrays,
    read_entry,
    space_cache_dir,
)
from .._io.progress import Progress, TqdmToCallback, progress_bar
from ..errors import InvalidParameterError, MissingDependencyError
from ..metrics import Metric
from ..search import kernels as _nb

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ..space import EmbeddingSpace
    from .quality import ProjectionQuality

logger = logging.getLogger(__name__)

VALID_METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
# t-SNE and UMAP of more rows than this sample them by default (PCA never samples)
SAMPLE_THRESHOLD = 50_000
# above this many dimensions t-SNE and UMAP run on the first PCA_DIMENSIONS principal
# components: neighbour search in a 4096-dimensional LLM vocabulary costs too much. Not lower:
# on the 384-dimensional MiniLM tokens, PCA to 50 dimensions cut the 3D t-SNE's kNN recall@10
# from 0.39 to 0.29 and its trustworthiness from 0.969 to 0.953, for no time saved
# (benchmarks/bench_projection.py)
PCA_ABOVE = 512
PCA_DIMENSIONS = 100
# t-SNE in 2D uses FFT-accelerated gradients from this many rows, Barnes-Hut below
FFT_FROM_ROWS = 10_000
# t-SNE finds each row's neighbours exactly up to this many rows, approximately (Annoy) above
EXACT_NEIGHBORS_UP_TO = 50_000
# the options each method accepts besides the common ones, with their defaults
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "pca": {},
    "tsne": {
        "perplexity": "auto",
        "n_iter": "auto",
        "learning_rate": "auto",
        "early_exaggeration": 12.0,
        "early_exaggeration_iter": "auto",
        "theta": "auto",
    },
    "umap": {"n_neighbors": "auto", "min_dist": 0.1, "spread": 1.0, "n_epochs": "auto"},
}
# rough cost per projected row on two cores, measured by benchmarks/bench_projection.py; used
# only to tell a user how long a large projection will take
_SECONDS_PER_ROW = {
    ("tsne", 2): 1.3e-3,
    ("tsne", 3): 4.5e-3,
    ("umap", 2): 1.5e-3,
    ("umap", 3): 1.8e-3,
}
# bump when a change would make cached coordinates differ
_CACHE_FORMAT = 1


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

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.parameters.items() if k in _REPR_PARAMETERS)
        cached = ", from cache" if self.from_cache else ""
        return (
            f"<Projection {METHOD_NAMES[self.method]} {self.n_components}D of "
            f"{self.space.name!r}: {len(self):,} rows, {shown}, {self.seconds:.1f} s{cached}>"
        )

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

        sidecar = _quality_file(self.cache_file) if self.cache_file else None
        if sidecar is not None:
            cached = _read_quality(sidecar, len(self.rows))
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


def project(
    space: EmbeddingSpace,
    method: str = "pca",
    *,
    n_components: int = 2,
    metric: Metric | None = None,
    random_state: int | None = 0,
    sample: int | str | None = "auto",
    pca_components: int | str | None = "auto",
    cache: bool = True,
    progress: Progress = True,
    **options: Any,
) -> Projection:
    """Place the rows of ``space`` in ``n_components`` (2 or 3) dimensions.

    ``method``: ``"pca"``, ``"tsne"`` (openTSNE) or ``"umap"`` (umap-learn). Method options
    (``"auto"`` lets embscope choose, and ``parameters`` records the choice):

    - t-SNE: ``perplexity`` (auto: 30, or (rows - 1) / 3 for small spaces), ``n_iter`` (total
      iterations, auto 750), ``early_exaggeration_iter`` (auto: 250, at most a third of
      ``n_iter``), ``early_exaggeration`` (12), ``learning_rate`` (auto: rows / exaggeration),
      ``theta`` (Barnes-Hut accuracy, auto 0.8; lower is slower and more exact). Gradients
      use FFT interpolation in 2D from ``FFT_FROM_ROWS`` rows, Barnes-Hut otherwise;
    - UMAP: ``n_neighbors`` (auto: 15, at most rows - 1), ``min_dist`` (0.1), ``spread`` (1),
      ``n_epochs`` (auto: umap-learn's own choice).

    ``metric`` (default: the space's) sets the geometry; ``random_state`` seeds every random
    choice (a seeded run gives the same coordinates; UMAP then runs single-threaded, as
    umap-learn requires). ``sample``: ``"auto"`` projects a random ``SAMPLE_THRESHOLD`` rows
    of larger spaces with t-SNE and UMAP, an int that many, None every row. ``pca_components``:
    t-SNE and UMAP first reduce to this many principal components (auto: 100 above 512
    dimensions; None: never). ``cache=False`` neither reads nor writes the on-disk cache.
    ``progress``: a bar on stderr (True), none (False), or ``callback(fraction, phase)``.
    """
    method = _check_method(method)
    n_components = _check_components(n_components)
    metric = Metric.of(metric or space.metric)
    settings = _check_options(method, options)
    if random_state is not None and (not is_integer(random_state)):
        raise InvalidParameterError(
            f"random_state must be an integer or None; got {random_state!r}"
        )
    rows, sample_note = _rows_to_project(space, method, n_components, sample, random_state)
    pca_dims = _check_pca_components(pca_components, method, space.dim)
    settings = _resolve_settings(method, settings, len(rows), n_components)
    parameters: dict[str, Any] = {
        "method": method,
        "n_components": n_components,
        "metric": metric,
        "random_state": None if random_state is None else int(random_state),
        "rows": len(rows),
        "rows_in_space": len(space),
        **settings,
        "pca_components": pca_dims,
        "library": _library_version(method),
    }
    if sample_note:
        parameters["sample"] = sample_note
    if sample_note:
        logger.warning(sample_note)
    cache_file = _cache_file(space, parameters) if cache else None
    if cache_file is not None:
        cached = _read_cache(cache_file, space, parameters)
        if cached is not None:
            return cached
    logger.info(
        "%s %dD of %s: %s",
        METHOD_NAMES[method],
        n_components,
        space.name,
        ", ".join(f"{k}={v}" for k, v in settings.items()),
    )
    start = time.perf_counter()
    data = _prepared(space, rows, metric)
    if method != "pca" and pca_dims is not None:
        data, explained = _pca(data, pca_dims, random_state)
        parameters["pca_explained_variance"] = round(float(explained.sum()), 4)
    if method == "pca":
        coordinates, explained = _pca(data, n_components, random_state)
        parameters["explained_variance_ratio"] = [round(float(v), 4) for v in explained]
    elif method == "tsne":
        coordinates = _tsne(data, n_components, settings, random_state, progress, parameters)
    else:
        coordinates = _umap(data, n_components, settings, random_state, progress)
    coordinates = np.ascontiguousarray(coordinates, dtype=np.float32)
    if not np.isfinite(coordinates).all():
        raise InvalidParameterError(
            f"{METHOD_NAMES[method]} diverged (non-finite coordinates) with {settings}; "
            "lower learning_rate or raise perplexity / n_neighbors"
        )
    seconds = time.perf_counter() - start
    rows.flags.writeable = False
    coordinates.flags.writeable = False
    if cache_file is not None:
        _write_cache(cache_file, coordinates, rows, parameters, seconds)
    return Projection(
        space=space,
        method=method,
        coordinates=coordinates,
        rows=rows,
        parameters=parameters,
        seconds=seconds,
        cache_file=cache_file,
    )


def _check_method(method: object) -> str:
    if method not in VALID_METHODS:
        raise InvalidParameterError(
            f"method must be one of {', '.join(VALID_METHODS)}; got {method!r}"
        )
    return str(method)


def _check_components(n_components: object) -> int:
    if isinstance(n_components, bool) or n_components not in (2, 3):
        raise InvalidParameterError(f"n_components must be 2 or 3; got {n_components!r}")
    return int(n_components)  # type: ignore[call-overload]


def _check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    allowed = METHOD_OPTIONS[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) or "no method options"
        raise InvalidParameterError(
            f"{METHOD_NAMES[method]} has no option {unknown[0]!r}; it accepts {accepted}"
        )
    return {**allowed, **options}


def _check_pca_components(value: object, method: str, dim: int) -> int | None:
    if method == "pca" or value is None:
        return None
    if value == "auto":
        return PCA_DIMENSIONS if dim > PCA_ABOVE else None
    if not is_integer(value) or value < 2:
        raise InvalidParameterError(
            f"pca_components must be 'auto', None or an integer of at least 2; got {value!r}"
        )
    return int(value) if value < dim else None


# More optimisation steps than this change nothing visible and would run for days: a typo
# (10**12 iterations) is refused rather than accepted.
MAX_STEPS = 100_000


def _number(
    settings: dict[str, Any],
    name: str,
    *,
    minimum: float,
    integer: bool = False,
    maximum: float = math.inf,
):
    value = settings[name]
    valid = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    if integer:
        valid = valid and float(value).is_integer()
    if not valid or not math.isfinite(float(value)) or not minimum <= value <= maximum:
        kind = "an integer" if integer else "a number"
        bounds = (
            f"from {minimum:g} to {maximum:,g}"
            if maximum < math.inf
            else f"of at least {minimum:g}"
        )
        raise InvalidParameterError(f"{name} must be 'auto' or {kind} {bounds}; got {value!r}")
    return int(value) if integer else float(value)


def _resolve_settings(
    method: str, settings: dict[str, Any], n: int, n_components: int
) -> dict[str, Any]:
    """Every option with "auto" replaced by the value used, checked against the data size."""
    if method == "pca":
        if n < n_components:
            raise InvalidParameterError(
                f"PCA to {n_components} components needs at least {n_components} rows; got {n}"
            )
        return {}
    if method == "umap":
        return _resolve_umap(settings, n)
    return _resolve_tsne(settings, n, n_components)


def _resolve_tsne(settings: dict[str, Any], n: int, n_components: int) -> dict[str, Any]:
    if n < 4:
        raise InvalidParameterError(f"t-SNE needs at least 4 rows; got {n}")
    resolved: dict[str, Any] = {}
    if settings["perplexity"] == "auto":
        perplexity = min(30.0, (n - 1) / 3)
    else:
        perplexity = _number(settings, "perplexity", minimum=1e-9)
        if perplexity >= n:
            raise InvalidParameterError(
                f"perplexity must be less than the number of rows ({n}); got {perplexity:g}"
            )
        if 3 * perplexity > n - 1:
            # openTSNE needs 3 x perplexity neighbours per row
            logger.warning(
                "perplexity %g needs %d neighbours per row but there are %d rows; using %.4g",
                perplexity,
                int(3 * perplexity),
                n,
                (n - 1) / 3,
            )
            perplexity = (n - 1) / 3
    resolved["perplexity"] = round(perplexity, 4)
    n_iter = (
        750
        if settings["n_iter"] == "auto"
        else _number(settings, "n_iter", minimum=1, integer=True, maximum=MAX_STEPS)
    )
    if settings["early_exaggeration_iter"] == "auto":
        exaggerated = min(250, n_iter // 3)
    else:
        exaggerated = _number(settings, "early_exaggeration_iter", minimum=0, integer=True)
        if exaggerated > n_iter:
            raise InvalidParameterError(
                f"early_exaggeration_iter must be at most n_iter ({n_iter}); got {exaggerated}"
            )
    resolved["n_iter"] = n_iter
    resolved["early_exaggeration_iter"] = exaggerated
    exaggeration = _number(settings, "early_exaggeration", minimum=1)
    resolved["early_exaggeration"] = exaggeration
    if settings["learning_rate"] == "auto":
        resolved["learning_rate"] = "auto"
        resolved["learning_rate_used"] = [round(n / exaggeration, 3), float(n)]
    else:
        resolved["learning_rate"] = _number(settings, "learning_rate", minimum=1e-9)
    # FFT interpolation (2D only) costs a fixed grid per iteration and wins from about 10k
    # rows; below that Barnes-Hut is faster (openTSNE's own rule)
    fft = n_components == 2 and n >= FFT_FROM_ROWS
    resolved["gradient"] = "fft" if fft else "barnes-hut"
    if not fft:
        theta = 0.8 if settings["theta"] == "auto" else _number(settings, "theta", minimum=0)
        resolved["theta"] = theta
    # exact neighbours give better affinities (trustworthiness 0.992 against 0.991 with Annoy
    # on 10k GloVe rows, benchmarks/bench_projection.py) and cost seconds up to this size
    resolved["neighbors"] = "exact" if n <= EXACT_NEIGHBORS_UP_TO else "annoy"
    resolved["initialization"] = "pca"
    return resolved


def _resolve_umap(settings: dict[str, Any], n: int) -> dict[str, Any]:
    if n < 3:
        raise InvalidParameterError(f"UMAP needs at least 3 rows; got {n}")
    if settings["n_neighbors"] == "auto":
        n_neighbors = min(15, n - 1)
    else:
        n_neighbors = _number(settings, "n_neighbors", minimum=2, integer=True)
        if n_neighbors >= n:
            raise InvalidParameterError(
                f"n_neighbors must be less than the number of rows ({n}); got {n_neighbors}"
            )
    spread = _number(settings, "spread", minimum=1e-9)
    min_dist = _number(settings, "min_dist", minimum=0)
    if min_dist > spread:
        raise InvalidParameterError(
            f"min_dist must be less than or equal to spread ({spread:g}); got {min_dist:g}"
        )
    if settings["n_epochs"] == "auto":
        n_epochs = 500 if n <= 10_000 else 200  # umap-learn's own rule, recorded
    else:
        n_epochs = _number(settings, "n_epochs", minimum=1, integer=True, maximum=MAX_STEPS)
    return {
        "n_neighbors": n_neighbors,
        "min_dist": min_dist,
        "spread": spread,
        "n_epochs": n_epochs,
        "initialization": "spectral",
    }


def _rows_to_project(
    space: EmbeddingSpace,
    method: str,
    n_components: int,
    sample: int | str | None,
    random_state: int | None,
) -> tuple[np.ndarray, str]:
    n = len(space)
    if sample == "auto":
        limit = SAMPLE_THRESHOLD if method != "pca" else None
    elif sample is None:
        limit = None
    elif not is_integer(sample) or sample < 1:
        raise InvalidParameterError(
            f"sample must be 'auto', None or a positive number of rows; got {sample!r}"
        )
    else:
        limit = int(sample)
    if limit is None or n <= limit:
        if method != "pca" and n > SAMPLE_THRESHOLD:
            estimate = _SECONDS_PER_ROW.get((method, n_components), 4.0e-3) * n
            if not (method == "umap" and random_state is not None):  # seeded UMAP: one core
                estimate *= 2 / _usable_cores()
            logger.warning(
                "%s of all %s rows will take roughly %s on this machine",
                METHOD_NAMES[method],
                f"{n:,}",
                _duration(estimate),
            )
        return np.arange(n, dtype=np.int64), ""
    seed = 0 if random_state is None else int(random_state)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    note = (
        f"projecting a random sample of {limit:,} of {n:,} rows (seed {seed}); "
        "pass sample=None (CLI: --all-rows) to project every row"
    )
    return rows.astype(np.int64), note


def _usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


# ---- the methods --------------------------------------------------------------------------
def _prepared(space: EmbeddingSpace, rows: np.ndarray, metric: Metric) -> np.ndarray:
    """The rows as float32, on the unit sphere for cosine (a zero row stays at the origin)."""
    data = np.asarray(
        space.vectors if len(rows) == len(space) else space.vectors[rows], dtype=np.float32
    )
    if metric == Metric.COSINE:
        data = data * _nb.inverse(space.norms[rows])[:, None]
    return np.ascontiguousarray(data)


def _pca(data: np.ndarray, n_components: int, random_state: int | None):
    decomposition = _require("sklearn.decomposition", "scikit-learn", "PCA")
    pca = decomposition.PCA(n_components=n_components, random_state=random_state)
    reduced = pca.fit_transform(data)
    return reduced.astype(np.float32), pca.explained_variance_ratio_


def _tsne(
    data: np.ndarray,
    n_components: int,
    settings: dict[str, Any],
    random_state: int | None,
    progress: Progress,
    parameters: dict[str, Any],
) -> np.ndarray:
    openTSNE = _require("openTSNE", "openTSNE", "t-SNE")
    n_iter = settings["n_iter"]
    exaggerated = settings["early_exaggeration_iter"]
    every = 10
    with progress_bar(
        n_iter, f"t-SNE {n_components}D of {len(data):,} rows: neighbours", enabled=progress
    ) as advance:

        def on_iterations(iteration: int, error: float, embedding: np.ndarray) -> bool:
            advance(
                every, description=f"t-SNE {n_components}D of {len(data):,} rows: KL {error:.3f}"
            )
            return False

        tsne = openTSNE.TSNE(
            n_components=n_components,
            perplexity=settings["perplexity"],
            learning_rate=settings["learning_rate"],
            early_exaggeration=settings["early_exaggeration"],
            early_exaggeration_iter=exaggerated,
            n_iter=n_iter - exaggerated,
            theta=settings.get("theta", 0.5),
            negative_gradient_method="fft" if settings["gradient"] == "fft" else "bh",
            neighbors=settings["neighbors"],
            initialization="pca",
            n_jobs=_usable_cores(),
            random_state=random_state,
            callbacks=on_iterations if progress else None,
            callbacks_every_iters=every,
            verbose=False,
        )
        with _library_warnings_logged():
            embedding = tsne.fit(data)
    parameters["kl_divergence"] = round(float(embedding.kl_divergence), 4)
    return np.asarray(embedding)


def _umap(
    data: np.ndarray,
    n_components: int,
    settings: dict[str, Any],
    random_state: int | None,
    progress: Progress,
) -> np.ndarray:
    umap = _require("umap", "umap-learn", "UMAP")
    phase = f"UMAP {n_components}D of {len(data):,} rows: epochs"
    bar: dict[str, Any] = {"disable": not progress, "desc": phase, "leave": False}
    if callable(progress):
        progress(0.0, f"UMAP {n_components}D of {len(data):,} rows: neighbours")
        bar.update(file=TqdmToCallback(progress, phase), bar_format=TqdmToCallback.BAR_FORMAT)
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=settings["n_neighbors"],
        min_dist=settings["min_dist"],
        spread=settings["spread"],
        n_epochs=settings["n_epochs"],
        metric="euclidean",
        init="spectral",
        random_state=random_state,
        # umap-learn is reproducible only single-threaded; unseeded runs use every core
        n_jobs=1 if random_state is not None else -1,
        low_memory=True,
        verbose=False,
        tqdm_kwds=bar,
    )
    with _library_warnings_logged():
        return reducer.fit_transform(data)


@contextlib.contextmanager
def _library_warnings_logged() -> Iterator[None]:
    """Route the optimisers' own warnings (a perplexity lowered, a spectral start that fell
    back to random) to our log instead of the caller's warning filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.warning("%s", warning.message)


def _require(module: str, package: str, purpose: str) -> Any:
    import importlib

    try:
        with warnings.catch_warnings():
            # umap-learn announces at import that TensorFlow (for ParametricUMAP) is missing
            warnings.simplefilter("ignore", ImportWarning)
            return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, extra="viz", purpose=purpose) from None


def _library_version(method: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = {"pca": "scikit-learn", "tsne": "openTSNE", "umap": "umap-learn"}[method]
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        raise MissingDependencyError(package, extra="viz", purpose=METHOD_NAMES[method]) from None


# ---- the cache ----------------------------------------------------------------------------
def _cache_file(space: EmbeddingSpace, parameters: dict[str, Any]) -> Path:
    payload = json.dumps({"format": _CACHE_FORMAT, **parameters}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:20]
    name = f"{parameters['method']}-{parameters['n_components']}d-{digest}.npz"
    return space_cache_dir(space) / "projections" / name


def _write_cache(
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


def _read_cache(path: Path, space: EmbeddingSpace, parameters: dict[str, Any]) -> Projection | None:
    def read(path: Path) -> Projection:
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
        return Projection(
            space=space,
            method=parameters["method"],
            coordinates=coordinates,
            rows=rows,
            parameters=recorded,
            seconds=seconds,
            from_cache=True,
            cache_file=path,
        )

    return read_entry(path, read, what="the cached projection", companions=[_quality_file(path)])


def _quality_file(cache_file: Path) -> Path:
    """Where the quality measured for a cached projection is kept, beside it."""
    return cache_file.with_suffix(".quality.json")


def _read_quality(path: Path, rows: int) -> ProjectionQuality | None:
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
