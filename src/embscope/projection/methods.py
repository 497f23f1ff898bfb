"""The projection methods themselves: scikit-learn's PCA, openTSNE and umap-learn, run on
rows prepared for the metric (unit rows for cosine), with their warnings logged."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io.progress import Progress, TqdmToCallback, progress_bar
from ..errors import MissingDependencyError
from ..metrics import Metric
from ..search import kernels as _nb

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

from .settings import METHOD_NAMES, usable_cores

logger = logging.getLogger(__name__)


# ---- the methods --------------------------------------------------------------------------
def prepared_rows(space: EmbeddingSpace, rows: np.ndarray, metric: Metric) -> np.ndarray:
    """The rows as float32, on the unit sphere for cosine (a zero row stays at the origin)."""
    data = np.asarray(
        space.vectors if len(rows) == len(space) else space.vectors[rows], dtype=np.float32
    )
    if metric == Metric.COSINE:
        data = data * _nb.inverse(space.norms[rows])[:, None]
    return np.ascontiguousarray(data)


def run_pca(data: np.ndarray, n_components: int, random_state: int | None):
    decomposition = require_library("sklearn.decomposition", "scikit-learn", "PCA")
    pca = decomposition.PCA(n_components=n_components, random_state=random_state)
    reduced = pca.fit_transform(data)
    return reduced.astype(np.float32), pca.explained_variance_ratio_


def run_tsne(
    data: np.ndarray,
    n_components: int,
    settings: dict[str, Any],
    random_state: int | None,
    progress: Progress,
    parameters: dict[str, Any],
) -> np.ndarray:
    openTSNE = require_library("openTSNE", "openTSNE", "t-SNE")
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
            n_jobs=usable_cores(),
            random_state=random_state,
            callbacks=on_iterations if progress else None,
            callbacks_every_iters=every,
            verbose=False,
        )
        with library_warnings_logged():
            embedding = tsne.fit(data)
    parameters["kl_divergence"] = round(float(embedding.kl_divergence), 4)
    return np.asarray(embedding)


def run_umap(
    data: np.ndarray,
    n_components: int,
    settings: dict[str, Any],
    random_state: int | None,
    progress: Progress,
) -> np.ndarray:
    umap = require_library("umap", "umap-learn", "UMAP")
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
    with library_warnings_logged():
        return reducer.fit_transform(data)


@contextlib.contextmanager
def library_warnings_logged() -> Iterator[None]:
    """Route the optimisers' own warnings (a perplexity lowered, a spectral start that fell
    back to random) to our log instead of the caller's warning filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.warning("%s", warning.message)


def require_library(module: str, package: str, purpose: str) -> Any:
    import importlib

    try:
        with warnings.catch_warnings():
            # umap-learn announces at import that TensorFlow (for ParametricUMAP) is missing
            warnings.simplefilter("ignore", ImportWarning)
            return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, extra="viz", purpose=purpose) from None


def library_version(method: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = {"pca": "scikit-learn", "tsne": "openTSNE", "umap": "umap-learn"}[method]
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        raise MissingDependencyError(package, extra="viz", purpose=METHOD_NAMES[method]) from None
