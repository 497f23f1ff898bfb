"""The analogy benchmark (questions-words, 19,544 questions) on GloVe 6B 50d: embscope against
gensim's ``evaluate_analogies`` on the same matrix, figures and time, in one run.

Run: .venv/bin/python benchmarks/bench_evaluation.py   (gensim takes about 3 minutes)
"""

from __future__ import annotations

import time

import numpy as np

import embscope
from common import table


def main() -> None:
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    space = embscope.load("glove-6b-50d")
    keyed = KeyedVectors(vector_size=space.dim)
    keyed.add_vectors(space.keys, np.asarray(space.vectors))
    keyed.fill_norms()
    space.scores(space.vectors[:1])  # norms ready on both sides before the clocks start

    started = time.perf_counter()
    ours = space.evaluate_analogies("google")
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs, _ = keyed.evaluate_analogies(datapath("questions-words.txt"))
    theirs_seconds = time.perf_counter() - started

    print("Analogy benchmark, questions-words.txt, restrict_vocab=300000\n")
    rows = [
        ("accuracy", f"{ours.accuracy:.6f}", f"{theirs:.6f}"),
        ("seconds", f"{ours_seconds:.1f}", f"{theirs_seconds:.1f}"),
        ("speed-up", f"{theirs_seconds / ours_seconds:.1f}x", ""),
    ]
    print(table(rows, ("", "embscope", "gensim")))
    assert abs(ours.accuracy - theirs) < 1e-9, "the two disagree"


if __name__ == "__main__":
    main()
