"""One ``neighbors(top_k=15)`` query vs gensim ``most_similar`` on the same matrix, next to the
memory-bandwidth bound (matrix bytes / measured read bandwidth).

Run: .venv/bin/python benchmarks/bench_query.py
"""

from __future__ import annotations

import numpy as np

import embscope
from common import best_time, read_bandwidth, table

QUERIES = ("beauty", "king", "good", "film", "water", "music")


def gensim_twin(space):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=space.dim)
    keyed.add_vectors(space.keys, np.asarray(space.vectors, dtype=np.float32))
    keyed.fill_norms()
    return keyed


def main() -> None:
    bandwidth = read_bandwidth()
    rows = []
    for name in ("minilm", "glove-6b-50d"):
        space = embscope.load(name)
        keyed = gensim_twin(space)
        words = [w for w in QUERIES if w in space]
        for word in words:  # both answer the same question
            ours = space.neighbors(word, top_k=15)["key"].tolist()
            theirs = [key for key, _ in keyed.most_similar(word, topn=15)]
            assert ours == theirs, (name, word, ours, theirs)
        ours = np.mean([best_time(lambda w=w, s=space: s.neighbors(w, top_k=15)) for w in words])
        theirs = np.mean(
            [best_time(lambda w=w, k=keyed: k.most_similar(w, topn=15)) for w in words]
        )
        bound = space.vectors.nbytes / bandwidth
        rows.append(
            (
                f"{name} {len(space):,} x {space.dim}",
                f"{ours * 1e3:.2f} ms",
                f"{theirs * 1e3:.2f} ms",
                f"{theirs / ours:.2f}x",
                f"{bound * 1e3:.2f} ms",
                f"{ours / bound:.2f}x",
            )
        )
    print(f"Read bandwidth measured here: {bandwidth / 1e9:.1f} GB/s\n")
    print("One neighbors(top_k=15) query, median of 30 after warm-up, mean over query words\n")
    print(
        table(
            rows,
            (
                "space",
                "embscope",
                "gensim most_similar",
                "speed-up",
                "bandwidth bound",
                "embscope / bound",
            ),
        )
    )


if __name__ == "__main__":
    main()
