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
# "own": fitted to the space's rows; "whole": its rows where they lie in its parent's projection
PLACEMENTS = ("own", "whole")


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
    placement: str = "own",
    holding_rows: np.ndarray | None = None,
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

    ``placement``: ``"own"`` fits the projection to this space's rows alone; ``"whole"``, for
    a space cut from another (``neighborhood``, ``subset``, ``keys_subspace``), projects the
    whole space it was cut from and shows these rows where they lie in it (the notebook picks
    its neighbourhood out of the whole vocabulary's t-SNE); ``Projection.placement`` says
    which. ``holding_rows``: rows a sample must hold (used by ``"whole"``).
    """
    if placement not in PLACEMENTS:
        raise InvalidParameterError(
            f"placement must be one of {', '.join(map(repr, PLACEMENTS))}; got {placement!r}"
        )
    if placement == "whole":
        from .placement import project_within_whole

        return project_within_whole(
            space,
            method,
            n_components=n_components,
            metric=metric,
            random_state=random_state,
            sample=sample,
            pca_components=pca_components,
            cache=cache,
            progress=progress,
            **options,
        )
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
    rows, sample_note, made_to_hold = _rows_to_project(
        space, method, n_components, sample, random_state, holding_rows
    )
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
        logger.warning(sample_note)
        if made_to_hold:  # another sample than the seeded one: cached as its own
            parameters["sample_holds"] = _fingerprint(holding_rows)
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
    holding_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, str, bool]:
    """The rows to project, a note when they are a sample, and whether the sample was
    changed to hold ``holding_rows``."""
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
        return np.arange(n, dtype=np.int64), "", False
    seed = 0 if random_state is None else int(random_state)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    needed = np.unique(holding_rows) if holding_rows is not None else rows[:0]
    held = ""
    if not np.isin(needed, rows).all():  # the seeded sample misses some: make one that holds them
        others = np.setdiff1d(np.arange(n, dtype=np.int64), needed, assume_unique=True)
        extra = np.random.default_rng(seed).choice(
            others, size=max(limit - len(needed), 0), replace=False
        )
        rows = np.sort(np.concatenate([needed, extra]))
        held = f", made to hold the {len(needed):,} rows placed in it"
    note = (
        f"projecting a random sample of {len(rows):,} of {n:,} rows (seed {seed}{held}); "
        "pass sample=None (CLI: --all-rows) to project every row"
    )
    return rows.astype(np.int64), note, bool(held)


def _fingerprint(rows: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]
