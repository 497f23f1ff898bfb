"""Hostile files: sizes that promise far more than the file holds, floods, broken streams.

Each file is crafted with the real libraries (numpy, zipfile and zlib, h5py, gzip, pyarrow) and
kept small. What is checked is that a reader refuses before it allocates what a file declares:
one error that names the file (and the bound, and how to raise it), and, where it matters, the
peak memory of a fresh process that reads the file stays near where it started.
"""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import embscope
from embscope.cli import main
from embscope.errors import MalformedFileError, SourceError

MiB = 1 << 20

# ---- helpers ----------------------------------------------------------------------------------


def peak_memory_of_loading(path: Path, **options) -> tuple[str, float]:
    """``embscope.load(path, **options)`` in a fresh interpreter: the error it raised (type and
    message) and how many MiB its peak resident memory grew while loading."""
    code = textwrap.dedent(
        f"""
        import embscope
        import numpy, h5py, pyarrow.parquet  # everything a reader imports, before the baseline
        def peak_kib():
            # VmHWM, not ru_maxrss: Linux hands a forked child its parent's peak (the test
            # suite's gigabytes), which would hide any growth here
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        before = peak_kib()
        try:
            embscope.load({str(path)!r}, **{options!r})
            outcome = "loaded"
        except Exception as error:
            outcome = f"{{type(error).__name__}}: {{error}}"
        after = peak_kib()
        print((after - before) / 1024)
        print(outcome)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    grown, outcome = result.stdout.strip().split("\n", 1)
    return outcome, float(grown)


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """The header ``np.save`` writes for an array of this shape, without the array."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def declare_uncompressed_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size a zip entry declares (local header and central directory),
    leaving its bytes alone: what a crafted archive does."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        name_length = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_length] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def keras3_weights(path: Path, create) -> None:
    """A Keras 3 weights file (``model.weights.h5``'s tree) whose embedding ``create`` makes."""
    with h5py.File(path, "w") as root:
        group = root.create_group("layers/embedding/vars")
        group.attrs["name"] = "embedding"
        create(group)


def keras_archive(path: Path, weights: Path, config: bytes | None = None) -> None:
    """A ``.keras`` zip, stored as Keras stores it, with an optional ``config.json``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        if config is not None:
            archive.writestr("config.json", config, compress_type=zipfile.ZIP_DEFLATED)
        archive.write(weights, "model.weights.h5")


# ---- .npz ---------------------------------------------------------------------------------------


def test_an_npz_of_zeros_past_the_bound_is_refused_until_the_user_raises_it(tmp_path):
    # a real zip bomb from np.savez_compressed: 75 MiB of zeros in under 100 KiB
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, vectors=np.zeros((300_000, 64), dtype=np.float32))
    assert path.stat().st_size < 200_000

    with pytest.raises(SourceError) as caught:
        embscope.load(path)
    message = str(caught.value)
    assert str(path) in message and "array 'vectors' (300,000 x 64 float32)" in message
    assert "73.2 MiB in memory" in message and "more than max_inflation=100 times" in message
    assert "pass max_inflation=10000 (CLI: --max-inflation 10000)" in message

    space = embscope.load(path, max_inflation=None)  # the user trusts it
    assert space.shape == (300_000, 64)
    assert embscope.load(path, max_inflation=10_000).shape == (300_000, 64)


def test_an_npy_header_that_promises_gigabytes_is_refused_before_allocating(tmp_path):
    # the 7.8 MB archive that asked for 7.45 GiB: its header's shape, not its bytes
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vectors.npy", npy_header((2_000_000, 1000)) + bytes(1000))

    outcome, grown = peak_memory_of_loading(path)

    assert outcome.startswith("MalformedFileError: " + str(path))
    assert "array 'vectors': its header promises shape (2000000, 1000) float32 (7.5 GiB)" in (
        outcome
    )
    assert "its zip entry holds 1,000 bytes" in outcome
    assert grown < 100, f"peak memory grew by {grown:.0f} MiB"


def test_a_zip_entry_declaring_more_than_deflate_can_give_is_refused(tmp_path):
    path = tmp_path / "crafted.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vectors.npy", npy_header((3, 2)) + np.ones((3, 2), "<f4").tobytes())
    declare_uncompressed_size(path, "vectors.npy", 4_000_000_000)

    with pytest.raises(MalformedFileError, match="more than deflate can expand"):
        embscope.load(path)


def test_an_npy_whose_shape_overflows_int64_is_refused(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_header((2**40, 2**40)) + bytes(16))

    with pytest.raises(MalformedFileError, match="truncated: the header promises"):
        embscope.load(path)


# ---- HDF5 / .keras --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        # contiguous and never written: HDF5 allocates nothing and reads back the fill value
        {},
        # chunked and compressed, no chunk written: a fill value stands for every row
        {"chunks": (1000, 100), "compression": "gzip", "fillvalue": 0.5},
    ],
    ids=["unallocated", "fill-value-chunks"],
)
def test_an_hdf5_embedding_with_a_giant_shape_and_no_storage_is_refused(tmp_path, layout):
    path = tmp_path / "model.weights.h5"
    keras3_weights(
        path,
        lambda group: group.create_dataset("0", shape=(2_000_000, 1000), dtype="f4", **layout),
    )
    assert path.stat().st_size < 100_000

    outcome, grown = peak_memory_of_loading(path)

    assert outcome.startswith("SourceError: " + str(path))
    assert "the weights of layer 'embedding' (2,000,000 x 1,000 float32)" in outcome
    assert "7.5 GiB in memory but 0 bytes hold it in the file" in outcome
    assert "max_inflation=None" in outcome
    assert grown < 100, f"peak memory grew by {grown:.0f} MiB"


def test_a_keras_archive_with_a_giant_unwritten_embedding_is_refused(tmp_path):
    weights = tmp_path / "model.weights.h5"
    keras3_weights(
        weights, lambda group: group.create_dataset("0", shape=(2_000_000, 1000), dtype="f4")
    )
    path = tmp_path / "model.keras"
    keras_archive(path, weights)

    with pytest.raises(SourceError, match=r"7\.5 GiB in memory but 0 bytes hold it"):
        embscope.load(path)


def test_an_hdf5_embedding_within_the_bound_loads(tmp_path):
    path = tmp_path / "model.weights.h5"
    weights = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    keras3_weights(path, lambda group: group.create_dataset("0", data=weights, compression="gzip"))

    np.testing.assert_array_equal(embscope.load(path).vectors, weights)


def test_a_keras_config_that_inflates_past_the_bound_is_refused(tmp_path):
    weights = tmp_path / "model.weights.h5"
    keras3_weights(weights, lambda group: group.create_dataset("0", data=np.ones((4, 2), "f4")))
    path = tmp_path / "model.keras"
    # valid JSON: 80 MiB of spaces deflate to about 80 KiB
    keras_archive(path, weights, config=b"{" + b" " * (80 * MiB) + b"}")

    with pytest.raises(SourceError) as caught:
        embscope.load(path)
    assert "config.json would take 80.0 MiB in memory" in str(caught.value)


def test_a_keras_config_nested_too_deeply_is_a_clean_error(tmp_path):
    weights = tmp_path / "model.weights.h5"
    keras3_weights(weights, lambda group: group.create_dataset("0", data=np.ones((4, 2), "f4")))
    path = tmp_path / "model.keras"
    keras_archive(path, weights, config=b"[" * 100_000 + b"]" * 100_000)

    with pytest.raises(MalformedFileError, match="the model config is JSON nested too deeply"):
        embscope.load(path)


# ---- word-vector text and binary ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("huge.bin", b"3 1000000000000\na \x01\x02\x03\x04\n", None),
        ("huge.txt", b"3 1000000000000\na 1 2\n", "word2vec-text"),
        ("huge.vec", b"3 1000000000000\na 1 2\n", None),
    ],
)
def test_a_header_dimension_beyond_the_file_is_malformed_not_an_overflow(
    tmp_path, name, content, kind
):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path, kind=kind)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 1: the header declares 1,000,000,000,000 dimensions")
    assert "the header is wrong" in message


def test_a_truncated_gzip_is_a_malformed_file_not_aborted(tmp_path):
    data = gzip.compress(b"".join(b"w%d 0.1 0.2 0.3\n" % i for i in range(20_000)))
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(data[: len(data) // 2])

    # the kind is guessed from the first line, so the damage is met while sniffing
    with pytest.raises(MalformedFileError, match="the gzip data is broken"):
        embscope.load(path)
    # click turns a stray EOFError into a bare "Aborted!"
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert str(path) in result.output and "the gzip data is broken" in result.output


def test_a_gzip_that_expands_past_the_bound_is_refused(tmp_path):
    # one row, then 70 MiB of newlines: about 70 KiB of gzip
    path = tmp_path / "flood.txt.gz"
    path.write_bytes(gzip.compress(b"a 1 2\n" + b"\n" * (70 * MiB), compresslevel=9))
    assert path.stat().st_size < 200_000

    with pytest.raises(SourceError) as caught:
        embscope.load(path)
    assert "its content, once decompressed, would take" in str(caught.value)
    assert "max_inflation=" in str(caught.value)

    space = embscope.load(path, max_inflation=None)  # trailing blank lines are dropped
    assert space.keys == ["a"]


def test_a_flood_of_blank_lines_is_streamed_not_held(tmp_path):
    # 32 MB of blank lines between two rows once took 2 GB; now it fails on the first of them
    path = tmp_path / "glove.txt"
    path.write_bytes(b"a 1 2\n" + b"\n" * (32 * MiB) + b"b 3 4\n")

    outcome, grown = peak_memory_of_loading(path)

    assert outcome == f"MalformedFileError: {path}, line 2: the line is empty"
    assert grown < 150, f"peak memory grew by {grown:.0f} MiB"


def test_blank_lines_at_the_end_are_dropped_without_being_held(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_bytes(b"a 1 2\nb 3 4\n" + b" \n" * (16 * MiB))

    outcome, grown = peak_memory_of_loading(path)

    assert outcome == "loaded"
    assert grown < 150, f"peak memory grew by {grown:.0f} MiB"
    assert embscope.load(path).keys == ["a", "b"]


# ---- Parquet ------------------------------------------------------------------------------------


def test_a_parquet_column_that_decodes_far_past_its_bytes_is_refused(tmp_path):
    # run-length encoding: ten million zeros in a few kilobytes
    path = tmp_path / "zeros.parquet"
    table = pa.table(
        {
            "key": pa.array([str(i) for i in range(4)]),
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(np.zeros(4 * 2_500_000, dtype=np.float32)), 2_500_000
            ),
        }
    )
    pq.write_table(table, path, compression="zstd")
    assert path.stat().st_size < 200_000

    with pytest.raises(SourceError, match=r"the table \(4 rows\) would take .* max_inflation="):
        embscope.load(path)


# ---- tokenizer files --------------------------------------------------------------------------


def test_a_tokenizer_json_nested_too_deeply_is_a_clean_error(tmp_path):
    from embscope.sources.hf_tokenizer import read_tokenizer

    (tmp_path / "tokenizer.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(MalformedFileError, match="nested too deeply"):
        read_tokenizer(tmp_path)

    (tmp_path / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "WordLevel", "vocab": {"a": 0, "b": "one"}}})
    )
    with pytest.raises(MalformedFileError, match="the id of 'b' is 'one'"):
        read_tokenizer(tmp_path)


def test_a_vocabulary_file_of_blank_lines_fails_on_its_second_line(tmp_path):
    np.save(tmp_path / "m.npy", np.ones((3, 2), dtype=np.float32))
    (tmp_path / "m.vocab.txt").write_bytes(b"\n" * (4 * MiB))

    with pytest.raises(MalformedFileError, match=r"line 2: duplicate token ''"):
        embscope.load(tmp_path / "m.npy")


# ---- a saved training run ---------------------------------------------------------------------


def saved_run(folder: Path, config: bytes, vocabulary: str = "\n[UNK]\ngood\nbad\n") -> Path:
    """The three files ``embscope train`` saves, written field for field."""
    from safetensors.numpy import save_file

    folder.mkdir()
    (folder / "embscope-train.json").write_bytes(config)
    (folder / "vocabulary.txt").write_text(vocabulary, encoding="utf-8")
    weights = np.arange(8, dtype=np.float32).reshape(4, 2)
    save_file({"embedding.weight": weights}, str(folder / "model.safetensors"))
    return folder


@pytest.mark.parametrize(
    ("config", "vocabulary", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, None, "JSON nested too deeply"),
        (b'{"format": "embscope-sentiment", "token_counts": "many"}', None, "token_counts"),
        (b'{"format": "embscope-sentiment", "standardization": "rot13"}', None, "rot13"),
        (b'{"format": "embscope-sentiment"}', "good\nbad\nugly\nfine\n", "starts with an empty"),
        (b'{"format": "embscope-sentiment"}', "\n[UNK]\ngood\n", "3 tokens for a matrix of 4"),
    ],
)
def test_a_damaged_training_run_is_one_clean_error(tmp_path, config, vocabulary, problem):
    extra = {} if vocabulary is None else {"vocabulary": vocabulary}
    folder = saved_run(tmp_path / "run", config, **extra)

    with pytest.raises(MalformedFileError, match=problem):
        embscope.load(folder)


def test_a_well_formed_training_run_loads_without_its_padding_row(tmp_path):
    folder = saved_run(
        tmp_path / "run", b'{"format": "embscope-sentiment", "token_counts": [0, 5, 3, 2]}'
    )

    space = embscope.load(folder)

    assert space.keys == ["[UNK]", "good", "bad"]
    assert space.metadata["count"].tolist() == [5, 3, 2]


@pytest.mark.parametrize("kind", ["external", "virtual"])
def test_an_hdf5_embedding_stored_in_another_file_is_never_followed(tmp_path, kind):
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(np.arange(8, dtype="<f4").tobytes())
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as root:
        root["data"] = np.arange(8, dtype="<f4").reshape(4, 2)

    def create(group):
        if kind == "external":
            group.create_dataset("0", shape=(4, 2), dtype="<f4", external=[(elsewhere, 0, 32)])
        else:
            layout = h5py.VirtualLayout(shape=(4, 2), dtype="<f4")
            layout[:] = h5py.VirtualSource(source, "data", shape=(4, 2))
            group.create_virtual_dataset("0", layout)

    path = tmp_path / "model.weights.h5"
    keras3_weights(path, create)

    with pytest.raises(MalformedFileError, match="stored in other files that this one names"):
        embscope.load(path)
