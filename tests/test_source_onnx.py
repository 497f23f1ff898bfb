"""ONNX models (sources/onnx.py): the bundled MiniLM exported with torch.onnx.export reads back
as the very matrix and keys of its safetensors checkpoint, embedded or with external data, in a
Hugging Face ``onnx/`` folder; graphs built with onnx.helper from MiniLM's real matrix cover
anonymous initializers, float16, bfloat16, typed fields and quantized lookups; crafted models
(external data that leads out of the folder or lies about its size, dims that lie) are refused in
one line."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import embscope
from embscope.errors import MalformedFileError, SourceError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


@pytest.fixture(scope="session")
def minilm_onnx(tmp_path_factory, minilm_dir) -> Path:
    """MiniLM as optimum and sentence-transformers ship it: a repository folder with the
    tokenizer, and the model exported by torch.onnx.export in its onnx/ subfolder."""
    import torch
    from transformers import AutoModel

    repository = tmp_path_factory.mktemp("minilm-onnx")
    for name in (*TOKENIZER_FILES, "config.json"):
        shutil.copy(minilm_dir / name, repository / name)
    (repository / "onnx").mkdir()
    model = AutoModel.from_pretrained(str(minilm_dir)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask)[0]

    ids = torch.tensor([[101, 7592, 102]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's own deprecation notices
        torch.onnx.export(
            LastHiddenState(model),
            (ids, torch.ones_like(ids)),
            str(repository / "onnx" / "model.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
            },
            opset_version=17,
            dynamo=False,
        )
    return repository / "onnx" / "model.onnx"


@pytest.fixture(scope="session")
def minilm_matrix(minilm) -> np.ndarray:
    return np.asarray(minilm.vectors)


def lookup_model(
    path: Path,
    matrix: np.ndarray | TensorProto,
    *,
    name: str = "onnx::Gather_1234",
    cast_ids: bool = False,
    extra: list[TensorProto] = (),
) -> Path:
    """A graph as exporters write the lookup: ``input_ids`` (maybe through a Cast) into a Gather
    on the embedding initializer, beside other 2-D initializers."""
    tensor = matrix if isinstance(matrix, TensorProto) else numpy_helper.from_array(matrix, name)
    nodes = []
    ids = "input_ids"
    if cast_ids:
        nodes.append(helper.make_node("Cast", ["input_ids"], ["ids64"], to=TensorProto.INT64))
        ids = "ids64"
    nodes.append(helper.make_node("Gather", [tensor.name, ids], ["hidden"], name="lookup"))
    graph = helper.make_graph(
        nodes,
        "embedding",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "sequence"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, None)],
        [tensor, *extra],
    )
    onnx.save_model(helper.make_model(graph), str(path))
    return path


def with_tokenizer(folder: Path, minilm_dir: Path) -> Path:
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_dir / name, folder / name)
    return folder


# ---- the real export -------------------------------------------------------------------------


@pytest.mark.slow
def test_the_exported_minilm_is_the_safetensors_minilm(minilm_onnx, minilm, minilm_matrix):
    space = embscope.load(minilm_onnx)

    assert space.keys == minilm.keys and space.labels == minilm.labels
    assert space.vectors.dtype == np.float32
    assert np.array_equal(np.asarray(space.vectors), minilm_matrix)
    assert space.provenance.kind == "onnx"
    options = space.provenance.options
    assert options["initializer"].endswith("embeddings.word_embeddings.weight")
    assert options["found_by"].startswith("the first Gather on input_ids")
    # the tokenizer of the repository, found above its onnx/ folder
    assert options["tokenizer"].startswith("tokenizer.json")
    assert options["tokenizer"].endswith(f" in {minilm_onnx.parents[1]}")
    assert list(space.neighbors("good").key[:5]) == list(minilm.neighbors("good").key[:5])
    assert space.resolve("unbelievable").keys == minilm.resolve("unbelievable").keys


@pytest.mark.slow
def test_the_onnx_folder_and_the_repository_layout_load(minilm_onnx, minilm):
    assert embscope.load(minilm_onnx.parent).keys == minilm.keys  # the onnx/ folder itself


@pytest.mark.slow
def test_external_data_is_memory_mapped_from_beside_the_model(minilm_onnx, minilm_matrix, tmp_path):
    model = onnx.load_model(str(minilm_onnx))
    onnx.save_model(
        model,
        str(tmp_path / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx_data",
        size_threshold=1024,
    )
    assert (tmp_path / "model.onnx").stat().st_size < 1 << 20
    with_tokenizer(tmp_path, minilm_onnx.parents[1])

    space = embscope.load(tmp_path / "model.onnx")

    assert np.array_equal(np.asarray(space.vectors), minilm_matrix)
    assert space.provenance.options["external_data"] == "model.onnx_data"
    base = space.vectors
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)


# ---- graphs built from MiniLM's real matrix --------------------------------------------------


def test_an_anonymous_float16_initializer_is_found_from_the_graph(
    tmp_path, minilm, minilm_matrix, minilm_dir
):
    half = minilm_matrix.astype(np.float16)
    decoy = numpy_helper.from_array(half[:512].copy(), "position_embeddings")
    path = lookup_model(tmp_path / "model.onnx", half, cast_ids=True, extra=[decoy])

    space = embscope.load(path, tokenizer=minilm_dir)

    assert space.vectors.dtype == np.float16 and np.array_equal(space.vectors, half)
    assert space.keys == minilm.keys
    assert space.provenance.options["initializer"] == "onnx::Gather_1234"


def test_a_tokenizer_json_can_be_named(tmp_path, minilm, minilm_matrix, minilm_dir):
    path = lookup_model(tmp_path / "model.onnx", minilm_matrix)
    space = embscope.load(path, tokenizer=minilm_dir / "tokenizer.json")
    assert space.keys == minilm.keys


def test_bfloat16_and_values_in_the_typed_fields_are_read(tmp_path, minilm_matrix):
    rows = minilm_matrix[:1000]
    bits = (rows.view(np.uint32) >> 16).astype(np.uint16)
    bf16 = helper.make_tensor("embedding", TensorProto.BFLOAT16, rows.shape, bits.tobytes(), True)
    space = embscope.load(lookup_model(tmp_path / "bf16.onnx", bf16))
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(np.asarray(space.vectors, dtype=np.float32), widened)

    typed = helper.make_tensor("embedding", TensorProto.FLOAT, rows.shape, rows.ravel().tolist())
    assert not typed.raw_data
    space = embscope.load(lookup_model(tmp_path / "typed.onnx", typed))
    assert np.array_equal(space.vectors, rows)


def test_without_a_tokenizer_the_keys_are_token_ids(tmp_path, minilm_matrix, caplog):
    rows = minilm_matrix[:300]
    with caplog.at_level(logging.WARNING, logger="embscope.sources.onnx"):
        space = embscope.load(lookup_model(tmp_path / "model.onnx", rows))
    assert space.keys[:3] == ["0", "1", "2"] and len(space) == 300
    assert "no tokenizer files beside it" in caplog.text and "tokenizer=" in caplog.text


def test_initializer_names_the_embedding_when_the_graph_does_not(tmp_path, minilm_matrix):
    a, b = minilm_matrix[:200], minilm_matrix[200:400]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "a"], ["x"]),
         helper.make_node("MatMul", ["x", "b"], ["y"])],
        "no lookup",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 200])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, "a"), numpy_helper.from_array(b.T.copy(), "b")],
    )  # fmt: skip
    path = tmp_path / "model.onnx"
    onnx.save_model(helper.make_model(graph), str(path))

    with pytest.raises(SourceError) as caught:
        embscope.load(path)
    message = str(caught.value)
    assert "no Gather looks up the token ids" in message and "pass initializer=" in message
    assert "a [200, 384] FLOAT" in message

    space = embscope.load(path, initializer="a")
    assert np.array_equal(space.vectors, a)


def test_a_quantized_lookup_is_named(tmp_path, minilm_matrix):
    rows = minilm_matrix[:100]
    scale = np.float32(np.abs(rows).max() / 127)
    quantized = np.round(rows / scale).astype(np.int8)
    graph = helper.make_graph(
        [
            helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["embedding"]),
            helper.make_node("Gather", ["embedding", "input_ids"], ["hidden"]),
        ],
        "quantized",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["sequence"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(quantized, "q"),
            numpy_helper.from_array(np.array(scale), "scale"),
            numpy_helper.from_array(np.array(0, dtype=np.int8), "zero"),
        ],
    )
    path = tmp_path / "model_quantized.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    with pytest.raises(SourceError, match=r"quantized embedding .* use the model's unquantized"):
        embscope.load(path)


# ---- crafted and broken models ---------------------------------------------------------------


def external_model(folder: Path, location: str, rows: np.ndarray, **entry: str) -> Path:
    """A model whose embedding lives in an external data file at ``location``."""
    tensor = TensorProto(name="embedding", data_type=TensorProto.FLOAT, dims=rows.shape)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", **entry}.items():
        tensor.external_data.add(key=key, value=value)
    return lookup_model(folder / "model.onnx", tensor)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/hostname", "sub/../../secret.bin"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, minilm_matrix, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(minilm_matrix[:10].tobytes())
    path = external_model(folder, location, minilm_matrix[:10])
    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path)
    assert "is not a file name inside the model's folder; refusing" in str(caught.value)


def test_an_external_data_symlink_out_of_the_folder_is_refused(tmp_path, minilm_matrix):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(minilm_matrix[:10].tobytes())
    os.symlink(tmp_path / "secret.bin", folder / "model.onnx_data")
    path = external_model(folder, "model.onnx_data", minilm_matrix[:10])
    with pytest.raises(SourceError, match="leads outside the model's folder"):
        embscope.load(path)


def test_external_data_that_lies_about_its_size_is_refused(tmp_path, minilm_matrix):
    rows = minilm_matrix[:10]
    (tmp_path / "model.onnx_data").write_bytes(rows.tobytes()[:-4])
    with pytest.raises(MalformedFileError, match="truncated or belongs to another model"):
        embscope.load(external_model(tmp_path, "model.onnx_data", rows))
    (tmp_path / "model.onnx_data").write_bytes(rows.tobytes())
    with pytest.raises(MalformedFileError, match="declares 12 length"):
        embscope.load(external_model(tmp_path, "model.onnx_data", rows, length="12"))
    (tmp_path / "model.onnx_data").unlink()
    with pytest.raises(SourceError, match="which is not beside the model"):
        embscope.load(external_model(tmp_path, "model.onnx_data", rows))


def test_dims_that_promise_more_than_the_data_holds_are_refused(tmp_path):
    tensor = TensorProto(name="embedding", data_type=TensorProto.FLOAT, dims=[10**9, 10**6])
    tensor.raw_data = bytes(4000)
    with pytest.raises(MalformedFileError, match="needs 4,000,000,000,000,000 bytes but its raw"):
        embscope.load(lookup_model(tmp_path / "model.onnx", tensor))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "holds no graph"),
        (b"\x08\x08\x3a\xff\xff\xff\x0f" + bytes(10), "do not parse as one"),
        (b"word 0.1 0.2\n", "do not parse as one"),
    ],
)
def test_a_file_that_is_not_onnx_is_one_line(tmp_path, data, problem):
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not an ONNX model") and problem in message
    assert "\n" not in message


def test_a_truncated_export_is_one_line(tmp_path, minilm_matrix):
    path = lookup_model(tmp_path / "model.onnx", minilm_matrix[:1000])
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(MalformedFileError, match="not an ONNX model"):
        embscope.load(path)


# ---- dependencies ------------------------------------------------------------------------------


def test_onnx_is_imported_only_to_read_a_model_and_its_absence_names_the_extra(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"")
    probe = (
        "import sys\n"
        "import embscope\n"
        "assert 'onnx' not in sys.modules\n"
        "sys.modules['onnx'] = None\n"
        "try:\n"
        f"    embscope.load({str(path)!r})\n"
        "except embscope.MissingDependencyError as error:\n"
        "    print(error)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert "pip install 'embscope[onnx]'" in completed.stdout


def test_a_name_that_is_not_utf8_is_one_line(tmp_path, minilm_matrix):
    path = lookup_model(tmp_path / "model.onnx", minilm_matrix[:10])
    data = path.read_bytes()
    assert data.count(b"input_ids") == 2  # the graph input and the Gather's indices
    path.write_bytes(data.replace(b"input_ids", b"input_\xffds"))
    with pytest.raises(MalformedFileError, match="a name in its graph is not UTF-8 text"):
        embscope.load(path)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, as onnx's writer encodes a message or a string."""
    key, length, encoded = (number << 3) | 2, len(payload), bytearray()
    for value in (key, length):
        while value >= 0x80:
            encoded.append(value & 0x7F | 0x80)
            value >>= 7
        encoded.append(value)
    return bytes(encoded) + payload


@pytest.mark.parametrize(
    "graph",
    [
        field(1, b"") * 1_000_000,  # a million empty nodes: 2 MB that protobuf would make 150 MB
        # one graph input whose shape has a million dimensions
        field(11, field(2, field(1, field(2, field(1, b"") * 1_000_000)))),
    ],
    ids=["empty nodes", "shape dimensions"],
)
def test_a_protobuf_of_many_empty_messages_is_refused_before_parsing(tmp_path, graph):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x08" + field(7, graph))  # ir_version 8, then the graph
    with pytest.raises(MalformedFileError) as caught:
        embscope.load(path)
    assert "more small messages than the protobuf parser could hold in 64.0 MiB" in str(
        caught.value
    )


def test_graphs_nested_past_any_real_model_are_refused(tmp_path):
    graph = field(1, b"")
    for _ in range(70):  # a node whose attribute holds a graph, 70 times over
        graph = field(1, field(5, field(6, graph)))
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x08" + field(7, graph))
    with pytest.raises(MalformedFileError, match="nested more than 64 deep"):
        embscope.load(path)


@pytest.mark.slow
def test_a_repository_folder_with_only_an_onnx_export_loads_it(minilm_onnx, minilm):
    # config.json and the tokenizer at the root, the weights only in onnx/model.onnx
    assert embscope.load(minilm_onnx.parents[1]).keys == minilm.keys
