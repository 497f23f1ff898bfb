"""``embscope.compare`` of two 30,522 x 384 spaces against the numpy script a user would write
for the same figures, in one run:

1. MiniLM against its float16 copy, and against a copy rotated by a seeded random orthogonal
   matrix plus noise of 1% of a component's spread (as tests/test_compare.py builds it): every
   shared key's top 10 by cosine in both spaces, overlap@10 and Jaccard, orthogonal Procrustes
   and the aligned cosines, linear CKA on all rows, Spearman of 20,000 sampled pair cosines.
   Both answer first and must agree (mean overlap@10 to 1e-6 beyond neighbours swapped at a
   float32 tie at rank 10, CKA to 1e-6, mean aligned cosine to 1e-5); then the two take turns,
   call by call. ``compare`` is timed with ``cache=False``; the cached second call (a
   temporary cache folder) is timed on its own.
2. Each side's stages timed one by one (the float16 case, best of two runs taken in turns),
   so a gap can be traced to one.

``compare`` measures more than the script: each key's Spearman to 500 reference keys, and the
chance level of CKA and of the alignment (the same fit with B's rows shuffled).

Run: .venv/bin/python benchmarks/bench_compare.py (about 10 minutes on 2 idle cores)
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

import embscope
from common import best_time, interleaved_times, table

TOP_K = 10
BLOCK_ROWS = 2048
PAIRS = 20_000
REPEATS = 3


# ---- the script a user would write ---------------------------------------------------------
def unit(vectors: np.ndarray) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def top_k(unit_rows: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Each row's k most cosine-similar other rows (unordered), 2048 rows of scores at a time."""
    n = len(unit_rows)
    ids = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        scores = unit_rows[start:stop] @ unit_rows.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not its own neighbour
        ids[start:stop] = np.argpartition(scores, -k, axis=1)[:, -k:]
    return ids


def shared_neighbours(ids_a: np.ndarray, ids_b: np.ndarray) -> np.ndarray:
    return (ids_a[:, :, None] == ids_b[:, None, :]).any(axis=2).sum(axis=1)


def procrustes_cosines(unit_a: np.ndarray, unit_b: np.ndarray) -> np.ndarray:
    """B's unit rows rotated onto A's (scipy's orthogonal Procrustes); each key's cosine."""
    from scipy.linalg import orthogonal_procrustes

    rotation, _ = orthogonal_procrustes(unit_b, unit_a)
    aligned = unit_b @ rotation
    return np.einsum("ij,ij->i", aligned, unit_a) / np.linalg.norm(aligned, axis=1)


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def pair_spearman(unit_a: np.ndarray, unit_b: np.ndarray, seed: int = 0) -> float:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    n = len(unit_a)
    first = rng.integers(0, n, size=PAIRS)
    second = (first + rng.integers(1, n, size=PAIRS)) % n  # never the key itself
    cosines_a = np.einsum("ij,ij->i", unit_a[first], unit_a[second])
    cosines_b = np.einsum("ij,ij->i", unit_b[first], unit_b[second])
    return float(spearmanr(cosines_a, cosines_b).statistic)


def script_stages(a: np.ndarray, b: np.ndarray) -> dict:
    """The script, one named stage at a time: {stage: function of the previous results}."""
    return {
        "unit rows": lambda r: (unit(a), unit(b)),
        "top 10 in A": lambda r: top_k(r["unit rows"][0].astype(np.float32)),
        "top 10 in B": lambda r: top_k(r["unit rows"][1].astype(np.float32)),
        "overlap, Jaccard": lambda r: shared_neighbours(r["top 10 in A"], r["top 10 in B"]),
        "Procrustes, aligned cosines": lambda r: procrustes_cosines(*r["unit rows"]),
        "CKA": lambda r: linear_cka(a, b),
        "pair Spearman": lambda r: pair_spearman(*r["unit rows"]),
    }


def numpy_script(a: np.ndarray, b: np.ndarray) -> dict:
    results: dict = {}
    for name, stage in script_stages(a, b).items():
        results[name] = stage(results)
    shared = results["overlap, Jaccard"]
    return {
        "overlap": float(shared.mean() / TOP_K),
        "jaccard": float((shared / (2 * TOP_K - shared)).mean()),
        "shared": shared,
        "ids_a": results["top 10 in A"],
        "ids_b": results["top 10 in B"],
        "cka": results["CKA"],
        "aligned_cosine": float(results["Procrustes, aligned cosines"].mean()),
        "spearman": results["pair Spearman"],
    }


# ---- embscope's stages, through the functions compare calls ---------------------------------
def embscope_stages(space_a: embscope.EmbeddingSpace, space_b: embscope.EmbeddingSpace) -> dict:
    from embscope.analysis.compare import comparison, measures
    from embscope.metrics import Metric

    cosine = Metric.COSINE

    def align(r):
        unit_a, unit_b = r["unit rows"]
        rows = np.arange(len(unit_a))
        return comparison._align(unit_a, unit_b, rows, r["rng"], unit_rows=True)

    def cka(r):
        a, b = r["shared rows"].vectors_a, r["shared rows"].vectors_b
        return measures.linear_cka_with_chance(a, b, r["rng"].permutation(len(b)))

    return {
        "shared rows": lambda r: comparison.shared_rows(space_a, space_b),
        "rng": lambda r: np.random.default_rng(0),
        "top 10 in A": lambda r: comparison._neighbour_ids(
            r["shared rows"].vectors_a, r["shared rows"].keys, TOP_K, cosine
        ),
        "top 10 in B": lambda r: comparison._neighbour_ids(
            r["shared rows"].vectors_b, r["shared rows"].keys, TOP_K, cosine
        ),
        "overlap, Jaccard": lambda r: measures.neighbour_overlap(
            r["top 10 in A"], r["top 10 in B"]
        ),
        "unit rows": lambda r: tuple(
            comparison.unit_copy(vectors)
            for vectors in (r["shared rows"].vectors_a, r["shared rows"].vectors_b)
        ),
        "Procrustes, aligned cosines (+ chance fit)": align,
        "per-key Spearman, 500 reference keys": lambda r: comparison._reference_correlations(
            r["shared rows"].vectors_a, r["shared rows"].vectors_b, cosine, 500, r["rng"]
        ),
        "pair Spearman": lambda r: comparison._pair_correlation(
            r["shared rows"].vectors_a, r["shared rows"].vectors_b, cosine, PAIRS, r["rng"]
        ),
        "CKA (+ chance CKA)": cka,
    }


def stage_times(stages: dict) -> dict[str, float]:
    results: dict = {}
    seconds: dict[str, float] = {}
    for name, stage in stages.items():
        start = time.perf_counter()
        results[name] = stage(results)
        seconds[name] = time.perf_counter() - start
    seconds.pop("rng", None)
    return seconds


def stage_breakdown(space_a, space_b, *, repeats: int = 2) -> tuple[dict, dict]:
    """Each stage's best time over ``repeats`` runs of each side, the two sides in turns."""
    sides = {
        "embscope": lambda: embscope_stages(space_a, space_b),
        "numpy": lambda: script_stages(np.asarray(space_a.vectors), np.asarray(space_b.vectors)),
    }
    best: dict[str, dict[str, float]] = {name: {} for name in sides}
    for _ in range(repeats):
        for name, stages in sides.items():
            for stage, seconds in stage_times(stages()).items():
                best[name][stage] = min(seconds, best[name].get(stage, np.inf))
    return best["embscope"], best["numpy"]


# ---- the run -------------------------------------------------------------------------------
def rotated_copy(space: embscope.EmbeddingSpace) -> embscope.EmbeddingSpace:
    """``space`` rotated by a seeded random orthogonal matrix, plus noise of 1% of a
    component's spread (tests/test_compare.py's ``rotated``)."""
    import scipy.stats

    rng = np.random.default_rng(7)
    rotation = scipy.stats.ortho_group.rvs(space.dim, random_state=3)
    vectors = np.asarray(space.vectors, dtype=np.float64)
    noise = rng.normal(scale=0.01 * vectors.std(), size=vectors.shape)
    return embscope.from_array((vectors @ rotation + noise).astype(np.float32), space.keys)


def compare_once(a, b):
    return embscope.compare(a, b, top_k=TOP_K, cache=False, progress=False)


def tied_swaps(ours, theirs: dict, matrix_a: np.ndarray, matrix_b: np.ndarray) -> int:
    """How many neighbours the two sides' lists hold differently (over both spaces); each
    must be a tie at the end of the list: the rows swapped in or out score within 1e-6 of one
    another (float64 cosines), so either list is a correct top 10."""
    swaps = 0
    for ids, script_ids, matrix in (
        (ours.ids_a, theirs["ids_a"], matrix_a),
        (ours.ids_b, theirs["ids_b"], matrix_b),
    ):
        differ = TOP_K - shared_neighbours(ids, script_ids)
        swaps += int(differ.sum())
        unit_rows = unit(matrix)
        for row in np.flatnonzero(differ):
            swapped = np.setxor1d(ids[row], script_ids[row])
            scores = unit_rows[swapped] @ unit_rows[row]
            assert scores.max() - scores.min() <= 1e-6, (row, swapped, scores)
    return swaps


def check_agreement(label: str, ours, theirs: dict, swaps: int) -> None:
    """Mean overlap@10 and Jaccard to 1e-6 beyond what the tied swaps can move them (one
    swapped neighbour moves one key's overlap by 1/k, its Jaccard by less than 2/k), CKA to
    1e-6, mean aligned cosine to 1e-5."""
    summary = ours.summary()
    ties = swaps / (len(ours.keys) * TOP_K)
    assert abs(summary.overlap - theirs["overlap"]) <= 1e-6 + ties, (label, summary.overlap)
    assert abs(summary.jaccard - theirs["jaccard"]) <= 1e-6 + 2 * ties, (label, summary.jaccard)
    assert abs(summary.cka - theirs["cka"]) <= 1e-6, (label, summary.cka, theirs["cka"])
    cosine = summary.aligned_cosine
    assert abs(cosine - theirs["aligned_cosine"]) <= 1e-5, (label, cosine)


def cached_time(a, b) -> float:
    """Median seconds of ``compare(a, b)`` answered from a fresh cache folder."""
    previous = os.environ.get("EMBSCOPE_CACHE")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["EMBSCOPE_CACHE"] = folder
        try:
            embscope.compare(a, b, top_k=TOP_K, progress=False)  # computes and stores
            return best_time(
                lambda: embscope.compare(a, b, top_k=TOP_K, progress=False), repeats=5, warmup=1
            )
        finally:
            if previous is None:
                del os.environ["EMBSCOPE_CACHE"]
            else:
                os.environ["EMBSCOPE_CACHE"] = previous


def main() -> None:
    minilm = embscope.load("minilm")
    cases = [
        ("MiniLM vs its float16 copy", minilm, minilm.astype("float16")),
        ("MiniLM vs rotated + 1% noise", minilm, rotated_copy(minilm)),
    ]
    rows = []
    figures = []
    for label, a, b in cases:
        matrix_a, matrix_b = np.asarray(a.vectors), np.asarray(b.vectors)
        # both answer before the clocks start (their first calls are the warm-up)
        ours = compare_once(a, b)
        theirs = numpy_script(matrix_a, matrix_b)
        swaps = tied_swaps(ours, theirs, matrix_a, matrix_b)
        check_agreement(label, ours, theirs, swaps)
        summary = ours.summary()
        figures.append(
            (
                label,
                f"{swaps}",
                f"{summary.overlap:.6f} / {theirs['overlap']:.6f}",
                f"{summary.jaccard:.6f} / {theirs['jaccard']:.6f}",
                f"{summary.cka:.8f} / {theirs['cka']:.8f}",
                f"{summary.aligned_cosine:.7f} / {theirs['aligned_cosine']:.7f}",
                f"{summary.similarity_spearman:.5f} / {theirs['spearman']:.5f}",
            )
        )
        times = interleaved_times(
            {
                "embscope": lambda a=a, b=b: compare_once(a, b),
                "numpy": lambda a=matrix_a, b=matrix_b: numpy_script(a, b),
            },
            repeats=REPEATS,
            warmup=0,
        )
        cached = cached_time(a, b)
        rows.append(
            (
                label,
                f"{times['embscope']:.1f} s",
                f"{times['numpy']:.1f} s",
                f"{times['numpy'] / times['embscope']:.2f}x",
                f"{cached:.2f} s",
            )
        )
    print(
        f"compare(top_k={TOP_K}) of two 30,522 x 384 spaces vs the numpy script, on "
        f"{os.cpu_count()} cores: median of {REPEATS} calls each, taken in turns; "
        "ratio = script time / embscope's\n"
    )
    header = ("spaces", "embscope compare", "numpy script", "ratio", "compare, cached")
    print(table(rows, header))
    print(
        "\nThe figures both computed, embscope / script. 'tied swaps': neighbours the two "
        "lists hold differently, each a tie at rank 10 (the rows swapped score within 1e-6 "
        "of each other, equal in float32; embscope breaks ties by the lower row, argpartition "
        "arbitrarily). The Spearman pairs are drawn from differently seeded samples.\n"
    )
    header = (
        "spaces",
        "tied swaps",
        "overlap@10",
        "jaccard@10",
        "linear CKA",
        "aligned cosine",
        "Spearman",
    )
    print(table(figures, header))

    label, a, b = cases[0]
    ours, theirs = stage_breakdown(a, b)
    print(f"\nStage by stage, {label}: each stage's best of 2 runs, the two sides in turns\n")
    stage_rows = [(name, f"{seconds:.2f} s", "") for name, seconds in ours.items()]
    stage_rows += [(name, "", f"{seconds:.2f} s") for name, seconds in theirs.items()]
    stage_rows.append(("total", f"{sum(ours.values()):.2f} s", f"{sum(theirs.values()):.2f} s"))
    print(table(stage_rows, ("stage", "embscope", "numpy script")))


if __name__ == "__main__":
    main()
