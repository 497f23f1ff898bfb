"""Zipped checkpoint folders read in place (sources/hf_zip.py): the bundled MiniLM folder zipped
stored and deflated, at the archive's root or in a folder, reads back as MiniLM; small real
checkpoints (safetensors, vocab.txt, shards) cover the other layouts; crafted archives (names that
climb out, sizes that lie, damaged streams, duplicated members) are refused in one line and
nothing is ever written."""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import embscope
from embscope.errors import MalformedFileError, SourceError

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "play", "##ing", "dog"]


def zip_folder(folder: Path, path: Path, *, prefix: str = "", compression: int) -> Path:
    """The real files of ``folder`` zipped as a user would, under ``prefix``."""
    with zipfile.ZipFile(path, "w", compression=compression, compresslevel=1) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return path


def small_checkpoint(folder: Path, rows: int = len(TOKENS), width: int = 4) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    matrix = np.random.default_rng(3).standard_normal((rows, width)).astype(np.float32)
    save_file({"embeddings.word_embeddings.weight": matrix}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(
        json.dumps({"model_type": "bert", "vocab_size": rows, "hidden_size": width}),
        encoding="utf-8",
    )
    (folder / "vocab.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    return matrix


def backing_memmap(array: np.ndarray) -> bool:
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return isinstance(base, np.memmap)


def refused(path: Path, error: type[Exception] = SourceError, **options) -> str:
    with pytest.raises(error) as caught:
        embscope.load(path, **options)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


# ---- MiniLM ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def minilm_zips(tmp_path_factory, minilm_dir) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("minilm-zips")
    return {
        "stored": zip_folder(minilm_dir, folder / "stored.zip", compression=zipfile.ZIP_STORED),
        "deflated": zip_folder(
            minilm_dir,
            folder / "deflated.zip",
            prefix="all-MiniLM-L6-v2/",
            compression=zipfile.ZIP_DEFLATED,
        ),
    }


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["stored", "deflated"])
def test_a_zipped_minilm_folder_is_minilm(minilm_zips, minilm, layout):
    space = embscope.load(minilm_zips[layout])

    assert space.provenance.kind == "huggingface-zip"
    assert space.keys == minilm.keys and space.labels == minilm.labels
    assert np.array_equal(np.asarray(space.vectors), np.asarray(minilm.vectors))
    assert space.metadata["kind"].tolist() == minilm.metadata["kind"].tolist()
    assert space.resolve("unbelievable").keys == minilm.resolve("unbelievable").keys
    assert list(space.neighbors("good").key[:5]) == list(minilm.neighbors("good").key[:5])
    options = space.provenance.options
    assert options["tensor"] == "embeddings.word_embeddings.weight"
    assert options["archive_folder"] == ("(root)" if layout == "stored" else "all-MiniLM-L6-v2/")
    # a stored member is mapped in place; a deflated one had to be inflated
    assert backing_memmap(space.vectors) == (layout == "stored")


@pytest.mark.slow
def test_a_deflated_folder_past_max_inflation_is_refused(minilm_zips):
    # 87 MiB inflated from 80 MiB: past a bound of 1, within the default of 100
    message = refused(minilm_zips["deflated"], max_inflation=1)
    assert "member 'all-MiniLM-L6-v2/model.safetensors' would take 86.7 MiB" in message
    assert "more than max_inflation=1 times" in message


# ---- other layouts ---------------------------------------------------------------------------


def test_a_vocab_txt_tokenizer_is_read_from_its_member(tmp_path):
    matrix = small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "model.zip", compression=zipfile.ZIP_DEFLATED)

    space = embscope.load(path)

    assert space.keys == TOKENS and np.array_equal(space.vectors, matrix)
    assert space.provenance.options["tokenizer"].startswith("vocab.txt")
    # the WordPiece tokenizer is built from the member's tokens
    assert space.resolve("playing", pieces="mean").keys == ("play", "##ing")


def test_a_sharded_checkpoint_reads_only_its_members(tmp_path):
    folder = tmp_path / "model"
    matrix = small_checkpoint(folder)
    (folder / "model.safetensors").unlink()
    other = np.ones((4, 4), dtype=np.float32)
    save_file({"embeddings.word_embeddings.weight": matrix}, str(folder / "model-1.safetensors"))
    save_file({"encoder.dense.weight": other}, str(folder / "model-2.safetensors"))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "embeddings.word_embeddings.weight": "model-1.safetensors",
                    "encoder.dense.weight": "model-2.safetensors",
                }
            }
        ),
        encoding="utf-8",
    )
    path = zip_folder(folder, tmp_path / "sharded.zip", compression=zipfile.ZIP_STORED)
    space = embscope.load(path)
    assert np.array_equal(space.vectors, matrix)


def test_several_checkpoint_folders_need_folder(tmp_path):
    first = small_checkpoint(tmp_path / "a")
    small_checkpoint(tmp_path / "b", rows=len(TOKENS), width=6)
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("a", "b"):
            for file in sorted((tmp_path / name).iterdir()):
                archive.write(file, f"{name}/{file.name}")
    message = refused(path)
    assert "several checkpoint folders ('a/', 'b/'); pass folder=" in message
    assert np.array_equal(embscope.load(path, folder="a").vectors, first)
    assert embscope.load(path, folder="b/").shape == (len(TOKENS), 6)
    assert "no checkpoint folder 'c'" in refused(path, folder="c")


# ---- crafted archives ------------------------------------------------------------------------


def test_names_that_climb_out_of_the_archive_are_refused_and_nothing_is_written(tmp_path):
    small_checkpoint(tmp_path / "model")
    inside = tmp_path / "downloads" / "deep"
    inside.mkdir(parents=True)
    for prefix in ("../../evil/", "/tmp/evil/"):
        path = inside / "slip.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for file in sorted((tmp_path / "model").iterdir()):
                # a ZipInfo keeps the name as given, as a crafted archive stores it
                archive.writestr(zipfile.ZipInfo(prefix + file.name), file.read_bytes())
        assert zipfile.ZipFile(path).namelist()[0].startswith(prefix)
        before = sorted(p for p in tmp_path.rglob("*"))
        message = refused(path, MalformedFileError)
        assert "names a place outside the archive" in message and "refusing" in message
        assert sorted(p for p in tmp_path.rglob("*")) == before
        assert not Path("/tmp/evil").exists()


def declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size a zip entry declares (local header and central
    directory), leaving its bytes alone."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, name_at, size_at in ((b"PK\x03\x04", 26, 22), (b"PK\x01\x02", 28, 24)):
        header = data.find(signature)
        while header >= 0:
            start = header + (30 if signature == b"PK\x03\x04" else 46)
            length = struct.unpack_from("<H", data, header + name_at)[0]
            if data[start : start + length] == name:
                struct.pack_into("<I", data, header + size_at, size)
            header = data.find(signature, header + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("compression", "declared", "problem"),
    [
        (zipfile.ZIP_STORED, 10**9, "a stored (uncompressed) zip entry of"),
        (zipfile.ZIP_STORED, 100, "a stored (uncompressed) zip entry of"),
        (zipfile.ZIP_DEFLATED, 4_000_000_000, "more than deflate can expand"),
        (zipfile.ZIP_DEFLATED, 100, "cannot be read"),
    ],
)
def test_a_member_that_lies_about_its_size_is_refused(tmp_path, compression, declared, problem):
    small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "liar.zip", compression=compression)
    declare_size(path, "model.safetensors", declared)
    assert problem in refused(path, MalformedFileError)


def test_a_deflated_member_past_max_inflation_is_refused_until_raised(tmp_path):
    # a real zip bomb of sorts: 80 MiB of zeros deflate to under 100 KiB
    folder = tmp_path / "model"
    small_checkpoint(folder)
    zeros = np.zeros((len(TOKENS), 2_100_000), dtype=np.float32)
    save_file({"embeddings.word_embeddings.weight": zeros}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"vocab_size": len(TOKENS)}))
    path = zip_folder(folder, tmp_path / "zeros.zip", compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20

    message = refused(path)
    assert "member 'model.safetensors' would take 80.1 MiB in memory" in message
    assert "pass max_inflation=1000" in message
    assert embscope.load(path, max_inflation=None).shape == zeros.shape


def test_a_damaged_stream_is_one_line(tmp_path):
    small_checkpoint(tmp_path / "model", rows=len(TOKENS), width=512)
    path = zip_folder(
        tmp_path / "model", tmp_path / "damaged.zip", compression=zipfile.ZIP_DEFLATED
    )
    info = zipfile.ZipFile(path).getinfo("model.safetensors")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "member 'model.safetensors' cannot be read" in refused(path, MalformedFileError)


def test_a_stored_member_whose_local_header_is_gone_is_refused(tmp_path):
    small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "moved.zip", compression=zipfile.ZIP_STORED)
    info = zipfile.ZipFile(path).getinfo("model.safetensors")
    data = bytearray(path.read_bytes())
    data[info.header_offset : info.header_offset + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    message = refused(path, MalformedFileError)
    assert "member 'model.safetensors' cannot be read" in message and "damaged" in message


def test_a_safetensors_header_that_lies_is_refused(tmp_path):
    folder = tmp_path / "model"
    small_checkpoint(folder)
    real = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + real[8:])
    path = zip_folder(folder, tmp_path / "header.zip", compression=zipfile.ZIP_STORED)
    assert "the header claims 1,000,000,000,000 bytes" in refused(path, MalformedFileError)


def test_a_duplicated_member_is_refused(tmp_path):
    small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "twice.zip", compression=zipfile.ZIP_STORED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: that is the point
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("config.json", json.dumps({"vocab_size": 3}))
    assert "member 'config.json' appears twice" in refused(path, MalformedFileError)


def test_an_index_naming_a_shard_elsewhere_is_refused(tmp_path):
    folder = tmp_path / "model"
    small_checkpoint(folder)
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"embeddings.word_embeddings.weight": "../model.safetensors"}})
    )
    path = zip_folder(folder, tmp_path / "index.zip", compression=zipfile.ZIP_STORED)
    with pytest.raises(MalformedFileError, match="is not a file name in the same folder"):
        embscope.load(path)


def test_a_truncated_archive_is_one_line(tmp_path):
    small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "cut.zip", compression=zipfile.ZIP_STORED)
    path.write_bytes(path.read_bytes()[:-100])
    assert "damaged or truncated" in refused(path)


def test_a_member_said_to_start_past_the_end_is_refused(tmp_path):
    small_checkpoint(tmp_path / "model")
    path = zip_folder(tmp_path / "model", tmp_path / "far.zip", compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == b"model.safetensors":
            struct.pack_into("<I", data, central + 42, 0xFFFF_FFF0)  # its local header's offset
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    assert "member 'model.safetensors' cannot be read" in refused(path, MalformedFileError)
