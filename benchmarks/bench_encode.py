"""Encoding 2,000 AG News descriptions with the bundled all-MiniLM-L6-v2, three ways, each in a
fresh process (model load and imports included, peak memory measured):

- the notebook's loop: ``model.encode(sentence)`` once per text;
- plain batched sentence-transformers: ``model.encode(texts, batch_size=64)``;
- embscope: ``encode_texts(texts)`` (longest first in chunks, cache disabled so it encodes
  everything), and the same call again with a warm cache (what a re-run costs).

Run: .venv/bin/python benchmarks/bench_encode.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from common import fresh_process, table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news"
TEXTS = 2000

_READ = f"""
import embscope
dataset = embscope.read_texts({str(DATA / "test.csv")!r}, columns=["class", "title", "description"],
                              text="description", label="class")
texts = dataset.sample_per_label({TEXTS // 4}, random_state=0).texts
"""
_MODEL = """
from sentence_transformers import SentenceTransformer
from embscope.sources.bundled import minilm_path
model = SentenceTransformer(str(minilm_path()), device="cpu")
"""
_TIMED = """
import json as _json, time as _time
_start = _time.perf_counter()
{call}
print("BENCH_EXTRA " + _json.dumps({{"encode_seconds": _time.perf_counter() - _start}}))
"""
# the model is loaded before the clock starts, as it is for the other contestants
_OURS = (
    "from embscope.text.encode import Encoder, encode_texts, model_spec\n"
    "Encoder(model_spec('minilm')).model\n"
)


def _timed(call: str) -> str:
    return _TIMED.format(call=call)


CONTESTANTS = {
    "notebook loop (one text per call)": _READ
    + _MODEL
    + _timed("vectors = [model.encode(text) for text in texts]"),
    "sentence-transformers encode(batch_size=64)": _READ
    + _MODEL
    + _timed("vectors = model.encode(texts, batch_size=64)"),
    "embscope encode_texts (no cache)": _READ
    + _OURS
    + _timed("vectors, report = encode_texts(texts, cache=False, progress=False)"),
    "embscope encode_texts (warm cache)": _READ
    + _OURS
    + _timed("vectors, report = encode_texts(texts, progress=False)")
    + "assert report.encoded == 0\n",
}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EMBSCOPE_CACHE"] = cache
        warm = _READ + _OURS + "encode_texts(texts, progress=False)\n"
        fresh_process(warm, repeats=1)  # fills the cache the warm-cache row reads
        results = {name: fresh_process(code, repeats=2) for name, code in CONTESTANTS.items()}

    def encoding(name: str) -> float:
        return results[name].extra["encode_seconds"]

    loop = encoding("notebook loop (one text per call)")
    plain = encoding("sentence-transformers encode(batch_size=64)")
    rows = [
        (
            name,
            f"{encoding(name):.2f}",
            f"{TEXTS / encoding(name):,.0f}",
            f"{loop / encoding(name):.1f}x",
            f"{plain / encoding(name):.2f}x",
            f"{run.seconds:.1f}",
            f"{run.peak_mib:,.0f}",
        )
        for name, run in results.items()
    ]
    print(f"Encoding {TEXTS:,} AG News descriptions with all-MiniLM-L6-v2 on the CPU; each in a")
    print("fresh process, best of 2; the process column includes imports and the model load\n")
    header = (
        "",
        "encode s",
        "texts/s",
        "vs loop",
        "vs batched",
        "process s",
        "peak MiB",
    )
    print(table(rows, header))


if __name__ == "__main__":
    main()
