"""Seeded fuzzing of every file reader: valid seed files of each format, then truncations, flipped
bytes and crafted lies, each loaded with ``embscope.load`` and asked one question.

Run as a script (``python tests/fuzz_sources.py --seed 0 --out DIR``) so that the test can read
the peak memory of a process that did nothing else; it prints one JSON line per case:
``{"format", "case", "outcome": "loaded" | "refused" | "crashed", "detail"}``. "refused" is an
EmbscopeError with a one-line message; "crashed" is anything else (with the traceback's last
line), which the test counts as a failure.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import resource
import shutil
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

WORDS = ["good", "bad", "great", "awful", "fine", "terrible", "nice", "poor", "superb", "dire"]
DIM = 6


def seed_files(root: Path) -> dict[str, tuple[Path, dict]]:
    """One valid file (or folder) per format, written by the real writers, with the options
    ``embscope.load`` needs for it."""
    import pandas as pd
    from safetensors.numpy import save_file

    import embscope

    vectors = np.random.default_rng(0).standard_normal((len(WORDS), DIM)).astype(np.float32)
    space = embscope.EmbeddingSpace(vectors, WORDS, name="seed")
    made: dict[str, tuple[Path, dict]] = {}
    for fmt, name in [
        ("word2vec", "vectors.bin"),
        ("word2vec-text", "vectors.w2v.txt"),
        ("npy", "vectors.npy"),
        ("parquet", "vectors.parquet"),
        ("projector", "projector"),
    ]:
        made[fmt] = (embscope.export(space, root / fmt / name, format=fmt), {})
    glove = root / "glove" / "glove.6d.txt"
    glove.parent.mkdir()
    glove.write_text(
        "".join(
            f"{w} {' '.join(f'{x:.5f}' for x in v)}\n" for w, v in zip(WORDS, vectors, strict=True)
        ),
        encoding="utf-8",
    )
    made["glove"] = (glove, {})
    fasttext = root / "fasttext" / "wiki.vec"
    fasttext.parent.mkdir()
    shutil.copy(made["word2vec-text"][0], fasttext)
    made["fasttext"] = (fasttext, {})
    packed = root / "glove-gz" / "glove.6d.txt.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(glove.read_bytes()))
    made["glove-gz"] = (packed, {})
    npz = root / "npz" / "space.npz"
    npz.parent.mkdir()
    np.savez_compressed(npz, vectors=vectors, keys=np.array(WORDS))
    made["npz"] = (npz, {})
    csv = root / "csv" / "space.csv"
    csv.parent.mkdir()
    pd.DataFrame({"key": WORDS, **{f"dim_{i}": vectors[:, i] for i in range(DIM)}}).to_csv(
        csv, index=False
    )
    made["csv"] = (csv, {})
    checkpoint = root / "checkpoint"
    checkpoint.mkdir()
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS]
    table = np.random.default_rng(1).standard_normal((len(tokens), DIM)).astype(np.float32)
    save_file({"embeddings.word_embeddings.weight": table}, str(checkpoint / "model.safetensors"))
    (checkpoint / "config.json").write_text(
        json.dumps({"model_type": "bert", "vocab_size": len(tokens), "hidden_size": DIM})
    )
    (checkpoint / "vocab.txt").write_text("\n".join(tokens) + "\n")
    made["checkpoint"] = (checkpoint, {})
    made["keras"] = (_keras_file(root / "keras"), {})
    made["gguf"] = (_gguf_file(root / "gguf", tokens, table), {})
    made["onnx"] = (_onnx_file(root / "onnx", tokens, table), {})
    zipped = root / "zip" / "checkpoint.zip"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w") as archive:  # stored: the weights are mapped in place
        for member in sorted(checkpoint.iterdir()):
            archive.write(member, f"tiny-bert/{member.name}")
    made["zipped checkpoint"] = (zipped, {})
    return made


def _gguf_file(folder: Path, tokens: list[str], table: np.ndarray) -> Path:
    """A llama.cpp GGUF as llama.cpp's own writer lays it out: a Q8_0 token_embd and a
    byte-level vocabulary in the metadata."""
    import gguf

    folder.mkdir()
    path = folder / "tiny.Q8_0.gguf"
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL] * 4 + [gguf.TokenType.NORMAL] * len(WORDS))
    # Q8_0 packs rows of 32 values: widen the seed matrix to a multiple of 32
    wide = np.tile(table, (1, 32 // DIM + 1))[:, :32]
    quantized = gguf.quants.quantize(wide, gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("token_embd.weight", quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _onnx_file(folder: Path, tokens: list[str], table: np.ndarray) -> Path:
    """An ONNX graph whose first Gather on input_ids reads the embedding, as exporters write
    it, with the checkpoint's vocabulary beside it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir()
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embeddings.word_embeddings.weight", "input_ids"], ["h"])],
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, None])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, None, DIM])],
        [numpy_helper.from_array(table, "embeddings.word_embeddings.weight")],
    )
    path = folder / "model.onnx"
    onnx.save(helper.make_model(graph), path)
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return path


def _keras_file(folder: Path) -> Path:
    """A real Keras 3 file of the tutorial's shape (Embedding -> pooling -> Dense) and its
    vocabulary, written by keras itself."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    folder.mkdir()
    model = keras.Sequential(
        [
            keras.Input(shape=(4,), dtype="int32"),
            keras.layers.Embedding(len(WORDS) + 2, DIM, name="embedding"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    path = folder / "embedding-model.keras"
    model.save(path)
    (folder / "embedding-vocabulary.txt").write_text("\n".join(["", "[UNK]", *WORDS]) + "\n")
    return path


def main_file(seed: Path) -> Path:
    """The file of a seed that mutations aim at (a folder's main file)."""
    if seed.is_dir():
        for name in ("vectors.tsv", "model.safetensors"):
            if (seed / name).exists():
                return seed / name
    return seed


def mutations(data: bytes, rng: np.random.Generator, text: bool) -> Iterator[tuple[str, bytes]]:
    size = len(data)
    cuts = sorted({0, 1, 7, 8, 9, size // 3, size // 2, size - 1, *rng.integers(1, size, 6)})
    for cut in cuts:
        if 0 <= cut < size:
            yield f"truncated at {cut}", data[:cut]
    for i in range(10):
        flipped = bytearray(data)
        for position in rng.integers(0, size, 1 + i % 3):
            flipped[position] ^= 1 << int(rng.integers(0, 8))
        yield f"flipped bytes #{i}", bytes(flipped)
    yield "junk appended", data + bytes(rng.integers(0, 256, 64, dtype=np.uint8))
    yield "doubled", data + data
    if text:
        lines = data.split(b"\n")
        for i, lie in enumerate([b"nan", b"1e999", b"-inf", b"abc", b"", b"0" * 400]):
            changed = list(lines)
            row = int(rng.integers(0, max(1, len(changed) - 1)))
            fields = changed[row].split(b" ") if b" " in changed[row] else changed[row].split(b"\t")
            if len(fields) > 1:
                fields[-1] = lie
                changed[row] = (b" " if b" " in changed[row] else b"\t").join(fields)
            yield f"value {lie[:8]!r} #{i}", b"\n".join(changed)
        yield "blank lines", b"\n" * 5000 + data
        yield "huge header", b"999999999999 999999999999\n" + data
        yield "a wide line", data + b"extra " + b"1.0 " * 5000 + b"\n"
        yield "a short line", data + b"short 1.0\n"
        yield "not utf-8", b"\xff\xfe\xfa " + data


def zip_mutations(path: Path) -> Iterator[tuple[str, Callable[[Path], None]]]:
    """Lies inside an ``.npz``: a member whose header claims a huge shape, and a zip bomb (a
    member of 64 MiB of zeros that deflate packs into a few kilobytes)."""

    def rewrite(target: Path, member: Callable[[str, bytes], bytes]) -> None:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out,
        ):
            for info in source.infolist():
                out.writestr(info.filename, member(info.filename, source.read(info)))

    def huge_shape(name: str, data: bytes) -> bytes:
        return data.replace(b"(10, 6)", b"(10000000, 6000000)")

    def bomb(name: str, data: bytes) -> bytes:
        if not name.startswith("vectors"):
            return data
        sink = io.BytesIO()
        np.save(sink, np.zeros(((64 << 20) // (4 * DIM), DIM), np.float32))
        return sink.getvalue()

    yield "member claims a huge shape", lambda target: rewrite(target, huge_shape)
    yield "zip bomb: 64 MiB of zeros", lambda target: rewrite(target, bomb)


def run_case(fmt: str, case: str, path: Path, options: dict) -> dict:
    import embscope
    from embscope.errors import EmbscopeError

    record = {"format": fmt, "case": case}
    try:
        space = embscope.load(path, **options)
        if len(space) > 1:
            space.neighbors(space.keys[0], top_k=3)
        record.update(outcome="loaded", detail=f"{len(space)} x {space.dim}")
    except EmbscopeError as error:
        message = str(error)
        outcome = "refused" if "\n" not in message and message else "crashed"
        record.update(outcome=outcome, detail=f"{type(error).__name__}: {message[:300]}")
    except Exception as error:  # what the fuzzing is for
        last = traceback.format_exc().strip().splitlines()[-3:]
        record.update(outcome="crashed", detail=f"{type(error).__name__}: {' | '.join(last)}")
    return record


def fuzz(root: Path, seed: int) -> Iterator[dict]:
    rng = np.random.default_rng(seed)
    seeds = seed_files(root / "seeds")
    for fmt, (seed_path, options) in seeds.items():
        yield run_case(fmt, "valid", seed_path, options)
        target = main_file(seed_path)
        original = target.read_bytes()
        text = fmt in ("glove", "word2vec-text", "fasttext", "csv", "projector")
        for number, (case, data) in enumerate(mutations(original, rng, text)):
            copy = root / "cases" / f"{fmt}-{number}"
            shutil.copytree(seed_path.parent if not seed_path.is_dir() else seed_path, copy)
            relative = target.relative_to(seed_path.parent if not seed_path.is_dir() else seed_path)
            (copy / relative).write_bytes(data)
            loaded = copy / (seed_path.name if not seed_path.is_dir() else "")
            yield run_case(fmt, case, loaded if not seed_path.is_dir() else copy, options)
            shutil.rmtree(copy)
        if fmt == "npz":
            for number, (case, make) in enumerate(zip_mutations(target)):
                copy = root / "cases" / f"{fmt}-zip-{number}"
                shutil.copytree(seed_path.parent, copy)
                make(copy / seed_path.name)
                yield run_case(fmt, case, copy / seed_path.name, options)
                shutil.rmtree(copy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    # readers that cache what they decode (GGUF) write under the run's folder, not the user's
    os.environ["EMBSCOPE_CACHE"] = str(arguments.out / "cache")
    for record in fuzz(arguments.out, arguments.seed):
        print(json.dumps(record), flush=True)
    print(json.dumps({"peak_rss_bytes": peak_memory()}), flush=True)


def peak_memory() -> int:
    """This process's own peak resident memory. ``ru_maxrss`` will not do: Linux carries the
    parent's peak over into a child it forks (a test suite holding gigabytes would show as
    this process's peak), while /proc's VmHWM is the process's own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    sys.exit(main())
