"""BF16 checkpoints stay memory-mapped as their 16-bit patterns and answer in float32.

The checkpoints are written here byte for byte in the safetensors layout (numpy has no
bfloat16, and safetensors' numpy writer refuses it); their values are bfloat16 numbers, so the
float32 space made of the same values is the exact reference for every answer."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import embscope
from embscope.search.kernels import BFloat16Rows, bfloat16_to_float32
from embscope.sources.huggingface import load_huggingface

MiB = 1 << 20


def bf16_checkpoint(directory: Path, rows: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """A Llama-shaped checkpoint whose embedding is BF16; returns its values as float32."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bits = np.empty((rows, dim), dtype=np.uint16)
    for start in range(0, rows, 4096):
        block = rng.standard_normal((min(4096, rows - start), dim), dtype=np.float32)
        bits[start : start + len(block)] = block.view(np.uint32) >> 16
    header = {
        "model.embed_tokens.weight": {
            "dtype": "BF16",
            "shape": [rows, dim],
            "data_offsets": [0, bits.nbytes],
        }
    }
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with (directory / "model.safetensors").open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        handle.write(bits.tobytes())
    config = {"model_type": "llama", "vocab_size": rows, "hidden_size": dim}
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return bfloat16_to_float32(bits)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(the BF16 checkpoint's space, the float32 space of the same values)."""
    directory = tmp_path_factory.mktemp("bf16") / "checkpoint"
    values = bf16_checkpoint(directory, 3000, 48)
    space = load_huggingface(str(directory))
    return space, embscope.EmbeddingSpace(values.copy(), space.keys)


def test_the_matrix_stays_mapped_in_bfloat16(pair):
    space, reference = pair
    assert isinstance(space.vectors, BFloat16Rows)
    assert space.stored_dtype == "bfloat16" and space.vectors.dtype == np.float32
    assert space.vectors.nbytes == 3000 * 48 * 2
    summary = space.summary()
    assert summary["dtype"] == "bfloat16" and summary["memory_mapped"]
    assert "3,000 x 48 bfloat16" in repr(space)
    np.testing.assert_array_equal(np.asarray(space.vectors), reference.vectors)


def test_rows_read_as_float32(pair):
    space, reference = pair
    row = space["7"]
    assert row.dtype == np.float32 and not row.flags.writeable
    np.testing.assert_array_equal(row, reference["7"])
    np.testing.assert_array_equal(space[["3", "2999", "3"]], reference[["3", "2999", "3"]])
    np.testing.assert_array_equal(space.vectors[10:20], reference.vectors[10:20])
    np.testing.assert_array_equal(space.vectors[[5, 1]], reference.vectors[[5, 1]])
    assert space.vectors[4, 2] == reference.vectors[4, 2]
    assert len(list(space.vectors)) == 3000


def test_every_answer_equals_the_float32_one(pair):
    space, reference = pair
    np.testing.assert_allclose(space.norms, reference.norms, rtol=1e-6)
    queries = reference.vectors[[0, 99]]
    for metric in ("cosine", "dot", "euclidean"):
        np.testing.assert_allclose(
            space.scores(queries, metric=metric),
            reference.scores(queries, metric=metric),
            rtol=1e-5,
            atol=1e-5,
        )
        hits, expected = (s.search("42", top_k=10, metric=metric) for s in (space, reference))
        assert hits.keys == expected.keys
        np.testing.assert_allclose(hits.scores, expected.scores, rtol=1e-9)
    assert space.similarity("1", "2") == pytest.approx(reference.similarity("1", "2"))


def test_the_knn_graph_equals_the_float32_one(pair):
    space, reference = pair
    for metric in ("cosine", "euclidean"):
        graph, expected = (
            s.knn_graph(top_k=5, metric=metric, progress=False) for s in (space, reference)
        )
        np.testing.assert_array_equal(graph.ids, expected.ids)


def test_derived_spaces(pair):
    space, reference = pair
    subset = space.subset(["9", "4"])
    np.testing.assert_array_equal(subset.vectors, reference.vectors[[9, 4]])
    widened = space.astype("float32")
    assert isinstance(widened.vectors, np.ndarray) and widened.stored_dtype == "float32"
    np.testing.assert_array_equal(widened.vectors, reference.vectors)
    assert space.astype("float16").stored_dtype == "float16"


def test_non_finite_rows_are_left_out_and_the_rest_stays_bfloat16():
    bits = (np.arange(12, dtype=np.float32).reshape(4, 3).view(np.uint32) >> 16).astype(np.uint16)
    bits[2, 1] = 0x7FC0  # a bfloat16 NaN
    space = embscope.EmbeddingSpace(BFloat16Rows(bits), ["a", "b", "c", "d"])
    assert space.non_finite_keys == ["c"] and space.stored_dtype == "bfloat16"
    np.testing.assert_array_equal(space["d"], [9, 10, 11])


def test_bfloat16_rows_take_only_bit_patterns():
    with pytest.raises(embscope.InvalidParameterError, match="2-D uint16"):
        BFloat16Rows(np.zeros((2, 2), dtype=np.float32))


def test_loading_and_searching_does_not_grow_memory_by_the_float32_size(tmp_path):
    """A 32,000 x 1,024 BF16 embedding (62.5 MiB on disk, 125 MiB as float32): loading it,
    computing its norms and answering a search must not add its float32 size to the process
    (widening it whole did: 125 MiB in memory plus the mapped file)."""
    rows, dim = 32_000, 1024
    bf16_checkpoint(tmp_path / "big", rows, dim)
    bf16_checkpoint(tmp_path / "small", 64, 8)
    code = textwrap.dedent(
        f"""
        from embscope.sources.huggingface import load_huggingface
        def peak_kib():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        # everything loading and searching imports, before the baseline
        load_huggingface({str(tmp_path / "small")!r}).search("1", top_k=5)
        open("/proc/self/clear_refs", "w").write("5")  # the peak starts again from here
        before = peak_kib()
        space = load_huggingface({str(tmp_path / "big")!r})
        hits = space.search("123", top_k=5)
        assert len(hits) == 5
        print((peak_kib() - before) / 1024, space.stored_dtype)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    grown, stored = result.stdout.split()
    float32_mib = rows * dim * 4 / MiB
    assert stored == "bfloat16"
    # the mapped file's pages (62.5 MiB) count as resident once read, plus a widened block of
    # 8 MiB and the keys: about 80 MiB here; widening the whole matrix adds 125 MiB to that
    assert float(grown) < 0.85 * float32_mib, grown
