"""Files are told apart by their bytes before their names (sources/sniff.py): each format made
here by its real writer (numpy, pyarrow, h5py, gzip, tarfile, safetensors, torch.save, pickle,
onnx, gguf, Pillow), and the files people point at by mistake refused in one line that says what
they are and what to do."""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

import embscope
from embscope.cli import main
from embscope.errors import MalformedFileError, SourceError
from embscope.sources import KINDS, _guess_kind
from embscope.sources.sniff import checkpoint_folders, sniff_file

WORDS = ["good", "bad", "great", "awful", "fine"]
VECTORS = np.random.default_rng(0).standard_normal((len(WORDS), 4)).astype(np.float32)


def glove_text() -> bytes:
    lines = (
        f"{w} {' '.join(f'{x:.5f}' for x in v)}\n" for w, v in zip(WORDS, VECTORS, strict=True)
    )
    return "".join(lines).encode()


def refusal(path: Path, **options) -> str:
    """The one-line SourceError that embscope.load gives for ``path``."""
    with pytest.raises(SourceError) as caught:
        embscope.load(path, **options)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


def small_onnx(path: Path) -> Path:
    """A real ONNX model (onnx.helper): token ids looked up in an embedding initializer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["embedding", "input_ids"], ["hidden"])],
        "lookup",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "sequence", 4])],
        [numpy_helper.from_array(VECTORS, "embedding")],
    )
    onnx.save_model(helper.make_model(graph), str(path))
    return path


# ---- what each signature is read as ----------------------------------------------------------


def test_a_gguf_file_goes_to_the_gguf_reader_whatever_its_name(tmp_path):
    import gguf

    path = tmp_path / "model.txt"  # the suffix of a word-vector file: the bytes decide
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", VECTORS)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    found = sniff_file(path)
    assert (found.format, found.kind) == ("gguf", "gguf")
    if "gguf" in KINDS:
        assert _guess_kind(path, str(path)) == "gguf"
    else:
        assert "GGUF" in refusal(path)
    # the failure of issue 14: never read as word-vector text again
    try:
        space = embscope.load(path)
    except SourceError as error:
        assert "values after the key" not in str(error)
    else:
        assert space.shape == VECTORS.shape


@pytest.mark.parametrize(
    ("name", "write", "format_", "kind"),
    [
        ("vectors.npy", lambda p: np.save(p, VECTORS), "npy", "npy"),
        ("space.npz", lambda p: np.savez(p, vectors=VECTORS), "npz", "npz"),
        ("space.npz", lambda p: np.savez_compressed(p, vectors=VECTORS), "npz", "npz"),
        (
            "table.parquet",
            lambda p: pq.write_table(pa.table({"key": WORDS, "vector": list(VECTORS)}), p),
            "parquet",
            "parquet",
        ),
        (
            "model.h5",
            lambda p: h5py.File(p, "w").close(),
            "hdf5",
            "keras",
        ),
        (
            "model.safetensors",
            lambda p: save_file({"embeddings.word_embeddings.weight": VECTORS}, str(p)),
            "safetensors",
            "huggingface",
        ),
        ("model.onnx", small_onnx, "onnx", "onnx"),
        ("exported-model", small_onnx, "onnx", "onnx"),  # no suffix: the protobuf walk decides
    ],
)
def test_each_signature_is_recognised(tmp_path, name, write, format_, kind):
    path = tmp_path / name
    write(path)
    found = sniff_file(path)
    assert (found.format, found.kind) == (format_, kind)
    assert _guess_kind(path, str(path)) == kind


def test_the_bytes_win_over_a_misleading_suffix(tmp_path):
    # an array saved under a text file's name loads as the array it is
    path = tmp_path / "vectors.txt"
    with path.open("wb") as handle:
        np.save(handle, VECTORS)
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    space = embscope.load(path)
    assert space.keys == WORDS and np.array_equal(space.vectors, VECTORS)


def test_text_formats_are_left_to_the_suffix_rules(tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_bytes(glove_text())
    packed = tmp_path / "glove.txt.gz"
    packed.write_bytes(gzip.compress(glove_text()))
    for path in (glove, packed):
        assert sniff_file(path) is None
        space = embscope.load(path)
        assert space.keys == WORDS


def test_a_zip_is_told_apart_by_its_members(tmp_path):
    keras = tmp_path / "renamed.zip"  # a .keras file under another name
    with h5py.File(tmp_path / "weights.h5", "w") as root:
        root.create_dataset("layers/embedding/vars/0", data=VECTORS)
    with zipfile.ZipFile(keras, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("metadata.json", "{}")
        archive.write(tmp_path / "weights.h5", "model.weights.h5")
    assert sniff_file(keras).kind == "keras"

    checkpoint = tmp_path / "checkpoint.zip"
    with zipfile.ZipFile(checkpoint, "w") as archive:
        archive.writestr("my-model/config.json", "{}")
        archive.writestr("my-model/1_Pooling/config.json", "{}")
        archive.writestr("my-model/model.safetensors", b"")
    assert sniff_file(checkpoint).kind == "huggingface-zip"
    assert checkpoint_folders(zipfile.ZipFile(checkpoint).namelist()) == ["my-model/"]

    vectors = tmp_path / "glove.6B.zip"  # GloVe as Stanford ships it
    with zipfile.ZipFile(vectors, "w") as archive:
        archive.writestr("glove.6B.50d.txt", glove_text())
        archive.writestr("glove.6B.100d.txt", glove_text())
    message = refusal(vectors)
    assert "a zip archive of 2 files (glove.6B.50d.txt, glove.6B.100d.txt)" in message
    assert "unpack it and point at the file inside" in message


def test_an_empty_or_damaged_zip_with_a_zip_suffix_goes_to_its_reader(tmp_path):
    empty = tmp_path / "model.keras"
    with zipfile.ZipFile(empty, "w"):
        pass
    assert sniff_file(empty).kind == "keras"
    truncated = tmp_path / "space.npz"
    np.savez(truncated, vectors=VECTORS)
    truncated.write_bytes(truncated.read_bytes()[:200])
    assert sniff_file(truncated).kind == "npz"
    with pytest.raises(SourceError):
        embscope.load(truncated)

    other = tmp_path / "download.zip"
    other.write_bytes(truncated.read_bytes())
    message = refusal(other)
    assert "cannot be read" in message and "damaged or truncated" in message


# ---- pickles and torch files -----------------------------------------------------------------


def test_a_pickle_on_its_own_is_named_and_never_unpickled(tmp_path):
    import torch

    state = {"embedding.weight": torch.from_numpy(VECTORS)}
    torch.save(state, tmp_path / "weights.pt")
    torch.save(state, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with (tmp_path / "model.pkl").open("wb") as handle:
        pickle.dump({"vectors": VECTORS, "words": WORDS}, handle, protocol=4)

    message = refusal(tmp_path / "weights.pt")
    assert "a PyTorch file (torch.save's zip format)" in message
    assert "reads pytorch_model.bin only inside a Hugging Face checkpoint folder" in message
    assert "torch.load(weights_only=True)" in message
    assert "torch.save's legacy (pickle) format" in refusal(tmp_path / "legacy.pt")
    assert "a Python pickle" in refusal(tmp_path / "model.pkl")


@pytest.mark.parametrize("zipped", [True, False])
def test_pytorch_model_bin_beside_its_config_is_a_checkpoint(tmp_path, zipped):
    import torch

    tokens = ["[PAD]", "[UNK]", *WORDS]
    table = np.random.default_rng(1).standard_normal((len(tokens), 4)).astype(np.float32)
    torch.save(
        {"embeddings.word_embeddings.weight": torch.from_numpy(table)},
        tmp_path / "pytorch_model.bin",
        _use_new_zipfile_serialization=zipped,
    )
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    (tmp_path / "config.json").write_text(
        json.dumps({"vocab_size": len(tokens), "hidden_size": 4}), encoding="utf-8"
    )
    assert _guess_kind(tmp_path / "pytorch_model.bin", "") == "huggingface"
    space = embscope.load(tmp_path / "pytorch_model.bin")
    assert space.keys == tokens and np.array_equal(space.vectors, table)

    alone = tmp_path / "elsewhere" / "pytorch_model.bin"
    alone.parent.mkdir()
    shutil.copy(tmp_path / "pytorch_model.bin", alone)
    assert "beside its config.json" in refusal(alone)


def test_a_safetensors_file_without_its_suffix_is_named(tmp_path):
    path = tmp_path / "weights"
    save_file({"embeddings.word_embeddings.weight": VECTORS}, str(path))
    assert "a safetensors file without the .safetensors suffix; rename it" in refusal(path)


# ---- compressed files ------------------------------------------------------------------------


def test_a_tarball_and_a_gzipped_binary_are_named(tmp_path):
    (tmp_path / "glove.txt").write_bytes(glove_text())
    tarball = tmp_path / "vectors.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tmp_path / "glove.txt", "glove.txt")
    assert "a gzip-compressed tar archive (.tar.gz); unpack it" in refusal(tarball)

    array = tmp_path / "vectors.npy"
    np.save(array, VECTORS)
    packed = tmp_path / "vectors.npy.gz"
    packed.write_bytes(gzip.compress(array.read_bytes()))
    message = refusal(packed)
    assert "a gzip-compressed file holding a NumPy .npy array" in message
    assert "decompress it (gunzip)" in message


def test_other_compressors_are_named(tmp_path):
    import bz2
    import lzma

    for name, data, what in [
        ("glove.txt.bz2", bz2.compress(glove_text()), "a bzip2-compressed file"),
        ("glove.txt.xz", lzma.compress(glove_text()), "an xz-compressed file"),
    ]:
        (tmp_path / name).write_bytes(data)
        message = refusal(tmp_path / name)
        assert what in message and "decompress it first" in message


# ---- what embscope cannot read ---------------------------------------------------------------


def test_an_image_a_pdf_and_a_program_are_named_in_one_line(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "plot.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "plot.jpg")
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    program = Path(sys.executable).resolve()

    assert "a PNG image, not a model or vectors file" in refusal(tmp_path / "plot.png")
    assert "a JPEG image" in refusal(tmp_path / "plot.jpg")
    assert "a PDF document" in refusal(tmp_path / "paper.pdf")
    message = refusal(program)
    assert "an ELF executable or shared library" in message or "Mach-O" in message
    assert "run 'embscope sources'" in message


def test_a_tflite_model_is_named(tmp_path):
    # a FlatBuffer: the root table's offset, the TFL3 identifier, then the tables
    path = tmp_path / "model.tflite"
    path.write_bytes((24).to_bytes(4, "little") + b"TFL3" + bytes(64))
    message = refusal(path)
    assert "a TensorFlow Lite model (TFL3)" in message
    assert "model.save('model.keras')" in message


def test_an_lfs_pointer_and_an_html_page_say_what_went_wrong_with_the_download(tmp_path):
    pointer = tmp_path / "model.safetensors"
    pointer.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db\n"
        "size 90868376\n",
        encoding="utf-8",
    )
    assert "a Git LFS pointer" in refusal(pointer) and "git lfs pull" in refusal(pointer)
    page = tmp_path / "glove.6B.50d.txt"
    page.write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n")
    assert "an HTML page" in refusal(page)


def test_a_checkpoint_json_points_at_its_folder(tmp_path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    message = refusal(tmp_path / "config.json")
    assert f"point at the folder that holds it ({tmp_path})" in message


def test_kind_overrides_the_sniffing(tmp_path):
    path = tmp_path / "paper.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n")
    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path, kind="glove")  # the user insisted: the reader says what is wrong
    assert "PDF" not in str(caught.value)


def test_a_folder_of_onnx_exports_is_an_onnx_source(tmp_path):
    small_onnx(tmp_path / "model.onnx")
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")  # as optimum exports
    assert _guess_kind(tmp_path, str(tmp_path)) == "onnx"
    (tmp_path / "model.safetensors").write_bytes(b"")  # weights beside it: a checkpoint
    assert _guess_kind(tmp_path, str(tmp_path)) == "huggingface"


def test_the_cli_says_what_the_file_is(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "plot.png")
    result = CliRunner().invoke(main, ["info", str(tmp_path / "plot.png")])
    assert result.exit_code == 1
    assert "a PNG image, not a model or vectors file" in result.output
    assert "Traceback" not in result.output


def test_a_file_that_cannot_be_read_is_one_line():
    # the tests run as root, who may open any file: a read that fails is what is left to
    # try (this process's memory file has nothing mapped at offset 0, so reading it fails)
    assert "/proc/self/mem: cannot be read (Input/output error)" in refusal(Path("/proc/self/mem"))


def test_a_name_close_to_a_bundled_one_is_suggested_when_the_hub_has_none(monkeypatch):
    # offline (as here) or online (the hub answers 404), "glove" is not a checkpoint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for typed, meant in (("glove", "glove-6b-50d"), ("minlm", "minilm")):
        with pytest.raises(SourceError) as raised:
            embscope.load(typed)
        assert str(raised.value).endswith(f"or did you mean the bundled {meant}?")
