"""Search at scale, measured in one run:

1. one query (top 15 by cosine) on MiniLM, GloVe and a synthetic 128,000 x 4096 matrix stored
   as float32 and as float16 (memory-mapped .npy files), next to the memory-bandwidth bound,
   against plain numpy, FAISS flat (IndexFlatIP; IndexScalarQuantizer fp16 for float16) and
   gensim ``most_similar``;
2. the full kNN graph of MiniLM (k = 15) against FAISS flat batch search and scikit-learn's
   brute-force ``NearestNeighbors``, next to the matrix-product bound (2·n²·d flops over the
   measured peak);
3. the peak memory of each, in fresh processes.

Run: .venv/bin/python benchmarks/bench_scale.py (about 6 minutes; writes 3 GB of temporary
``.npy`` files). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, slow OpenBLAS (numpy's and
FAISS's) on this machine: the bounds below are measured under the same setting.
"""

from __future__ import annotations

import os

# FAISS's OpenMP threads otherwise spin for a while after every call and slow whichever
# contestant runs next on this 2-core machine (measured: embscope's GloVe query took 2.3 ms
# alone and 5.4 ms right after FAISS calls; FAISS's own times do not change). Set before
# anything loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import tempfile
import time
from pathlib import Path

import numpy as np

import embscope
from common import fresh_process, interleaved_times, read_bandwidth, table

SYNTHETIC_ROWS, SYNTHETIC_DIM = 128_000, 4096
WORDS = ("king", "good", "film", "water")
TOP_K = 15


# ---- inputs ------------------------------------------------------------------------------
def synthetic_files(directory: Path) -> dict[str, Path]:
    """A 128k x 4096 matrix with some structure (a rank-64 signal plus noise), written in
    chunks as float32 and float16 .npy files, so neither is ever whole in memory."""
    paths = {"float32": directory / "synthetic32.npy", "float16": directory / "synthetic16.npy"}
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((64, SYNTHETIC_DIM), dtype=np.float32) / 8
    shape = (SYNTHETIC_ROWS, SYNTHETIC_DIM)
    wide = np.lib.format.open_memmap(paths["float32"], mode="w+", dtype=np.float32, shape=shape)
    half = np.lib.format.open_memmap(paths["float16"], mode="w+", dtype=np.float16, shape=shape)
    for start in range(0, SYNTHETIC_ROWS, 8000):
        stop = min(SYNTHETIC_ROWS, start + 8000)
        block = rng.standard_normal((stop - start, 64), dtype=np.float32) @ basis
        block += rng.standard_normal(block.shape, dtype=np.float32) / 4
        wide[start:stop] = block
        half[start:stop] = block
    wide.flush()
    half.flush()
    del wide, half
    return paths


def synthetic_space(path: Path) -> embscope.EmbeddingSpace:
    vectors = np.load(path, mmap_mode="r")
    return embscope.EmbeddingSpace(vectors, [f"row{i}" for i in range(len(vectors))])


def gemm_peak() -> float:
    """float32 flops per second of a large square matrix product here (best of three)."""
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    a @ a
    best = min(_seconds(lambda: a @ a) for _ in range(3))
    return 2 * 4096**3 / best


def _seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# ---- 1. one query ----------------------------------------------------------------------------
def _contestants(space: embscope.EmbeddingSpace, key: str, rivals: dict) -> dict:
    row = space.row(key)
    contestants = {
        "embscope": lambda: space.search(key, top_k=TOP_K),
        "numpy": lambda: rivals["numpy"](row),
        "faiss": lambda: rivals["faiss"](row),
    }
    if "gensim" in rivals:
        contestants["gensim"] = lambda: rivals["gensim"].most_similar(key, topn=TOP_K)
    return contestants


def _rivals(space: embscope.EmbeddingSpace, *, with_gensim: bool) -> dict:
    """What a user would write instead: plain numpy on the same (mapped) matrix, FAISS flat on
    a normalised float32 copy (a float16 copy for float16 rows), gensim on its own copy."""
    import faiss

    vectors = space.vectors
    norms = np.asarray(space.norms)  # computed once, as a user's own script would

    def plain(row: int) -> np.ndarray:
        query = np.asarray(vectors[row], dtype=np.float32)
        scores = (vectors @ query) / (norms * np.linalg.norm(query))
        scores[row] = -np.inf
        top = np.argpartition(-scores, TOP_K)[:TOP_K]
        return top[np.argsort(-scores[top])]

    if vectors.dtype == np.float16:
        index = faiss.IndexScalarQuantizer(
            space.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexFlatIP(space.dim)
    for start in range(0, len(space), 16384):
        block = np.array(vectors[start : start + 16384], dtype=np.float32)
        block /= np.maximum(norms[start : start + 16384, None], 1e-30)
        if not index.is_trained:
            index.train(block)
        index.add(block)

    def flat(row: int) -> np.ndarray:
        query = np.array(vectors[row : row + 1], dtype=np.float32)
        query /= np.linalg.norm(query)
        return index.search(query, TOP_K + 1)[1][0]

    rivals = {"numpy": plain, "faiss": flat}
    if with_gensim:
        from gensim.models import KeyedVectors

        keyed = KeyedVectors(vector_size=space.dim)
        keyed.add_vectors(space.keys, np.asarray(vectors, dtype=np.float32))
        keyed.fill_norms()
        rivals["gensim"] = keyed
    return rivals


def single_query(bandwidth: float, files: dict[str, Path]) -> list[tuple]:
    cases = [
        ("MiniLM 30,522 x 384 float32", embscope.load("minilm"), WORDS, 100),
        ("GloVe 400,000 x 50 float32", embscope.load("glove-6b-50d"), WORDS, 60),
        ("synthetic 128,000 x 4096 float32, mapped", synthetic_space(files["float32"]), None, 5),
        ("synthetic 128,000 x 4096 float16, mapped", synthetic_space(files["float16"]), None, 5),
    ]
    rows = []
    for label, space, words, repeats in cases:
        rivals = _rivals(space, with_gensim=space.vectors.dtype == np.float32)
        keys = list(words) if words else ["row5", "row70001"]
        for key in keys:  # all answer the same question
            ours = space.search(key, top_k=TOP_K).rows.tolist()
            assert ours == rivals["numpy"](space.row(key)).tolist(), (label, key)
        per_key = []
        for key in keys:
            contestants = _contestants(space, key, rivals)
            # numpy's float16 product casts the whole matrix (gigabytes of temporaries): timed
            # on its own, so its page faults do not land on the calls taken in turn with it
            alone = {"numpy": contestants.pop("numpy")} if space.vectors.dtype == np.float16 else {}
            times = interleaved_times(contestants, repeats=repeats, warmup=1)
            if alone:
                times.update(interleaved_times(alone, repeats=repeats, warmup=1))
            per_key.append(times)
        times = {name: float(np.mean([t[name] for t in per_key])) for name in per_key[0]}
        ours = times["embscope"]
        bound = space.vectors.nbytes / bandwidth

        def versus(name: str, times=times, ours=ours) -> str:
            if name not in times:
                return "—"
            return f"{times[name] * 1e3:.1f} ms ({times[name] / ours:.2f}x)"

        rows.append(
            (
                label,
                f"{space.vectors.nbytes / 2**20:,.0f} MiB",
                f"{ours * 1e3:.1f} ms",
                f"{bound * 1e3:.1f} ms",
                f"{ours / bound:.2f}x",
                versus("numpy"),
                versus("faiss"),
                versus("gensim"),
            )
        )
        del rivals
    return rows


# ---- 2 and 3. kNN graph, and memory in fresh processes -------------------------------------
GRAPH_CODE = {
    "embscope": """
import embscope, time
space = embscope.load("minilm")
start = time.perf_counter()
graph = space.knn_graph(top_k=15, progress=False)
seconds = time.perf_counter() - start
ids = graph.ids
""",
    "FAISS IndexFlatIP": """
import embscope, time, numpy as np, faiss
space = embscope.load("minilm")
start = time.perf_counter()
unit = np.asarray(space.vectors, dtype=np.float32)
unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
index = faiss.IndexFlatIP(unit.shape[1])
index.add(unit)
_, found = index.search(unit, 16)
rows = np.arange(len(unit))[:, None]
# drop each row itself (by index), keep 15
keep = found != rows
ids = np.array([line[mask][:15] for line, mask in zip(found, keep)])
seconds = time.perf_counter() - start
""",
    "scikit-learn brute cosine": """
import embscope, time, numpy as np
from sklearn.neighbors import NearestNeighbors
space = embscope.load("minilm")
start = time.perf_counter()
matrix = np.asarray(space.vectors, dtype=np.float32)
found = NearestNeighbors(n_neighbors=16, metric="cosine", algorithm="brute").fit(
    matrix
).kneighbors(matrix, return_distance=False)
keep = found != np.arange(len(found))[:, None]
ids = np.array([line[mask][:15] for line, mask in zip(found, keep)])
seconds = time.perf_counter() - start
""",
}

_REPORT = """
import json, os
_status = open("/proc/self/status").read().splitlines()
_file = next(int(l.split()[1]) for l in _status if l.startswith("RssFile:")) / 1024
np.save(os.environ["BENCH_IDS"], np.asarray(ids)) if "BENCH_IDS" in os.environ else None
print("BENCH_EXTRA " + json.dumps({"inner": seconds, "file_mib": _file}))
"""


def _run(code: str, ids_path: Path | None = None) -> tuple[float, float, float]:
    """(inner seconds, peak RSS MiB, file-backed RSS MiB at the end) of ``code`` in a fresh
    interpreter."""
    if ids_path is not None:
        os.environ["BENCH_IDS"] = str(ids_path)
    try:
        run = fresh_process("import numpy as np\n" + code + _REPORT, repeats=1)
    finally:
        os.environ.pop("BENCH_IDS", None)
    return run.extra["inner"], run.peak_mib, run.extra["file_mib"]


def knn_graph_table(peak: float, directory: Path) -> list[tuple]:
    n, d = 30522, 384
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in GRAPH_CODE}
    order = ["embscope", "FAISS IndexFlatIP", "scikit-learn brute cosine"]
    order += ["embscope", "FAISS IndexFlatIP"]  # a second turn for the two fast ones
    for name in order:
        ids_path = directory / f"{name.split()[0]}.npy"
        results[name].append(_run(GRAPH_CODE[name], ids_path))
    reference = np.load(directory / "embscope.npy")
    full = 2 * n * n * d / peak
    rows = []
    ours = min(r[0] for r in results["embscope"])
    for name in GRAPH_CODE:
        best = min(results[name], key=lambda r: r[0])
        found = np.load(directory / f"{name.split()[0]}.npy")
        same = float((found == reference).mean())
        rows.append(
            (
                name,
                f"{best[0]:.2f} s",
                f"{best[0] / ours:.2f}x",
                f"{best[0] / full:.2f}x",
                f"{same:.4f}",
                f"{best[1]:,.0f} MiB",
            )
        )
    rows.append(("matrix-product bound, 2·n²·d flops", f"{full:.2f} s", "", "1.00x", "", ""))
    rows.append(("half of it (scores are symmetric)", f"{full / 2:.2f} s", "", "0.50x", "", ""))
    return rows


QUERY_MEMORY = {
    "embscope": """
import embscope, time
space = embscope.EmbeddingSpace(np.load({path!r}, mmap_mode="r"), [str(i) for i in range({n})])
start = time.perf_counter()
space.search("5", top_k=15)
seconds = time.perf_counter() - start
ids = None
""",
    "numpy": """
import time
vectors = np.load({path!r}, mmap_mode="r")
start = time.perf_counter()
norms = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1)
scores = (vectors @ np.asarray(vectors[5], dtype=np.float32)) / norms
top = np.argpartition(-scores, 16)[:16]
seconds = time.perf_counter() - start
ids = None
""",
    "FAISS flat": """
import time, faiss
vectors = np.load({path!r}, mmap_mode="r")
start = time.perf_counter()
if vectors.dtype == np.float16:
    index = faiss.IndexScalarQuantizer(
        vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
else:
    index = faiss.IndexFlatIP(vectors.shape[1])
for s in range(0, len(vectors), 16384):
    block = np.array(vectors[s : s + 16384], dtype=np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    if not index.is_trained:
        index.train(block)
    index.add(block)
index.search(block[:1], 16)
seconds = time.perf_counter() - start
ids = None
""",
    "gensim": """
import time
from gensim.models import KeyedVectors
vectors = np.load({path!r}, mmap_mode="r")
start = time.perf_counter()
keyed = KeyedVectors(vector_size=vectors.shape[1])
keyed.add_vectors([str(i) for i in range(len(vectors))], np.asarray(vectors, dtype=np.float32))
keyed.most_similar("5", topn=15)
seconds = time.perf_counter() - start
ids = None
""",
}


def memory_table(files: dict[str, Path]) -> list[tuple]:
    rows = []
    for dtype, path in files.items():
        for name, code in QUERY_MEMORY.items():
            if name == "gensim" and dtype == "float16":
                continue
            seconds, peak, mapped = _run(code.format(path=str(path), n=SYNTHETIC_ROWS))
            rows.append(
                (
                    f"synthetic {dtype} (one query, from the mapped file)",
                    name,
                    f"{peak:,.0f} MiB",
                    f"{mapped:,.0f} MiB",
                    f"{peak - mapped:,.0f} MiB",
                    f"{seconds:.1f} s",
                )
            )
    return rows


def main() -> None:
    bandwidth = read_bandwidth()
    peak = gemm_peak()
    print(
        f"Read bandwidth measured here: {bandwidth / 1e9:.1f} GB/s; float32 matrix product "
        f"peak: {peak / 1e9:.0f} GFLOP/s; OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}; "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}\n"
    )
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        files = synthetic_files(directory)
        print(
            "One query, top 15 by cosine (query row excluded): median of repeated calls taken "
            "in turns, mean over the queries; (n.nnx) = their time / embscope's\n"
        )
        header = (
            "space",
            "matrix",
            "embscope search()",
            "bandwidth bound",
            "embscope / bound",
            "numpy",
            "FAISS flat",
            "gensim most_similar",
        )
        print(table(single_query(bandwidth, files), header))
        print(
            "\nkNN graph of MiniLM (30,522 x 384, k = 15, cosine), each in a fresh process "
            "(best of two runs; scikit-learn one); 'same ids' = share of (row, rank) entries "
            "equal to embscope's\n"
        )
        header = ("", "time", "vs embscope", "vs bound", "same ids", "peak memory")
        print(table(knn_graph_table(peak, directory), header))
        print(
            "\nPeak memory of one query on the 128,000 x 4096 matrix, from its memory-mapped "
            "file, in a fresh process (VmHWM; the file-backed part is the page cache of the "
            "mapped file, which the kernel can drop)\n"
        )
        header = ("case", "library", "peak RSS", "file-backed", "peak - file-backed", "time")
        print(table(memory_table(files), header))


if __name__ == "__main__":
    main()
