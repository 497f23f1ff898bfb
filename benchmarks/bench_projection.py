"""t-SNE and UMAP projections: embscope (openTSNE, umap-learn) against scikit-learn's TSNE, time
and quality, in one run.

1. the notebook's case: 3D t-SNE of 10,000 x 16 vectors (the first 10,000 GloVe 6B 50d rows
   reduced to 16 dimensions by PCA), perplexity 40: scikit-learn with 2000 iterations (what
   the notebook runs), embscope with its own iteration count (750) and with 2000;
2. 3D t-SNE of the 30,522 x 384 MiniLM token matrix: scikit-learn (2000 iterations), embscope
   (auto), and embscope after a PCA pre-reduction to 50 dimensions (the evidence for not
   reducing 384 dimensions by default);
3. 2D of the MiniLM matrix: embscope t-SNE (FFT gradient), embscope UMAP and scikit-learn's
   TSNE (perplexity 30, 1000 iterations), with embscope's seconds per row (the figures behind
   ``embscope.projection.pipeline._SECONDS_PER_ROW``).

Every contestant gets the same cosine geometry: scikit-learn is fed the unit-length rows that
embscope projects internally. Quality is trustworthiness@10 and kNN recall@10 against the
original space (cosine), from ``embscope.projection.quality.projection_quality`` on the same seeded
1,000-row sample for everyone. Times are wall seconds of one run each (neighbour search
included); UMAP's numba compilation is done by a small warm-up run first and not counted.

Run: .venv/bin/python benchmarks/bench_projection.py   (about an hour on 2 cores, most of it
scikit-learn; --quick runs case 1 only, a few minutes)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

import embscope
from common import table
from embscope.projection.quality import projection_quality

HEADER = ("contestant", "seconds", "s/row", "trustworthiness@10", "kNN recall@10", "speed-up")


def _unit(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length (a zero row stays zero), as embscope does for cosine."""
    data = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return np.ascontiguousarray(data / np.where(norms > 0, norms, 1), dtype=np.float32)


class Case:
    """The contestants of one case, run and measured against the same space."""

    def __init__(self, title: str, space: embscope.EmbeddingSpace) -> None:
        self.title = title
        self.space = space
        self.results: list[tuple[str, float, object, bool]] = []

    def sklearn(self, name: str, tsne) -> None:
        data = _unit(self.space.vectors)
        started = time.perf_counter()
        coordinates = tsne.fit_transform(data)
        seconds = time.perf_counter() - started
        self._record(name, seconds, np.arange(len(self.space)), coordinates, ours=False)

    def embscope(self, name: str, method: str, **options) -> None:
        started = time.perf_counter()
        projection = self.space.project(
            method, random_state=0, cache=False, progress=False, **options
        )
        seconds = time.perf_counter() - started
        self._record(name, seconds, projection.rows, projection.coordinates, ours=True)

    def _record(self, name, seconds, rows, coordinates, *, ours: bool) -> None:
        quality = projection_quality(
            self.space, rows, coordinates, metric="cosine", k=10, sample_size=1000, random_state=0
        )
        self.results.append((name, seconds, quality, ours))
        print(
            f"  {name}: {seconds:.1f} s, trustworthiness {quality.trustworthiness:.4f}, "
            f"kNN recall {quality.knn_recall:.4f}",
            flush=True,
        )

    def report(self) -> None:
        reference = next(seconds for _, seconds, _, ours in self.results if not ours)
        rows = []
        for name, seconds, quality, ours in self.results:
            rows.append(
                (
                    name,
                    f"{seconds:.1f}",
                    f"{seconds / len(self.space):.2e}" if ours else "",
                    f"{quality.trustworthiness:.4f}",
                    f"{quality.knn_recall:.4f}",
                    f"{reference / seconds:.1f}x",
                )
            )
        print(f"\n{self.title}\n")
        print(table(rows, HEADER), flush=True)

    def summary(self, ours: str) -> str:
        """The line comparing the embscope run ``ours`` with scikit-learn."""
        by_name = {name: (seconds, quality) for name, seconds, quality, _ in self.results}
        theirs = next(name for name, _, _, is_ours in self.results if not is_ours)
        (our_seconds, our_quality), (their_seconds, their_quality) = by_name[ours], by_name[theirs]
        return (
            f"{self.title.split(':')[0]} ({ours}): embscope {their_seconds / our_seconds:.1f}x "
            f"faster than scikit-learn at trustworthiness {our_quality.trustworthiness:.4f} vs "
            f"{their_quality.trustworthiness:.4f}"
        )


def _announce(title: str) -> None:
    print(f"\n== {title}", flush=True)


def notebook_case(TSNE: Callable) -> tuple[Case, str]:
    from sklearn.decomposition import PCA

    glove = embscope.load("glove-6b-50d")
    reduced = PCA(16, random_state=0).fit_transform(np.asarray(glove.vectors[:10_000]))
    space = embscope.from_array(reduced.astype(np.float32), glove.keys[:10_000], metric="cosine")
    case = Case(
        "Case 1: 3D t-SNE of 10,000 x 16 (GloVe 6B 50d, first 10,000 rows, PCA to 16), "
        "cosine, perplexity 40",
        space,
    )
    _announce(case.title)
    case.sklearn(
        "scikit-learn TSNE, 2000 iterations",
        TSNE(n_components=3, perplexity=40, max_iter=2000, random_state=0, n_jobs=2),
    )
    case.embscope("embscope t-SNE, auto (750 iterations)", "tsne", n_components=3, perplexity=40)
    case.embscope(
        "embscope t-SNE, 2000 iterations", "tsne", n_components=3, perplexity=40, n_iter=2000
    )
    return case, "embscope t-SNE, auto (750 iterations)"


def minilm_3d_case(TSNE: Callable, minilm: embscope.EmbeddingSpace) -> tuple[Case, str]:
    case = Case(
        "Case 2: 3D t-SNE of 30,522 x 384 (MiniLM token embeddings), cosine, perplexity 40",
        minilm,
    )
    _announce(case.title)
    case.sklearn(
        "scikit-learn TSNE, 2000 iterations",
        TSNE(n_components=3, perplexity=40, max_iter=2000, random_state=0, n_jobs=2),
    )
    case.embscope("embscope t-SNE, auto (750 iterations)", "tsne", n_components=3, perplexity=40)
    case.embscope(
        "embscope t-SNE, auto, after PCA to 50 dimensions",
        "tsne",
        n_components=3,
        perplexity=40,
        pca_components=50,
    )
    return case, "embscope t-SNE, auto (750 iterations)"


def minilm_2d_case(TSNE: Callable, minilm: embscope.EmbeddingSpace) -> tuple[Case, str]:
    case = Case(
        "Case 3: 2D of 30,522 x 384 (MiniLM token embeddings), cosine; t-SNE perplexity 30, "
        "UMAP 15 neighbours",
        minilm,
    )
    _announce(case.title)
    started = time.perf_counter()
    minilm.subset(minilm.keys[:2000]).project("umap", cache=False, progress=False)
    print(
        f"  (UMAP warm-up, numba compilation: {time.perf_counter() - started:.1f} s, not counted)"
    )
    case.sklearn(
        "scikit-learn TSNE, 1000 iterations",
        TSNE(n_components=2, perplexity=30, max_iter=1000, random_state=0, n_jobs=2),
    )
    case.embscope("embscope t-SNE 2D (FFT), auto (750 iterations)", "tsne", n_components=2)
    case.embscope("embscope UMAP 2D, auto (200 epochs)", "umap", n_components=2)
    return case, "embscope t-SNE 2D (FFT), auto (750 iterations)"


def main() -> None:
    from sklearn.manifold import TSNE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run case 1 only (a smoke check)")
    arguments = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="embscope-bench-") as cache:
        os.environ["EMBSCOPE_CACHE"] = cache  # nothing lands in the user's cache
        cases = [notebook_case(TSNE)]
        if not arguments.quick:
            minilm = embscope.load("minilm")
            cases.append(minilm_3d_case(TSNE, minilm))
            cases.append(minilm_2d_case(TSNE, minilm))
    for case, _ in cases:
        case.report()
    print()
    for case, ours in cases:
        print(case.summary(ours))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
