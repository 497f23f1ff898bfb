"""One ``neighbors(top_k=15)`` query vs gensim ``most_similar`` on the same matrix, next to the
memory-bandwidth bound (matrix bytes / measured read bandwidth).

Run: .venv/bin/python benchmarks/bench_query.py
"""

from __future__ import annotations

import numpy as np

import embscope
from common import interleaved_times, read_bandwidth, table

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

        per_word = [
            interleaved_times(
                {
                    "table": lambda w=w, s=space: s.neighbors(w, top_k=15),
                    "arrays": lambda w=w, s=space: s.search(w, top_k=15),
                    "gensim": lambda w=w, k=keyed: k.most_similar(w, topn=15),
                }
            )
            for w in words
        ]
        table_time, array_time, gensim_time = (
            float(np.mean([times[name] for times in per_word]))
            for name in ("table", "arrays", "gensim")
        )
        bound = space.vectors.nbytes / bandwidth
        rows.append(
            (
                f"{name} {len(space):,} x {space.dim}",
                f"{table_time * 1e3:.2f} ms ({gensim_time / table_time:.2f}x)",
                f"{array_time * 1e3:.2f} ms ({gensim_time / array_time:.2f}x)",
                f"{gensim_time * 1e3:.2f} ms",
                f"{bound * 1e3:.2f} ms",
                f"{array_time / bound:.2f}x",
            )
        )
    print(f"Read bandwidth measured here: {bandwidth / 1e9:.1f} GB/s\n")
    print(
        "One query, top 15 by cosine: median of 200 calls taken in turns, mean over 6 words; "
        "(n.nnx) = gensim's time / ours\n"
    )
    header = (
        "space",
        "embscope neighbors() (DataFrame)",
        "embscope search() (arrays)",
        "gensim most_similar",
        "bandwidth bound",
        "search() / bound",
    )
    print(table(rows, header))


if __name__ == "__main__":
    main()
