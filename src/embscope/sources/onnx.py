"""ONNX models: the token-embedding initializer, read with the ``onnx`` package alone.

No runtime runs the graph. The model's protobuf is parsed with ``onnx.load_model(...,
load_external_data=False)`` and the embedding is found from the graph: the first ``Gather``
whose indices come from the token ids (the graph input named ``input_ids``, else its integer
inputs, through ``Cast``/``Reshape``/``Unsqueeze``-like steps) and whose data is a 2-D float
initializer (or ``Constant``), through ``Identity``/``Cast``. Its name does not matter: exporters
call it ``embeddings.word_embeddings.weight`` or an anonymous ``onnx::Gather_123``. When no such
Gather is found, the one 2-D float initializer that some Gather reads and that fits the
tokenizer's size is used; ``initializer=`` names it outright.

Storage: float32 and float16 stay as stored (memory-mapped when the tensor lives in an external
data file, ``model.onnx_data`` beside ``model.onnx``), bfloat16 and float64 are widened to
float32. External data files must be plain file names inside the model's folder (no absolute
path, ``..`` or symlink out of it) and hold the bytes the tensor needs. A model embedded in the
``.onnx`` file is parsed in memory: about twice the file's size while loading, the matrix after.

The tokenizer: ``tokenizer=`` (a folder, a ``tokenizer.json`` or a ``*.tiktoken`` file), else the
tokenizer files beside the model, else (Hugging Face repositories keep their exports in an
``onnx/`` subfolder) those of the folder above ``onnx/``. Without one the keys are row numbers.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import mmap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError, MissingDependencyError, SourceError
from ..space import EmbeddingSpace, Provenance
from .hf_tokenizer import TokenizerVocabulary, read_tokenizer, read_tokenizer_file, token_table
from .huggingface.files import confine_checkpoint
from .huggingface.weights import WeightTensor, float_matrix
from .vocabulary import INFLATION_FLOOR, file_fingerprint, human_bytes

logger = logging.getLogger(__name__)

#: TensorProto data types read as an embedding: (name as in safetensors, numpy storage).
_FLOAT_TYPES = {1: ("F32", "<f4"), 10: ("F16", "<f2"), 11: ("F64", "<f8"), 16: ("BF16", "<u2")}
_INTEGER_INPUTS = {6, 7}  # INT32, INT64
# steps the token ids pass through before the lookup (first input only)
_ID_STEPS = {"Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
# steps between the stored matrix and the Gather that reads it
_DATA_STEPS = {"Cast", "Identity"}
_EXTERNAL = 1  # TensorProto.EXTERNAL
# protobuf cannot hold a message of 2 GiB; larger models keep their weights in external files
_PROTOBUF_LIMIT = 2 << 30


def load_onnx(
    path: str | Path,
    *,
    tokenizer: str | Path | None = None,
    initializer: str | None = None,
    name: str | None = None,
) -> EmbeddingSpace:
    """The token-embedding space of an ONNX model (a ``.onnx`` file, or a folder holding
    ``model.onnx`` or ``onnx/model.onnx``).

    ``tokenizer`` names the tokenizer (a folder, a ``tokenizer.json`` or a ``*.tiktoken``
    file) when it is not beside the model; ``initializer`` names the embedding when the graph
    does not show it. Keys are the raw token strings, labels their readable form, and the
    metadata has ``token_id``, ``special`` and ``kind`` columns, as for a checkpoint.
    """
    given = Path(path).expanduser()
    model_path = _model_file(given)
    onnx = _import_onnx()
    graph = _read_graph(onnx, model_path)
    vocabulary, tokenizer_folder = _tokenizer(tokenizer, model_path.parent)
    tensor, found_by = _find_embedding(
        graph, model_path, initializer, vocabulary.size if vocabulary else None
    )
    stored, external = _stored_matrix(tensor, model_path)
    dtype, tensor_name = _FLOAT_TYPES[tensor.data_type][0], tensor.name
    # the parsed protobuf goes: the matrix was copied out of it or is mapped from its file
    del graph, tensor
    weights = WeightTensor(tensor_name, dtype, stored.shape, model_path, lambda: stored)
    vectors = float_matrix(weights)
    logger.info("%s: the embedding is %s (%s)", model_path, weights.describe(), found_by)
    if vocabulary is None:
        logger.warning(
            "%s: no tokenizer files beside it (tokenizer.json, vocab.txt…); pass tokenizer= "
            "(a folder or a tokenizer.json) for token keys; the keys are the token ids 0..%d",
            model_path,
            vectors.shape[0] - 1,
        )
    table = token_table(vocabulary, vectors.shape[0])
    options: dict[str, Any] = {
        "file": model_path.name,
        "initializer": tensor_name,
        "found_by": found_by,
        "dtype": dtype,
        "external_data": external.name if external is not None else None,
        "tokenizer": (
            f"{vocabulary.description} in {tokenizer_folder}"
            if vocabulary
            else "none: keys are row numbers"
        ),
        "padding_rows": table.padding_rows,
    }
    if vocabulary is not None and vocabulary.notes:
        options["tokenizer_notes"] = list(vocabulary.notes)
    fingerprint = hashlib.sha256(
        "|".join(
            [
                file_fingerprint(model_path, external),
                tensor_name,
                vocabulary.fingerprint if vocabulary else "",
            ]
        ).encode()
    ).hexdigest()[:16]
    return table.space(
        vectors,
        provenance=Provenance(
            source=str(model_path.resolve()), kind="onnx", options=options, fingerprint=fingerprint
        ),
        name=name or str(path),
    )


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "onnx", extra="onnx", purpose="reading ONNX models (no runtime is needed)"
        ) from None
    return onnx


def _model_file(given: Path) -> Path:
    """The ``.onnx`` file a path names: the file itself, or a folder's ``model.onnx`` (or its
    only ``*.onnx``, or the ``onnx/model.onnx`` of a Hugging Face repository)."""
    if given.is_file():
        return given
    if not given.is_dir():
        raise SourceError(f"{given}: no such file or directory")
    if (given / "model.onnx").is_file():
        return given / "model.onnx"
    models = sorted(p for p in given.glob("*.onnx") if p.is_file())
    if not models and (given / "onnx" / "model.onnx").is_file():
        return given / "onnx" / "model.onnx"  # a Hugging Face repository's export
    if len(models) == 1:
        return models[0]
    if not models:
        raise SourceError(f"{given}: no model.onnx (nor any *.onnx file) in this folder")
    shown = ", ".join(p.name for p in models[:8]) + (" …" if len(models) > 8 else "")
    raise SourceError(
        f"{given}: several ONNX models and no model.onnx ({shown}); point at the one to read"
    )


def _read_graph(onnx: Any, path: Path) -> Any:
    size = path.stat().st_size
    if size >= _PROTOBUF_LIMIT:
        raise MalformedFileError(
            path,
            f"{size:,} bytes, more than one protobuf can hold, so not an ONNX model (an ONNX "
            "model this large keeps its weights in external data files beside a small .onnx)",
        )
    _check_structure(path, size)
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as error:  # protobuf's DecodeError, or onnx's own checks on the bytes
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise MalformedFileError(
            path,
            f"not an ONNX model: its bytes do not parse as one ({type(error).__name__}: "
            f"{first_line}); the file is damaged or of another format",
        ) from None
    if not model.HasField("graph") or not model.graph.node:
        raise MalformedFileError(
            path, "not an ONNX model: it parses, but holds no graph; the file is of another format"
        )
    graph = model.graph
    names = itertools.chain(
        (n for node in graph.node for n in (node.name, node.op_type, *node.input, *node.output)),
        (t.name for t in graph.initializer),
        (v.name for v in graph.input),
    )
    # protobuf hands back a string that is not UTF-8 as bytes: a damaged or crafted file
    if not all(isinstance(name, str) for name in names):
        raise MalformedFileError(
            path, "a name in its graph is not UTF-8 text; the file is damaged or crafted"
        )
    return graph


# ---- the protobuf's structure, before it is parsed --------------------------------------------
# onnx.proto's messages, by the field numbers of the messages they hold (a name not listed
# here holds none): enough to reach every message of a model without parsing it.
_ENTRY, _LEAF = "entry", "leaf"  # StringStringEntryProto, OperatorSetIdProto, …: no messages
_SCHEMA: dict[str, dict[int, str]] = {
    "model": {7: "graph", 8: _LEAF, 14: _ENTRY, 20: "training", 25: "function", 26: _LEAF},
    "training": {1: "graph", 2: "graph", 3: _ENTRY, 4: _ENTRY},
    "function": {7: "node", 9: _LEAF, 11: "attribute", 12: "value_info", 14: _ENTRY},
    "graph": {1: "node", 5: "tensor", 11: "value_info", 12: "value_info", 13: "value_info",
              14: "annotation", 15: "sparse", 16: _ENTRY},
    "node": {5: "attribute", 9: _ENTRY},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 14: "type",
                  15: "type", 22: "sparse", 23: "sparse"},
    "tensor": {3: _LEAF, 13: _ENTRY, 16: _ENTRY},
    "sparse": {1: "tensor", 2: "tensor"},
    "value_info": {2: "type", 4: _ENTRY},
    "type": {1: "tensor_type", 4: "sequence", 5: "map", 8: "tensor_type", 9: "sequence"},
    "tensor_type": {2: "shape"},
    "shape": {1: _LEAF},
    "sequence": {1: "type"},
    "map": {2: "type"},
    "annotation": {2: _ENTRY},
    _ENTRY: {},
    _LEAF: {},
}  # fmt: skip
#: What the protobuf parser (and the reader's walk over names) takes in memory for each message
#: or string (measured: 152 bytes for an empty NodeProto), and the most a parse may take: a real
#: model's graph is a few times smaller than its file (names of tens of bytes per node), while a
#: crafted one of empty messages, two bytes each, would take 75 times its size.
_BYTES_PER_PART = 160
_MAX_PARSE_GROWTH = 8
_MAX_DEPTH = 64  # protobuf's own limit is 100


def _check_structure(path: Path, size: int) -> None:
    """Refuse a protobuf whose messages and strings are so many that parsing it would take more
    than ``_MAX_PARSE_GROWTH`` times the file's size in memory (at least ``INFLATION_FLOOR``).
    The walk runs on a memory map, skips every bytes field (weights) in one step, and stops as
    soon as the bound is passed; bytes that do not parse are left to the parser to report."""
    if size == 0:
        return
    limit = max(INFLATION_FLOOR, _MAX_PARSE_GROWTH * size)
    budget = [limit // _BYTES_PER_PART]
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            _walk(data, 0, size, "model", budget, 0)
        except _TooDeep:
            raise MalformedFileError(
                path, f"its messages are nested more than {_MAX_DEPTH} deep; the file is crafted"
            ) from None
        except _TooLarge:
            raise MalformedFileError(
                path,
                f"it holds more small messages than the protobuf parser could hold in "
                f"{human_bytes(limit)} ({_MAX_PARSE_GROWTH} times the file, which a real "
                "model never needs); the file is crafted or damaged",
            ) from None


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    pass


def _walk(
    data: mmap.mmap, position: int, end: int, kind: str, budget: list[int], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        raise _TooDeep
    children = _SCHEMA[kind]
    while position < end:
        key, position = _read_varint(data, position, end)
        if key is None:
            return
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = _read_varint(data, position, end)
            if position is None:
                return
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 2:
            budget[0] -= 1
            if budget[0] < 0:
                raise _TooLarge
            length, position = _read_varint(data, position, end)
            if length is None or position + length > end:
                return
            child = children.get(field)
            if child is not None:
                _walk(data, position, position + length, child, budget, depth + 1)
            position += length
        else:
            return


def _read_varint(data: mmap.mmap, position: int, end: int) -> tuple[int | None, Any]:
    value, shift = 0, 0
    while position < end and shift < 70:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
    return None, None


# ---- which tensor ----------------------------------------------------------------------------
def _find_embedding(
    graph: Any, path: Path, wanted: str | None, vocabulary_size: int | None
) -> tuple[Any, str]:
    """(the embedding's TensorProto, how it was found)."""
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    producers: dict[str, Any] = {}
    for node in graph.node:
        for output in node.output:
            producers[output] = node
        if node.op_type == "Constant" and len(node.output) == 1:
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.HasField("t"):
                    tensors[node.output[0]] = attribute.t

    def stored_tensor(name: str) -> tuple[Any, str] | None:
        """The stored tensor a value is (through Identity/Cast), and its name."""
        for _ in range(16):
            if name in tensors:
                return tensors[name], name
            node = producers.get(name)
            if node is None or node.op_type not in _DATA_STEPS or not node.input:
                return None
            name = node.input[0]
        return None

    if wanted is not None:
        if wanted not in tensors:
            raise SourceError(
                f"{path}: no initializer named {wanted!r}; 2-D initializers: {_listing(tensors)}"
            )
        tensor = tensors[wanted]
        _check_matrix(tensor, wanted, path, "named by initializer=")
        return tensor, "named by initializer="

    ids = _token_id_inputs(graph, tensors)
    reached = set(ids)
    for node in graph.node:
        if node.op_type == "Gather" and len(node.input) >= 2 and node.input[1] in reached:
            found = stored_tensor(node.input[0])
            step = producers.get(node.input[0])
            if found is None and step is not None and step.op_type == "DequantizeLinear":
                raise SourceError(
                    f"{path}: the token ids are looked up in a quantized embedding (a "
                    f"DequantizeLinear of {step.input[0]!r}); embscope reads float embeddings: "
                    "use the model's unquantized export"
                )
            if found is not None:
                tensor, stored_name = found
                how = f"the first Gather on {', '.join(ids)} ({node.name or 'unnamed'})"
                _check_matrix(tensor, stored_name, path, f"read by {how}")
                return tensor, how
        if node.op_type in _ID_STEPS and node.input and node.input[0] in reached:
            reached.update(node.output)

    gathered = {}
    for node in graph.node:
        if node.op_type == "Gather" and node.input:
            found = stored_tensor(node.input[0])
            if found is not None and _is_float_matrix(found[0]):
                gathered[found[1]] = found[0]
    fitting = [
        t for t in gathered.values() if vocabulary_size is None or t.dims[0] == vocabulary_size
    ] or [t for t in gathered.values() if vocabulary_size and t.dims[0] >= vocabulary_size]
    if len(fitting) == 1:
        return fitting[0], "the only 2-D float initializer a Gather reads that fits the tokenizer"
    inputs = ", ".join(ids) or "none"
    raise SourceError(
        f"{path}: no Gather looks up the token ids (integer graph inputs: {inputs}) in a 2-D float "
        f"initializer, and {len(fitting)} gathered initializers fit; 2-D initializers: "
        f"{_listing(tensors)}; pass initializer= to name the embedding"
    )


def _token_id_inputs(graph: Any, tensors: dict[str, Any]) -> list[str]:
    integers = [
        value.name
        for value in graph.input
        if value.name not in tensors and value.type.tensor_type.elem_type in _INTEGER_INPUTS
    ]
    named = [n for n in integers if "input_ids" in n.lower()]
    return named or [n for n in integers if "ids" in n.lower()] or integers


def _is_float_matrix(tensor: Any) -> bool:
    return len(tensor.dims) == 2 and tensor.data_type in _FLOAT_TYPES


def _check_matrix(tensor: Any, name: str, path: Path, how: str) -> None:
    if len(tensor.dims) != 2:
        raise SourceError(
            f"{path}: {name!r} ({how}) has shape {list(tensor.dims)}, not rows x dimensions"
        )
    if tensor.data_type not in _FLOAT_TYPES:
        stored = _type_name(tensor.data_type)
        raise SourceError(
            f"{path}: {name!r} ({how}) is stored as {stored} (a quantized model?); embscope reads "
            "float32, float16, bfloat16 and float64 embeddings: use the model's unquantized export"
        )


def _type_name(data_type: int) -> str:
    import onnx

    try:
        return onnx.TensorProto.DataType.Name(data_type)
    except ValueError:
        return f"data type {data_type}"


def _listing(tensors: dict[str, Any]) -> str:
    shown = [
        f"{name} {list(t.dims)} {_type_name(t.data_type)}"
        for name, t in tensors.items()
        if len(t.dims) == 2
    ]
    if not shown:
        return "none"
    more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
    return ", ".join(shown[:12]) + more


# ---- its values ------------------------------------------------------------------------------
def _stored_matrix(tensor: Any, path: Path) -> tuple[np.ndarray, Path | None]:
    """The tensor's values as stored (BF16 as uint16 bits), and its external data file if it
    has one. Every size is checked against the bytes that hold it before anything is read."""
    rows, cols = (int(n) for n in tensor.dims)
    dtype, storage = _FLOAT_TYPES[tensor.data_type]
    what = f"initializer {tensor.name!r} ({rows:,} x {cols:,} {dtype})"
    if rows <= 0 or cols <= 0:
        raise MalformedFileError(path, f"{what}: an embedding needs rows and dimensions")
    itemsize = np.dtype(storage).itemsize
    nbytes = rows * cols * itemsize
    if tensor.data_location == _EXTERNAL:
        return _external_matrix(tensor, path, what, (rows, cols), storage, nbytes)
    raw = tensor.raw_data
    if raw:
        if len(raw) != nbytes:
            raise MalformedFileError(
                path, f"{what} needs {nbytes:,} bytes but its raw_data holds {len(raw):,}"
            )
        return np.frombuffer(raw, dtype=storage).reshape(rows, cols), None
    # values in the typed fields: float16 and bfloat16 as the low 16 bits of int32_data
    field, field_dtype = {
        "F32": (tensor.float_data, np.float32),
        "F64": (tensor.double_data, np.float64),
        "F16": (tensor.int32_data, np.int32),
        "BF16": (tensor.int32_data, np.int32),
    }[dtype]
    if len(field) != rows * cols:
        raise MalformedFileError(
            path, f"{what} needs {rows * cols:,} values but the file holds {len(field):,}"
        )
    values = np.fromiter(field, dtype=field_dtype, count=rows * cols)
    if dtype in ("F16", "BF16"):
        values = values.astype(np.uint16).view(storage)
    return values.reshape(rows, cols), None


def _external_matrix(
    tensor: Any, path: Path, what: str, shape: tuple[int, int], storage: str, nbytes: int
) -> tuple[np.ndarray, Path]:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    if not all(isinstance(text, str) for item in entries.items() for text in item):
        raise MalformedFileError(
            path, f"{what}: its external data entry is not UTF-8 text; the file is damaged"
        )
    location = entries.get("location", "")
    file = _external_file(path, location, what)
    try:
        offset = int(entries.get("offset") or 0)
        length = int(entries["length"]) if entries.get("length") else None
    except ValueError:
        raise MalformedFileError(
            path, f"{what}: its external data offset or length is not a number"
        ) from None
    if offset < 0 or (length is not None and length != nbytes):
        raise MalformedFileError(
            path,
            f"{what} needs {nbytes:,} bytes but its external data entry declares "
            f"{length if length is not None else 'no'} length at offset {offset:,}",
        )
    size = file.stat().st_size
    if offset + nbytes > size:
        raise MalformedFileError(
            file,
            f"{what} needs bytes up to {offset + nbytes:,} but the file has {size:,}; it is "
            "truncated or belongs to another model: copy it again with the .onnx",
        )
    return np.memmap(file, dtype=storage, mode="r", offset=offset, shape=shape), file


def _external_file(path: Path, location: str, what: str) -> Path:
    """The external data file, which must be a file in the model's folder."""
    relative = Path(location)
    if (
        not location
        or "\0" in location
        or "\\" in location
        or relative.is_absolute()
        or ".." in relative.parts
    ):
        raise MalformedFileError(
            path,
            f"{what}: its external data location {location!r} is not a file name inside the "
            "model's folder; refusing to read it",
        )
    folder = path.parent
    file = folder / relative
    if not file.resolve().is_relative_to(folder.resolve()):
        raise SourceError(
            f"{path}: {what}: its external data file {location!r} leads outside the model's "
            "folder (a symlink); refusing to read it. Copy the real file beside the model"
        )
    if not file.is_file():
        raise SourceError(
            f"{path}: {what} is stored in {location!r}, which is not beside the model; copy "
            "that file into the model's folder"
        )
    return file


# ---- the tokenizer ---------------------------------------------------------------------------
def _tokenizer(
    given: str | Path | None, model_folder: Path
) -> tuple[TokenizerVocabulary | None, Path | None]:
    if given is not None:
        path = Path(given).expanduser()
        if path.is_dir():
            confine_checkpoint(path)
            vocabulary = read_tokenizer(path)
            if vocabulary is None:
                raise SourceError(
                    f"{path}: no tokenizer files (tokenizer.json, vocab.txt, vocab.json + "
                    "merges.txt or *.tiktoken) in this folder"
                )
            return vocabulary, path
        if path.is_file():
            return read_tokenizer_file(path), path.parent
        raise SourceError(f"{path}: no such tokenizer file or folder")
    for folder in _tokenizer_folders(model_folder):
        confine_checkpoint(folder)
        vocabulary = read_tokenizer(folder)
        if vocabulary is not None:
            return vocabulary, folder
    return None, None


def _tokenizer_folders(model_folder: Path) -> Iterable[Path]:
    yield model_folder
    if model_folder.name == "onnx":  # a Hugging Face repository's onnx/ subfolder
        yield model_folder.parent
