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

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_integer
from .._io.progress import Progress
from ..errors import InvalidParameterError
from ..metrics import Metric
from .cache import cache_file_for, read_cache, write_cache
from .methods import library_version, prepared_rows, run_pca, run_tsne, run_umap
from .result import Projection
from .settings import (
    METHOD_NAMES,
    SECONDS_PER_ROW,
    check_components,
    check_method,
    check_options,
    check_pca_components,
    duration_text,
    resolve_settings,
    usable_cores,
)

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

logger = logging.getLogger(__name__)


# t-SNE and UMAP of more rows than this sample them by default (PCA never samples)
SAMPLE_THRESHOLD = 50_000


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

    ``"axes"`` places every row along directions defined by words instead, exactly and without
    fitting: ``x=("good", "bad"), y=("man", "woman")`` (see ``projection.axes``).
    """
    if method == "axes":
        from .axes import project_axes

        return project_axes(space, **options)
    method = check_method(method)
    n_components = check_components(n_components)
    metric = Metric.of(metric or space.metric)
    settings = check_options(method, options)
    if random_state is not None and (not is_integer(random_state)):
        raise InvalidParameterError(
            f"random_state must be an integer or None; got {random_state!r}"
        )
    rows, sample_note = _rows_to_project(space, method, n_components, sample, random_state)
    pca_dims = check_pca_components(pca_components, method, space.dim)
    settings = resolve_settings(method, settings, len(rows), n_components)
    parameters: dict[str, Any] = {
        "method": method,
        "n_components": n_components,
        "metric": metric,
        "random_state": None if random_state is None else int(random_state),
        "rows": len(rows),
        "rows_in_space": len(space),
        **settings,
        "pca_components": pca_dims,
        "library": library_version(method),
    }
    if sample_note:
        parameters["sample"] = sample_note
    if sample_note:
        logger.warning(sample_note)
    cache_file = cache_file_for(space, parameters) if cache else None
    if cache_file is not None:
        cached = read_cache(cache_file, space, parameters)
        if cached is not None:
            return Projection(
                space=space,
                method=method,
                coordinates=cached.coordinates,
                rows=cached.rows,
                parameters=cached.parameters,
                seconds=cached.seconds,
                from_cache=True,
                cache_file=cache_file,
            )
    logger.info(
        "%s %dD of %s: %s",
        METHOD_NAMES[method],
        n_components,
        space.name,
        ", ".join(f"{k}={v}" for k, v in settings.items()),
    )
    start = time.perf_counter()
    data = prepared_rows(space, rows, metric)
    if method != "pca" and pca_dims is not None:
        data, explained = run_pca(data, pca_dims, random_state)
        parameters["pca_explained_variance"] = round(float(explained.sum()), 4)
    if method == "pca":
        coordinates, explained = run_pca(data, n_components, random_state)
        parameters["explained_variance_ratio"] = [round(float(v), 4) for v in explained]
    elif method == "tsne":
        coordinates = run_tsne(data, n_components, settings, random_state, progress, parameters)
    else:
        coordinates = run_umap(data, n_components, settings, random_state, progress)
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
        write_cache(cache_file, coordinates, rows, parameters, seconds)
    return Projection(
        space=space,
        method=method,
        coordinates=coordinates,
        rows=rows,
        parameters=parameters,
        seconds=seconds,
        cache_file=cache_file,
    )


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
            estimate = SECONDS_PER_ROW.get((method, n_components), 4.0e-3) * n
            if not (method == "umap" and random_state is not None):  # seeded UMAP: one core
                estimate *= 2 / usable_cores()
            logger.warning(
                "%s of all %s rows will take roughly %s on this machine",
                METHOD_NAMES[method],
                f"{n:,}",
                duration_text(estimate),
            )
        return np.arange(n, dtype=np.int64), ""
    seed = 0 if random_state is None else int(random_state)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    note = (
        f"projecting a random sample of {limit:,} of {n:,} rows (seed {seed}); "
        "pass sample=None (CLI: --all-rows) to project every row"
    )
    return rows.astype(np.int64), note
