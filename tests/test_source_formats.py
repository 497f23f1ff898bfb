"""The format registry (sources/formats.py) that load(), export() and the sniffer read."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import embscope
from embscope.errors import InvalidParameterError
from embscope.sources import KINDS
from embscope.sources.formats import FORMATS, kind_of_suffix, kind_of_zip_suffix


def _resolve(name: str):
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module, "embscope.sources"), function)


def test_kinds_and_export_formats_keep_their_names_and_order():
    # error messages, `embscope sources` and the CLI's --format list them in this order
    assert KINDS == (
        "bundled", "huggingface", "word2vec", "word2vec-text", "glove", "fasttext", "keras",
        "npy", "npz", "parquet", "csv", "projector", "trained", "gguf", "onnx", "huggingface-zip",
    )  # fmt: skip
    assert list(embscope.EXPORT_FORMATS) == [
        "projector", "npy", "parquet", "word2vec", "word2vec-text",
    ]  # fmt: skip


@pytest.mark.parametrize("format_", FORMATS, ids=lambda f: f.kind)
def test_every_reader_and_writer_names_a_function(format_):
    assert callable(_resolve(format_.reader))
    if format_.writer is not None:
        assert callable(_resolve(format_.writer))
        assert format_.export_description


def test_a_suffix_names_one_kind():
    claimed = [suffix for f in FORMATS for suffix in f.suffixes]
    assert len(claimed) == len(set(claimed))
    for format_ in FORMATS:
        assert set(format_.zip_suffixes) <= set(format_.suffixes)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.safetensors", "huggingface"),
        ("model.keras", "keras"),
        ("weights.h5", "keras"),
        ("vectors.npy", "npy"),
        ("table.pq", "parquet"),
        ("vectors.tsv", "projector"),
        ("vectors.bin", "word2vec"),
        ("vectors.bin.gz", "word2vec"),
        ("cc.en.300.vec.gz", "fasttext"),
        ("vectors.tsv.gz", None),  # gzipped text is word vectors, never a projector file
        ("glove.6B.50d.txt", None),
        ("vectors.NPY", None),
    ],
)
def test_kind_of_suffix(name, kind):
    assert kind_of_suffix(Path(name)) == kind


def test_zip_suffixes():
    assert kind_of_zip_suffix(".npz") == "npz"
    assert kind_of_zip_suffix(".keras") == "keras"
    assert kind_of_zip_suffix(".zip") is None


def test_export_refuses_a_format_it_does_not_write(tmp_path):
    space = embscope.from_array(np.eye(2, dtype=np.float32), ["a", "b"])
    message = "format must be one of projector, npy, parquet, word2vec, word2vec-text; got 'csv'"
    with pytest.raises(InvalidParameterError, match=message):
        embscope.export(space, tmp_path / "out.csv", format="csv")


@pytest.mark.parametrize("format_", [f for f in FORMATS if f.writer], ids=lambda f: f.kind)
def test_what_export_writes_load_reads_back(tmp_path, format_):
    space = embscope.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), ["a", "b", "c"])
    # a folder for the projector files, a file named as its format for the others
    out = tmp_path / {"projector": "out", "npy": "out.npy"}.get(format_.kind, f"out.{format_.kind}")
    embscope.export(space, out, format=format_.kind)

    again = embscope.load(out, kind=format_.kind)

    assert again.keys == ["a", "b", "c"]
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(space.vectors))
