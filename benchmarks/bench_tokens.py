"""A full token scan of a 128,000 x 4,096 float16 vocabulary (1 GiB, memory-mapped .npy),
against the straightforward numpy + scikit-learn computation of the same indicators (what
Land & Bartolo's reference code does: the whole matrix in memory, ``PCA(1).fit`` on it).

The synthetic matrix has a shared direction (so the first principal component matters), 500
reference rows and 500 planted rows near one "unused" direction with small norms; both
contestants must put the planted rows first.

Run: .venv/bin/python benchmarks/bench_tokens.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from common import fresh_process, table

ROWS, DIM = 128_000, 4096
REFERENCES = np.arange(1000, 1500)
PLANTED = np.arange(64_000, 64_500)

_OURS = """
import embscope, numpy as np
space = embscope.load({path!r})
report = embscope.tokens.scan(space, references=list(range(1000, 1500)), progress=False)
table = report.table
planted = set(range(64_000, 64_500))
first = set(table.index[table["rank_output_cosine"] <= 500])
print("BENCH_EXTRA " + __import__("json").dumps({{"planted_first": len(first & planted) / 500}}))
"""

_NUMPY = """
import numpy as np
from sklearn.decomposition import PCA
matrix = np.load({path!r}).astype(np.float32)          # the whole matrix in memory
references = np.arange(1000, 1500)
norms = np.linalg.norm(matrix, axis=1)
centroid_distance = np.linalg.norm(matrix - matrix.mean(axis=0), axis=1)
component = PCA(n_components=1).fit(matrix).components_[0]
without = matrix - np.outer(matrix @ component, component)
unused = without[references].mean(axis=0)
cosine = 1 - without @ unused / (np.linalg.norm(without, axis=1) * np.linalg.norm(unused))
l2 = np.linalg.norm(matrix - matrix[references].mean(axis=0), axis=1)
cosine[references] = np.inf
first = set(np.argsort(cosine)[:500].tolist())
planted = set(range(64_000, 64_500))
print("BENCH_EXTRA " + __import__("json").dumps({{"planted_first": len(first & planted) / 500}}))
"""


def _synthetic(path: Path) -> None:
    rng = np.random.default_rng(0)
    shared = rng.standard_normal(DIM).astype(np.float32)
    unused_direction = rng.standard_normal(DIM).astype(np.float32)
    matrix = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(ROWS, DIM))
    for start in range(0, ROWS, 8192):
        block = rng.standard_normal((min(8192, ROWS - start), DIM), dtype=np.float32)
        block += rng.standard_normal((len(block), 1), dtype=np.float32) * shared
        matrix[start : start + len(block)] = block * 0.05
    for rows in (REFERENCES, PLANTED):
        noise = rng.standard_normal((len(rows), DIM), dtype=np.float32)
        matrix[rows] = (0.3 * unused_direction + 0.5 * noise) * 0.01
    matrix.flush()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vocabulary.npy"
        started = time.perf_counter()
        _synthetic(path)
        print(
            f"wrote {path.stat().st_size / 2**30:.1f} GiB in {time.perf_counter() - started:.0f} s"
        )
        results = {
            "embscope tokens.scan (memory-mapped, row blocks)": fresh_process(
                _OURS.format(path=str(path)), repeats=1
            ),
            "numpy + scikit-learn PCA (whole matrix in float32)": fresh_process(
                _NUMPY.format(path=str(path)), repeats=1
            ),
        }
    ours = results["embscope tokens.scan (memory-mapped, row blocks)"].seconds
    rows = [
        [
            name,
            f"{run.seconds:.1f}",
            f"{run.peak_mib:,.0f}",
            f"{run.seconds / ours:.1f}x",
            f"{run.extra['planted_first']:.2f}",
        ]
        for name, run in results.items()
    ]
    print(f"Token scan of {ROWS:,} x {DIM:,} float16 (fresh processes, imports included)")
    print(table(rows, ("", "seconds", "peak MiB", "time vs embscope", "planted rows first")))


if __name__ == "__main__":
    main()
