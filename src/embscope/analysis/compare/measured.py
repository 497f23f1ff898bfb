"""What ``compare`` measures, apart from the spaces it measured: what the on-disk cache keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """B mapped onto A: ``mapping`` (B's width x A's width), how it was fitted, the per-key
    cosine between A's row and B's mapped row, and the fit's relative residual; the
    ``*_chance`` figures are the same fit with B's rows shuffled among the keys."""

    mapping: np.ndarray
    kind: Literal["orthogonal", "least-squares"]
    unit_rows: bool
    fitted_on: int
    cosines: np.ndarray
    residual: float
    residual_chance: float
    cosine_chance: float


@dataclass(frozen=True)
class PairCorrelation:
    rho: float
    pvalue: float
    pairs: int


@dataclass(frozen=True)
class Measured:
    """Every figure ``compare`` computed over the shared keys (in their order): each key's
    neighbour rows among the shared keys in A and in B, its Spearman to the reference keys,
    the sampled pairs' correlation, CKA and its chance level, and the alignment."""

    ids_a: np.ndarray
    ids_b: np.ndarray
    reference_correlation: np.ndarray
    pair_correlation: PairCorrelation
    cka: float
    cka_chance: float
    alignment: Alignment


__all__ = ["Alignment", "Measured", "PairCorrelation"]
