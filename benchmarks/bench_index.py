"""Which approximate index embscope uses: FAISS HNSW against usearch HNSW, measured.

Each candidate is built in a fresh process from the unit-length rows (cosine = inner product)
of MiniLM, GloVe and a synthetic 16,000 x 4096 matrix (the width of LLM vocabularies):
build time with every core, resident memory the index adds, file size, recall@10 against exact
search (1,000 rows as queries, each query's own row left out) and query time at two search
depths. This is the measurement behind the choice in ``embscope.search.index``; it takes several
minutes (GloVe's 400k rows), so ``run_all.py`` does not run it.

Run: .venv/bin/python benchmarks/bench_index.py
"""

from __future__ import annotations

from common import fresh_process, table

CHILD = """
import json, os, tempfile, time
import numpy as np
import embscope

def resident_mib():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) / 1024

if {name!r} == "synthetic":  # 16,000 x 4096: a rank-64 signal plus noise
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16000, 64), dtype=np.float32) @ (
        rng.standard_normal((64, 4096), dtype=np.float32) / 8
    )
    x += rng.standard_normal(x.shape, dtype=np.float32) / 4
else:
    x = np.asarray(embscope.load({name!r}).vectors, dtype=np.float32)
x = np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True))
n, d = x.shape
rows = np.random.default_rng(0).choice(n, 1000, replace=False)
queries = x[rows]
before = resident_mib()
start = time.perf_counter()
if {backend!r} == "usearch":
    from usearch.index import Index
    index = Index(ndim=d, metric="ip", dtype="f16", connectivity=16, expansion_add=128)
    index.add(np.arange(n), x)
else:
    import faiss
    index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(x)
build = time.perf_counter() - start
added = resident_mib() - before
path = os.path.join(tempfile.mkdtemp(), "index")
if {backend!r} == "usearch":
    index.save(path)
else:
    faiss.write_index(index, path)
size = os.path.getsize(path) / 2**20

truth = []
for chunk in np.array_split(np.arange(1000), 10):
    scores = queries[chunk] @ x.T
    scores[np.arange(len(chunk)), rows[chunk]] = -np.inf
    truth.append(np.argsort(-scores, axis=1)[:, :10])
truth = np.concatenate(truth)

def search(vectors, ef):
    if {backend!r} == "usearch":
        index.expansion_search = ef
        return index.search(vectors, 11).keys.reshape(len(vectors), -1).astype(np.int64)
    index.hnsw.efSearch = ef
    return index.search(vectors, 11)[1]

depths = {{}}
for ef in (64, 128):
    found = search(queries, ef)
    hits = sum(
        len(set([r for r in got if r != row][:10]) & set(want))
        for got, want, row in zip(found, truth, rows)
    )
    search(queries[:20], ef)
    times = []
    for i in range(200):
        t = time.perf_counter()
        search(queries[i : i + 1], ef)
        times.append(time.perf_counter() - t)
    depths[ef] = {{"recall": hits / 10000, "query_ms": 1e3 * float(np.median(times))}}
print("BENCH_EXTRA " + json.dumps(
    {{"build": build, "added_mib": added, "file_mib": size, "depths": depths}}
))
"""

CANDIDATES = {
    "usearch": "usearch 2 HNSW, f16 storage, connectivity 16, expansion_add 128",
    "faiss": "FAISS IndexHNSWFlat, f32 storage, M 32, efConstruction 80",
}


def main() -> None:
    rows = []
    for name in ("minilm", "glove-6b-50d", "synthetic"):
        for backend in CANDIDATES:
            run = fresh_process(CHILD.format(name=name, backend=backend), repeats=1).extra
            for ef, depth in run["depths"].items():
                rows.append(
                    (
                        name,
                        backend,
                        f"{run['build']:.1f} s",
                        f"{run['added_mib']:.0f} MiB",
                        f"{run['file_mib']:.0f} MiB",
                        ef,
                        f"{depth['recall']:.3f}",
                        f"{depth['query_ms']:.3f} ms",
                    )
                )
    print("Approximate index candidates (cosine, unit rows; recall@10 of 1,000 rows vs exact)\n")
    for backend, description in CANDIDATES.items():
        print(f"- {backend}: {description}")
    print()
    header = (
        "space",
        "library",
        "build",
        "memory added",
        "file",
        "search depth (ef)",
        "recall@10",
        "one query",
    )
    print(table(rows, header))


if __name__ == "__main__":
    main()
