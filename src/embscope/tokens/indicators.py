"""Indicators of under-trained tokens, computed from the weights in blocks of rows.

For every indicator a LOW value is suspicious (the token's row moved little from where training
started, or sits with rows that were never trained):

- ``input_norm``: the length of the input-embedding row, ‖E_i‖ (needs no reference tokens);
- ``output_cosine``: Land & Bartolo's main indicator: with U the output matrix (E when tied),
  the first principal component of U (fit on all of U) removed from every row, the cosine
  distance of each row to the mean of the reference (never-trained) rows. In a trained LLM that
  component is a direction all tokens share, which hides the unused one; when the reference
  mean lies along it instead (``|cos| > ALIGNED``: untrained tokens are so many, as in a small
  vocabulary, that their direction is the first component), removing it would remove the signal,
  so it is kept, and the notes say so;
- ``output_l2``: the Euclidean distance of each row of U to the mean reference row;
- ``output_bias``: the LM head's bias, where the model has one;
- ``centroid_distance``: the Euclidean distance of each input row to the centroid of all of
  them: Rumbelow & Watkins found "SolidGoldMagikarp" and its kin nearest the centroid. Both
  ends are worth a look; the near end is the suspicious one.

Matrices are read in blocks of ``BLOCK_ROWS`` rows, widened to float32 one block at a time, so a
memory-mapped float16 vocabulary of 128k x 4096 is never copied whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._io.progress import Progress, progress_bar

BLOCK_ROWS = 8192
# subspace iteration for the first principal component: block size and passes over the matrix
_PCA_BLOCK = 8
_PCA_PASSES = 4
ALIGNED = 0.9

DESCRIPTIONS = {
    "input_norm": "length of the input-embedding row",
    "output_cosine": "cosine distance of the output row to the mean reference row, "
    "first principal component removed",
    "output_l2": "Euclidean distance of the output row to the mean reference row",
    "output_bias": "the LM head's bias",
    "centroid_distance": "Euclidean distance of the input row to the centroid of all rows",
}
NEEDS_REFERENCES = ("output_cosine", "output_l2")


@dataclass(frozen=True)
class Weights:
    """What a checkpoint holds: the input matrix, the output matrix (None when it is the input
    one, i.e. tied), and the output bias (None without one)."""

    input: np.ndarray
    output: np.ndarray | None = None
    bias: np.ndarray | None = None

    @property
    def unembedding(self) -> np.ndarray:
        return self.input if self.output is None else self.output


def compute(
    weights: Weights, references: np.ndarray | None, *, progress: Progress = True
) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    """(indicator name → one value per row, indicator name → why it was not computed,
    indicator name → how it was computed where that was a choice).

    Every per-row quantity comes from dot products with a few fixed vectors, so the matrices
    are read in few passes: the input's norms and mean; for the unembedding indicators, its
    mean (when untied), ``_PCA_PASSES`` for the principal component, and one last pass that
    takes every dot product at once."""
    values: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    notes: dict[str, str] = {}
    tied = weights.output is None
    passes = 2 if references is None or not tied else 1
    if references is not None:
        passes += _PCA_PASSES + 1 + (0 if tied else 1)
    rows = len(weights.input)
    with progress_bar(passes * rows, "token indicators", enabled=progress) as advance:
        squared, centroid = _squared_norms_and_mean(weights.input, advance)
        values["input_norm"] = np.sqrt(squared).astype(np.float32)
        if references is None:
            for name in NEEDS_REFERENCES:
                skipped[name] = "no reference tokens (pass references=[...] to compute it)"
            along_centroid = _dots(weights.input, centroid[None], advance)[:, 0]
        else:
            cosine, l2, along_centroid, notes["output_cosine"] = _unembedding_indicators(
                weights.unembedding,
                references,
                centroid if tied else None,
                advance,
            )
            values["output_cosine"], values["output_l2"] = cosine, l2
            if not tied:
                along_centroid = _dots(weights.input, centroid[None], advance)[:, 0]
        # |r - c|^2 = |r|^2 - 2 r.c + |c|^2, in float64 so rows near the centroid keep their digits
        centroid_squared = float(centroid.astype(np.float64) @ centroid)
        values["centroid_distance"] = np.sqrt(
            np.maximum(squared - 2 * along_centroid + centroid_squared, 0)
        ).astype(np.float32)
    if weights.bias is not None:
        values["output_bias"] = np.asarray(weights.bias, dtype=np.float32)
    else:
        skipped["output_bias"] = "the output layer has no bias"
    return values, skipped, notes


def blocks(matrix: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, float32 block) over ``matrix``."""
    for start in range(0, len(matrix), BLOCK_ROWS):
        yield start, np.asarray(matrix[start : start + BLOCK_ROWS], dtype=np.float32)


def _squared_norms_and_mean(matrix: np.ndarray, advance) -> tuple[np.ndarray, np.ndarray]:
    squared = np.empty(len(matrix), dtype=np.float64)
    total = np.zeros(matrix.shape[1], dtype=np.float64)
    for start, block in blocks(matrix):
        squared[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
        total += block.sum(axis=0, dtype=np.float64)
        advance(len(block))
    return squared, (total / max(1, len(matrix))).astype(np.float32)


def _dots(matrix: np.ndarray, vectors: np.ndarray, advance) -> np.ndarray:
    """(rows, len(vectors)) dot products in float64."""
    result = np.empty((len(matrix), len(vectors)), dtype=np.float64)
    for start, block in blocks(matrix):
        result[start : start + len(block)] = block @ vectors.T
        advance(len(block))
    return result


def first_principal_component(
    matrix: np.ndarray, mean: np.ndarray, *, seed: int = 0, advance=lambda n: None
) -> np.ndarray:
    """The unit first principal component of ``matrix`` (centred on ``mean``), by subspace
    iteration on a block of vectors: each pass multiplies the centred matrix and its transpose
    into the block, so the cost is a few reads of the matrix, never its covariance. The last
    pass also gathers the covariance restricted to the block, whose top eigenvector gives the
    component."""
    rng = np.random.default_rng(seed)
    # float32 throughout the products: a float64 basis would make numpy widen every block
    basis = np.linalg.qr(rng.standard_normal((matrix.shape[1], _PCA_BLOCK)))[0].astype(np.float32)
    mean = mean.astype(np.float32)
    for iteration in range(_PCA_PASSES):
        product = np.zeros(basis.shape, dtype=np.float64)
        restricted = np.zeros((_PCA_BLOCK, _PCA_BLOCK))
        shift = mean @ basis
        for _start, block in blocks(matrix):
            projected = block @ basis - shift  # centred block times basis
            product += block.T @ projected - np.outer(mean, projected.sum(axis=0))
            restricted += projected.T @ projected
            advance(len(block))
        if iteration < _PCA_PASSES - 1:
            basis = np.linalg.qr(product)[0].astype(np.float32)
    top = np.linalg.eigh(restricted)[1][:, -1]
    component = basis @ top
    return (component / np.linalg.norm(component)).astype(np.float32)


def _unembedding_indicators(
    matrix: np.ndarray, references: np.ndarray, input_centroid: np.ndarray | None, advance
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """(cosine, L2, dot products with ``input_centroid`` when given (a tied matrix: the same
    rows), note)."""
    if input_centroid is not None:
        mean = input_centroid
    else:
        total = np.zeros(matrix.shape[1], dtype=np.float64)
        for _start, block in blocks(matrix):
            total += block.sum(axis=0, dtype=np.float64)
            advance(len(block))
        mean = (total / len(matrix)).astype(np.float32)
    component = first_principal_component(matrix, mean, advance=advance)
    reference_mean = np.asarray(matrix[np.sort(references)], dtype=np.float32).mean(axis=0)
    alignment = abs(float(reference_mean @ component)) / max(
        float(np.linalg.norm(reference_mean)), 1e-12
    )
    if alignment > ALIGNED:
        component = np.zeros_like(component)
        note = (
            f"first principal component kept: the reference rows lie along it "
            f"(|cos| {alignment:.2f}), so it is the unused direction itself"
        )
    else:
        note = f"first principal component removed (|cos| with the reference mean {alignment:.2f})"
    # the reference mean and every row with the component taken out, as the paper does
    reference_without = reference_mean - (reference_mean @ component) * component
    vectors = [component, reference_without, reference_mean]
    if input_centroid is not None:
        vectors.append(input_centroid)
    squared = np.empty(len(matrix), dtype=np.float64)
    dots = np.empty((len(matrix), len(vectors)), dtype=np.float64)
    stacked = np.stack(vectors)
    for start, block in blocks(matrix):
        squared[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
        dots[start : start + len(block)] = block @ stacked.T
        advance(len(block))
    along, with_reference, with_mean = dots[:, 0], dots[:, 1], dots[:, 2]
    # |r - (r.c)c|^2 = |r|^2 - (r.c)^2, and (r - (r.c)c).u' = r.u' since u'.c = 0
    norms_without = np.sqrt(np.maximum(squared - along**2, 0)).clip(min=1e-6)
    reference_norm = max(float(np.linalg.norm(reference_without)), 1e-12)
    cosine = (1 - with_reference / (norms_without * reference_norm)).astype(np.float32)
    mean_squared = float(reference_mean.astype(np.float64) @ reference_mean)
    l2 = np.sqrt(np.maximum(squared - 2 * with_mean + mean_squared, 0)).astype(np.float32)
    return cosine, l2, dots[:, 3] if input_centroid is not None else None, note
