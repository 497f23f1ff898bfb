"""Projection settings: the methods and their options, "auto" values chosen from the data
(perplexity, iterations, learning rate, Barnes-Hut accuracy, UMAP neighbours), and the checks
that refuse a bad value in one line before any work."""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_integer
from ..errors import InvalidParameterError

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


PROJECTION_METHODS: tuple[str, ...] = ("pca", "tsne", "umap")


METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "axes": "Axes"}


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
SECONDS_PER_ROW = {
    ("tsne", 2): 1.3e-3,
    ("tsne", 3): 4.5e-3,
    ("umap", 2): 1.5e-3,
    ("umap", 3): 1.8e-3,
}


def check_method(method: object) -> str:
    if method not in PROJECTION_METHODS:
        raise InvalidParameterError(
            f"method must be one of {', '.join(PROJECTION_METHODS)}; got {method!r}"
        )
    return str(method)


def check_components(n_components: object) -> int:
    if isinstance(n_components, bool) or n_components not in (2, 3):
        raise InvalidParameterError(f"n_components must be 2 or 3; got {n_components!r}")
    return int(n_components)  # type: ignore[call-overload]


def check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    allowed = METHOD_OPTIONS[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) or "no method options"
        raise InvalidParameterError(
            f"{METHOD_NAMES[method]} has no option {unknown[0]!r}; it accepts {accepted}"
        )
    return {**allowed, **options}


def check_pca_components(value: object, method: str, dim: int) -> int | None:
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


def resolve_settings(
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


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"
