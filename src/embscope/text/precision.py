"""What reduced precision costs: a sample of the texts encoded both in reduced precision and in
fp32, compared by cosine and, when the texts carry labels, by leave-one-out kNN accuracy.

int8 (``backend="onnx-int8"``) is never chosen for the user and reports this measurement of its
own run (issue 19 measured a minimum cosine of 0.98 to fp32 on AG News). bfloat16
(``"torch-bf16"``, auto's choice on CPUs with native bf16) is checked on each run's texts
before it encodes them, and gives way to fp32 when any sampled vector falls below
``BF16_MIN_COSINE``: "the same vectors" is a promise, not a hope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# texts compared per int8 run: enough for a stable mean and a kNN vote, a second of encoding
QUALITY_SAMPLE = 500
QUALITY_K = 5
# texts bf16 is tried on before a run encodes with it, and the lowest cosine to fp32 it must keep
BF16_SAMPLE = 64
BF16_MIN_COSINE = 0.9999


@dataclass(frozen=True)
class PrecisionCheck:
    """``precision`` ("int8", "bf16") against fp32 on ``sampled`` texts: the cosine of each
    pair of vectors (min and mean) and, with labels, leave-one-out kNN accuracy (k=5, cosine)
    of each encoding."""

    sampled: int
    cosine_min: float
    cosine_mean: float
    knn_fp32: float | None = None
    knn_int8: float | None = None
    precision: str = "int8"

    @property
    def knn_change(self) -> float | None:
        if self.knn_fp32 is None or self.knn_int8 is None:
            return None
        return self.knn_int8 - self.knn_fp32

    def __str__(self) -> str:
        text = (
            f"{self.precision} against fp32 on {self.sampled:,} of the texts: cosine min "
            f"{self.cosine_min:.4f}, mean {self.cosine_mean:.4f}"
        )
        if self.knn_change is not None:
            text += (
                f"; kNN accuracy (k={QUALITY_K}) {self.knn_fp32:.3f} -> {self.knn_int8:.3f} "
                f"({self.knn_change:+.3f})"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "sampled": self.sampled,
            "cosine_min": self.cosine_min,
            "cosine_mean": self.cosine_mean,
            "knn_fp32": self.knn_fp32,
            "knn_int8": self.knn_int8,
            "precision": self.precision,
        }


def quality_sample(count: int, *, size: int = QUALITY_SAMPLE, random_state: int = 0) -> np.ndarray:
    """Which rows of ``count`` texts are compared: all of a small set, else a seeded sample."""
    if count <= size:
        return np.arange(count)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(count, size=size, replace=False))


def compare(
    reduced: np.ndarray,
    fp32: np.ndarray,
    labels: Sequence[Any] | None = None,
    *,
    precision: str = "int8",
) -> PrecisionCheck:
    """The quality of the ``reduced`` rows against the fp32 rows of the same texts."""
    cosines = np.einsum("ij,ij->i", _unit(reduced), _unit(fp32))
    knn_fp32 = knn_int8 = None
    if labels is not None and len(set(labels)) > 1 and len(labels) > QUALITY_K:
        knn_fp32, knn_int8 = _knn_accuracy(fp32, labels), _knn_accuracy(reduced, labels)
    return PrecisionCheck(
        sampled=len(cosines),
        cosine_min=float(cosines.min()) if len(cosines) else 1.0,
        cosine_mean=float(cosines.mean()) if len(cosines) else 1.0,
        knn_fp32=knn_fp32,
        knn_int8=knn_int8,
        precision=precision,
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def _knn_accuracy(vectors: np.ndarray, labels: Sequence[Any]) -> float:
    """Leave-one-out: each row's label voted by its k most cosine-similar other rows; a tied
    vote goes to the tied label with the nearest neighbour."""
    _, codes = np.unique(np.asarray([str(label) for label in labels]), return_inverse=True)
    similarity = _unit(vectors) @ _unit(vectors).T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :QUALITY_K]
    right = 0
    for row, neighbours in enumerate(nearest):
        voted = codes[neighbours]
        counts = np.bincount(voted)
        tied = np.flatnonzero(counts == counts.max())
        winner = next(code for code in voted if code in tied)  # nearest first
        right += int(winner == codes[row])
    return right / len(nearest)
