"""``embscope.report`` on the two bundled spaces: the whole report's time, the share each section
takes (the goal is under a minute on two cores), and a ratio against the script a researcher
would otherwise write for the same figures on the same seeded sample: scikit-learn's PCA,
``NearestNeighbors`` (brute force, cosine) for the k-occurrence and TwoNN's two nearest rows,
``sklearn.manifold.trustworthiness``, scipy's ``skew`` and ``spearmanr``. The figures both give
are printed side by side, so a faster answer is also seen to be the same answer.

Run: .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import skew, spearmanr
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

import embscope
from common import table
from embscope.analysis import geometry
from embscope.analysis.report import PROBE_WORDS

SAMPLE = 10_000  # the report's default


def reference_script(space: embscope.EmbeddingSpace, sample: int, k: int) -> dict[str, float]:
    """The figures of the report's sections, computed the usual way with scikit-learn/scipy."""
    norms = np.linalg.norm(np.asarray(space.vectors, dtype=np.float32), axis=1)
    rank_rho = spearmanr(norms, np.arange(len(norms))).statistic
    probes = [space.row(w) for w in PROBE_WORDS if w in space]
    rows = np.union1d(geometry.sample_rows(len(space), sample, 0), probes)
    vectors = np.asarray(space.vectors[rows], dtype=np.float64)
    shares = PCA().fit(vectors).explained_variance_ratio_
    centred = vectors - vectors.mean(axis=0)
    top = PCA(n_components=max(1, space.dim // 100)).fit(centred).components_
    cleaned = centred - centred @ top.T @ top

    def k_occurrence_skew(values: np.ndarray) -> float:
        finder = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute")
        _, neighbours = finder.fit(values).kneighbors(values)
        return float(skew(np.bincount(neighbours[:, 1:].ravel(), minlength=len(values))))

    hub_skew, centred_skew = k_occurrence_skew(vectors), k_occurrence_skew(centred)
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    distances, _ = NearestNeighbors(n_neighbors=3).fit(units).kneighbors(units)
    ratios = distances[:, 2] / distances[:, 1]
    ratios = ratios[np.isfinite(ratios) & (ratios > 1)]
    picked = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), 2_000)).astype(int))
    layout = PCA(n_components=2).fit_transform(vectors[picked])
    trust = trustworthiness(units[picked], layout, n_neighbors=10, metric="cosine")
    return {
        "norm vs rank": float(rank_rho),
        "PC1 share": float(shares[0]),
        "mean cosine after ABTT": float(_mean_cosine(cleaned)),
        "hubness skew": hub_skew,
        "centred skew": centred_skew,
        "TwoNN": float(len(ratios) / np.log(ratios).sum()),
        "trustworthiness": float(trust),
    }


def _mean_cosine(values: np.ndarray) -> float:
    return geometry.mean_pair_cosine(values, 20_000, 0)


def main() -> None:
    timings, sections, figures = [], [], []
    for name in ("glove-6b-50d", "minilm"):
        space = embscope.load(name)
        start = time.perf_counter()
        found = embscope.report(space, progress=False)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        theirs = reference_script(space, SAMPLE, found.k)
        script = time.perf_counter() - start
        shares = ", ".join(
            f"{section} {seconds / ours:.0%}" for section, seconds in found.seconds.items()
        )
        # the same sections: everything but the context (token scan, word-pair benchmarks)
        same = sum(v for section, v in found.seconds.items() if section != "context")
        label = f"{name} {len(space):,} x {space.dim}"
        timings.append(
            (label, f"{ours:.1f} s", f"{same:.1f} s", f"{script:.1f} s", f"{script / same:.1f}x")
        )
        sections.append((label, shares))
        mine = {
            "norm vs rank": found.norm_rank_spearman,
            "PC1 share": float(found.variance_shares[0]),
            "mean cosine after ABTT": found.mean_cosine_after,
            "hubness skew": found.hubness_skew,
            "centred skew": found.hubness_skew_centred,
            "TwoNN": found.intrinsic_dimension,
            "trustworthiness": _trust_from(found.context["sample projection"]),
        }
        for figure, value in theirs.items():
            figures.append((name, figure, f"{mine[figure]:.4f}", f"{value:.4f}"))
    print(f"embscope.report (sample {SAMPLE:,} rows) against a scikit-learn/scipy script")
    print(table(timings, ("space", "whole report", "same sections", "script", "script / same")))
    print(table(sections, ("space", "share of the whole report each section takes")))
    print("the script computes the sections both have: not the context line (token scan,")
    print("word-pair benchmarks, class separation); hubness and TwoNN are quadratic: sampled")
    print(table(figures, ("space", "figure", "report", "script")))
    print("trustworthiness: the report measures 1,000 of the 2,000 projected rows, the script all")


def _trust_from(line: str) -> float:
    return float(line.split("trustworthiness@10 ")[1].split(",")[0])


if __name__ == "__main__":
    main()
