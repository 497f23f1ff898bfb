"""Keras model files: the weights of one Embedding layer, read with h5py alone.

No TensorFlow, no Keras, nothing unpickled. Three layouts, all HDF5 underneath:

- Keras 3 ``.keras``: a zip holding ``config.json`` and ``model.weights.h5``; a layer's
  variables sit at ``layers/<snake_case class>[_<n>]/vars/0`` (nested models add their own
  ``layers/…`` level), and recent Keras versions also record the layer's name on its ``vars``
  group. The same tree, without a config, is a Keras 3 ``.weights.h5``.
- legacy whole-model ``.h5`` (Keras 2, or Keras 3 saving to ``.h5``): the config in the
  ``model_config`` attribute, weights under ``model_weights/<layer>/…/embeddings[:0]``.
- legacy weights-only ``.h5`` (Keras 2 ``save_weights``): the same tree at the root, no config.

The layer is found from the model config (class ``Embedding``): the one named ``layer=``, or the
only one. Without a config, datasets named ``embeddings`` (legacy) or ``layers/embedding*``
groups (Keras 3) are the candidates. Uncompressed weights are memory-mapped, even inside a
``.keras`` zip (Keras stores its members uncompressed).

The vocabulary is a text file with one token per line, row 0 = padding (the empty string) and
row 1 = ``[UNK]``, as ``TextVectorization.get_vocabulary()`` gives them: ``vocabulary=``, or the
one beside the model (``<stem>.vocab.txt``, else the only ``*vocab*.txt`` there, such as the
tutorial's ``embedding-vocabulary.txt``; see ``find_vocabulary``). Row 0, the padding, is left
out as the tutorial's projector export leaves it out (10,000 rows give 9,999 words). Without a
vocabulary the keys are the row numbers. Metadata: ``token_id`` (the row in the layer).

Sizes are checked before anything is read into memory: a zip entry may not declare more than
its compressed bytes can expand to, and the layer's weights may not take more than
``max_inflation`` times the storage the file gives them (an HDF5 dataset can declare any shape
and leave its storage unwritten, to be read as fill values).
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError, MalformedFileError, MissingDependencyError, SourceError
from ..space import EmbeddingSpace, Provenance
from .vocabulary import (
    DEFAULT_MAX_INFLATION,
    check_inflation,
    check_max_inflation,
    check_zip_entry,
    chosen_vocabulary,
    file_fingerprint,
    find_vocabulary,
    human_bytes,
    keys_for_tokens,
    leave_out_padding,
    read_vocabulary,
    row_number_keys,
)

logger = logging.getLogger(__name__)

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
WEIGHTS_MEMBER = "model.weights.h5"
CONFIG_MEMBER = "config.json"
EMBEDDING_CLASSES = frozenset({"Embedding"})

ExtraRows = Literal["error", "drop"]


@dataclass(frozen=True)
class EmbeddingLayer:
    """An Embedding layer as the config (or the file tree) describes it."""

    name: str
    input_dim: int | None = None
    output_dim: int | None = None
    #: where Keras 3 stores its variables, derived from the config; None when not derivable
    store_path: str | None = None

    def describe(self) -> str:
        if self.input_dim is None:
            return repr(self.name)
        return f"{self.name!r} ({self.input_dim:,} x {self.output_dim})"


def load_keras(
    path: str | Path,
    *,
    layer: str | None = None,
    vocabulary: str | Path | None = None,
    extra_rows: ExtraRows = "error",
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
    name: str | None = None,
    vocab: str | Path | None = None,
) -> EmbeddingSpace:
    """The matrix of an Embedding layer of a Keras file, keyed by its vocabulary.

    ``layer`` names the Embedding layer (needed when the model has several). ``vocabulary``
    names the vocabulary file (``vocab`` is its older name); by default the one beside the
    model is used. The vocabulary must name every row: a shorter one is an error, since a file
    that lost lines (or its padding and ``[UNK]`` lines) would shift every key. When
    ``TextVectorization`` found fewer tokens than ``max_tokens``, the rows past the vocabulary
    are never looked up: ``extra_rows="drop"`` leaves them out, and the log warns how many
    and from which row. An empty first token (the padding) leaves row 0 out.

    ``max_inflation`` bounds how many times the bytes the file stores for the weights they may
    take in memory (at least 64 MiB is always allowed); None lifts the bound.
    """
    if extra_rows not in ("error", "drop"):
        raise InvalidParameterError(f"extra_rows must be 'error' or 'drop'; got {extra_rows!r}")
    vocab_path = chosen_vocabulary(vocabulary, vocab)
    max_inflation = check_max_inflation(max_inflation)
    h5py = _import_h5py()
    path = Path(path)
    with _open_keras_file(path, h5py, max_inflation) as opened:
        try:
            found = _layers_in(opened)
            chosen = _choose(found, layer, opened)
            matrix = _read_weights(opened, chosen, max_inflation)
        except (RuntimeError, OSError, KeyError) as error:
            # h5py reports a damaged object tree from inside HDF5 (a visit that meets a
            # missing object, a link to nowhere) as these, deep in its own stack
            raise MalformedFileError(
                path, f"the HDF5 data is damaged ({type(error).__name__}: {error})"
            ) from None
    rows = matrix.shape[0]

    if vocab_path is None:
        vocab_path = find_vocabulary(path)
    options: dict[str, Any] = {"layer": chosen.name, "vocabulary": None}
    token_ids = np.arange(rows, dtype=np.int64)
    if vocab_path is None:
        keys = row_number_keys(
            path,
            rows,
            how_to_name="save TextVectorization.get_vocabulary() one token per line",
            numbers="token ids",
        )
    else:
        tokens = read_vocabulary(vocab_path)
        options["vocabulary"] = str(vocab_path)
        if len(tokens) < rows and extra_rows == "drop":
            logger.warning(
                "%s: the vocabulary names %s of the %s rows of layer %r; left out the %s rows "
                "from row %s on (extra_rows='drop')",
                path,
                f"{len(tokens):,}",
                f"{rows:,}",
                chosen.name,
                f"{rows - len(tokens):,}",
                f"{len(tokens):,}",
            )
            options["extra_rows"] = "drop"
            matrix, rows = matrix[: len(tokens)], len(tokens)
            token_ids = token_ids[:rows]
        if len(tokens) != rows:
            raise MalformedFileError(vocab_path, _size_mismatch(len(tokens), rows, chosen))
        if leave_out_padding(tokens, vocab_path):
            matrix, tokens, token_ids = matrix[1:], tokens[1:], token_ids[1:]
            options["padding_row"] = "left out"
        keys, empty_key = keys_for_tokens(tokens)
        if empty_key is not None:
            options["empty_token_key"] = empty_key
            logger.info("%s: the empty token has the key %r", vocab_path, empty_key)
    return EmbeddingSpace(
        matrix,
        keys,
        metadata=pd.DataFrame({"token_id": token_ids}),
        provenance=Provenance(
            source=str(path),
            kind="keras",
            options=options,
            fingerprint=file_fingerprint(path, vocab_path),
        ),
        name=name or f"{path.name}:{chosen.name}",
    )


def _size_mismatch(tokens: int, rows: int, layer: EmbeddingLayer) -> str:
    advice = (
        "TextVectorization.get_vocabulary() starts with the padding token (an empty line) and "
        "'[UNK]'; if this file leaves them out, add them back as its first two lines. If the "
        "Embedding's input_dim is larger than the vocabulary (fewer tokens than max_tokens), "
        "pass extra_rows='drop' to keep only the rows the vocabulary names"
        if tokens < rows
        else "the vocabulary is longer than the matrix: is it the vocabulary of this model?"
    )
    return (
        f"{tokens:,} tokens for the {rows:,} rows of layer {layer.name!r}; "
        f"they must match one to one. {advice}"
    )


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError(
            "h5py", extra="keras", purpose="reading Keras .keras / .h5 files"
        ) from None
    return h5py


# ---- opening the three layouts -----------------------------------------------------------


@dataclass
class _Opened:
    """An open weights tree, the config if the file has one, and how to memory-map from it."""

    path: Path
    root: Any  # h5py.File
    layout: Literal["keras3", "legacy"]
    config: dict[str, Any] | None
    #: byte offset of the HDF5 file inside ``path`` (a stored zip member); None: not mappable
    base_offset: int | None
    #: how many bytes the HDF5 file has (the whole file, or the zip member)
    size: int


class _OpenedFile:
    def __init__(self, opened: _Opened, closers: list[Any]) -> None:
        self.opened = opened
        self._closers = closers

    def __enter__(self) -> _Opened:
        return self.opened

    def __exit__(self, *exc: object) -> None:
        for closer in reversed(self._closers):
            closer.close()


def _open_keras_file(path: Path, h5py: Any, max_inflation: float | None) -> _OpenedFile:
    try:
        with path.open("rb") as handle:
            start = handle.read(8)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(
            f"{path}: a directory (a TensorFlow SavedModel?); embscope reads .keras and .h5 "
            "files: re-save the model with model.save('model.keras')"
        ) from None
    if start.startswith(ZIP_MAGIC):
        return _open_zip(path, h5py, max_inflation)
    if start != HDF5_MAGIC:
        raise MalformedFileError(
            path, "not a Keras file: neither a .keras zip archive nor an HDF5 .h5 file"
        )
    try:
        root = h5py.File(path, "r")
    except OSError as error:
        raise MalformedFileError(path, f"unreadable HDF5 file ({error})") from None
    size = path.stat().st_size
    try:
        try:
            model_config = root.attrs.get("model_config")
        except (OSError, TypeError, ValueError) as error:
            raise MalformedFileError(path, f"unreadable model config ({error})") from None
        if model_config is not None:
            config = _parse_config(model_config, path)
            if "model_weights" not in root:
                raise MalformedFileError(path, "a model config but no 'model_weights' group")
            opened = _Opened(path, root["model_weights"], "legacy", config, 0, size)
        elif "layer_names" in root.attrs:
            opened = _Opened(path, root, "legacy", None, 0, size)
        else:
            opened = _Opened(path, root, "keras3", None, 0, size)
    except BaseException:
        root.close()
        raise
    return _OpenedFile(opened, [root])


def _open_zip(path: Path, h5py: Any, max_inflation: float | None) -> _OpenedFile:
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, NotImplementedError, OSError) as error:
        raise MalformedFileError(path, f"not a readable .keras archive ({error})") from None
    closers: list[Any] = [archive]
    try:
        if WEIGHTS_MEMBER not in names:
            raise MalformedFileError(
                path,
                f"no {WEIGHTS_MEMBER} in the archive (it holds {', '.join(names) or 'nothing'}); "
                "sharded or npz weights are not supported: re-save the model with model.save()",
            )
        config = None
        if CONFIG_MEMBER in names:
            config = _parse_config(_read_entry(archive, CONFIG_MEMBER, path, max_inflation), path)
        info = archive.getinfo(WEIGHTS_MEMBER)
        check_zip_entry(path, info, WEIGHTS_MEMBER)
        if info.compress_type == zipfile.ZIP_STORED:
            offset = _stored_member_offset(path, info)
            if offset + info.file_size > path.stat().st_size:
                raise MalformedFileError(
                    path, f"{WEIGHTS_MEMBER} runs past the end of the archive; it is truncated"
                )
            raw = path.open("rb")
            closers.append(raw)
            handle: Any = _Window(raw, offset, info.file_size)
            base_offset: int | None = offset
        else:
            # a compressed member cannot be read in place: it is read into memory
            handle = io.BytesIO(_read_entry(archive, WEIGHTS_MEMBER, path, max_inflation))
            base_offset = None
        try:
            root = h5py.File(handle, "r")
        except OSError as error:
            raise MalformedFileError(path, f"{WEIGHTS_MEMBER} is unreadable ({error})") from None
    except BaseException:
        for closer in reversed(closers):
            closer.close()
        raise
    closers.append(root)
    return _OpenedFile(_Opened(path, root, "keras3", config, base_offset, info.file_size), closers)


def _read_entry(
    archive: zipfile.ZipFile, member: str, path: Path, max_inflation: float | None
) -> bytes:
    """A zip entry's bytes, once its declared size is credible and within the bound."""
    info = archive.getinfo(member)
    check_zip_entry(path, info, member)
    check_inflation(
        path,
        member,
        declared=info.file_size,
        stored=info.compress_size,
        max_inflation=max_inflation,
    )
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error) as error:
        raise MalformedFileError(path, f"{member} is damaged ({error})") from None


def _stored_member_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start: after its local header, whose extra field may differ
    from the central directory's."""
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise MalformedFileError(path, f"damaged zip entry for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of a file from ``offset``, for h5py to open."""

    def __init__(self, raw: Any, offset: int, size: int) -> None:
        self._raw, self._offset, self._size, self._position = raw, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + position)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), max(0, self._size - self._position))
        if wanted == 0:
            return 0
        self._raw.seek(self._offset + self._position)
        read = self._raw.readinto(memoryview(buffer)[:wanted])
        self._position += read
        return read


def _parse_config(raw: Any, path: Path) -> dict[str, Any]:
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        config = json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, "the model config is JSON nested too deeply") from None
    except (ValueError, TypeError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedFileError(path, f"the model config is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise MalformedFileError(path, "the model config is not a JSON object")
    return config


# ---- finding the Embedding layers -----------------------------------------------------------


def _snake_case(class_name: str) -> str:
    # keras.src.utils.naming.to_snake_case, which names the groups of a Keras 3 weights file
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def embedding_layers(config: dict[str, Any]) -> list[EmbeddingLayer]:
    """Every Embedding layer of a model config, nested models included, in config order."""
    found: list[EmbeddingLayer] = []

    def visit(model: dict[str, Any], prefix: str) -> None:
        inner = model.get("config")
        layers = inner.get("layers") if isinstance(inner, dict) else inner
        if not isinstance(layers, list):
            return
        used: dict[str, int] = {}
        for entry in layers:
            if not isinstance(entry, dict):
                continue
            class_name = str(entry.get("class_name", ""))
            settings = entry.get("config") if isinstance(entry.get("config"), dict) else {}
            # Sequential.layers leaves out the InputLayer, and so does the weights file
            if model.get("class_name") == "Sequential" and class_name == "InputLayer":
                continue
            group = _snake_case(class_name)
            if group in used:
                used[group] += 1
                group = f"{group}_{used[group]}"
            else:
                used[group] = 0
            path = f"{prefix}layers/{group}"
            if class_name in EMBEDDING_CLASSES:
                found.append(
                    EmbeddingLayer(
                        name=str(settings.get("name") or entry.get("name") or group),
                        input_dim=_int_or_none(settings.get("input_dim")),
                        output_dim=_int_or_none(settings.get("output_dim")),
                        store_path=f"{path}/vars",
                    )
                )
            visit(entry, f"{path}/")

    visit(config, "")
    return found


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _layers_in(opened: _Opened) -> list[EmbeddingLayer]:
    if opened.config is not None:
        return embedding_layers(opened.config)
    if opened.layout == "keras3":
        found = []
        for group_path, group in _keras3_vars_groups(opened.root):
            owner = group_path.rsplit("/", 2)[-2]
            shape = _matrix_shape(group, "0")
            if re.fullmatch(r"embedding(_\d+)?", owner) and shape is not None:
                found.append(
                    EmbeddingLayer(_attr_name(group) or owner, *shape, store_path=group_path)
                )
        return found
    return [
        EmbeddingLayer(layer_name, *shape, store_path=dataset_path)
        for dataset_path, layer_name, shape in _legacy_embedding_datasets(opened.root)
    ]


def _choose(found: list[EmbeddingLayer], layer: str | None, opened: _Opened) -> EmbeddingLayer:
    listing = ", ".join(f.describe() for f in found)
    if layer is not None:
        for candidate in found:
            if candidate.name == layer:
                return candidate
        other = _class_of(opened.config, layer) if opened.config else None
        if other is not None:
            raise InvalidParameterError(
                f"layer {layer!r} of {opened.path.name} is a {other} layer, not an Embedding; "
                f"Embedding layers: {listing or 'none'}"
            )
        raise InvalidParameterError(
            f"no Embedding layer named {layer!r} in {opened.path.name}; "
            f"Embedding layers: {listing or 'none'}"
        )
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(
            f"{opened.path}: no Embedding layer in this model"
            + ("" if opened.config else " (and no model config to say which layers it has)")
        )
    raise InvalidParameterError(
        f"{opened.path.name} has {len(found)} Embedding layers: {listing}; pass layer= "
        "(CLI: --layer) to pick one"
    )


def _class_of(config: dict[str, Any], layer: str) -> str | None:
    for entry in _walk_layer_entries(config):
        settings = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        if layer in (settings.get("name"), entry.get("name")):
            return str(entry.get("class_name"))
    return None


def _walk_layer_entries(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    inner = model.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    if isinstance(layers, list):
        for entry in layers:
            if isinstance(entry, dict):
                yield entry
                yield from _walk_layer_entries(entry)


# ---- reading the weights -----------------------------------------------------------------------


def _read_weights(
    opened: _Opened, layer: EmbeddingLayer, max_inflation: float | None
) -> np.ndarray:
    if opened.layout == "keras3":
        dataset = _keras3_dataset(opened, layer)
    else:
        dataset = _legacy_dataset(opened, layer)
    shape = tuple(int(n) for n in dataset.shape)
    expected = (layer.input_dim, layer.output_dim)
    if None not in expected and shape != expected:
        raise MalformedFileError(
            opened.path,
            f"the weights of layer {layer.name!r} have shape {shape}, but the "
            f"config says input_dim={layer.input_dim}, output_dim={layer.output_dim}",
        )
    if len(shape) != 2:
        raise MalformedFileError(
            opened.path, f"the weights of layer {layer.name!r} have shape {shape}, not 2-D"
        )
    if dataset.dtype.kind != "f":
        raise MalformedFileError(
            opened.path,
            f"the weights of layer {layer.name!r} are {dataset.dtype}, not floating point "
            "(a quantized layer?); only float embeddings are supported",
        )
    if dataset.external or dataset.is_virtual:
        # HDF5 lets a dataset's bytes live in other files, named by this one: never followed
        raise MalformedFileError(
            opened.path,
            f"the weights of layer {layer.name!r} are stored in other files that this one "
            "names (an HDF5 external or virtual dataset); re-save the model with model.save()",
        )
    declared = math.prod(shape) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if stored > opened.size:
        raise MalformedFileError(
            opened.path,
            f"the weights of layer {layer.name!r} claim {human_bytes(stored)} of storage in "
            f"{human_bytes(opened.size)} of HDF5 data; the file is truncated or crafted",
        )
    check_inflation(
        opened.path,
        f"the weights of layer {layer.name!r} ({shape[0]:,} x {shape[1]:,} {dataset.dtype})",
        declared=declared,
        stored=stored,
        max_inflation=max_inflation,
    )
    try:
        return _map_or_read(opened, dataset, declared)
    except (OSError, ValueError) as error:
        raise MalformedFileError(
            opened.path, f"the weights of layer {layer.name!r} are unreadable ({error})"
        ) from None


def _map_or_read(opened: _Opened, dataset: Any, nbytes: int) -> np.ndarray:
    """Memory-map a contiguous, uncompressed dataset; read anything else into memory."""
    offset = dataset.id.get_offset() if dataset.chunks is None else None
    if offset is not None and offset + nbytes > opened.size:
        raise MalformedFileError(
            opened.path,
            f"the weights run past the end of the HDF5 data (bytes {offset:,} to "
            f"{offset + nbytes:,} of {opened.size:,}); the file is truncated",
        )
    if offset is None or opened.base_offset is None or dataset.compression is not None:
        return dataset[()]
    return np.memmap(
        opened.path,
        dtype=dataset.dtype,
        mode="r",
        offset=opened.base_offset + offset,
        shape=tuple(dataset.shape),
    )


def _keras3_vars_groups(root: Any) -> list[tuple[str, Any]]:
    groups: list[tuple[str, Any]] = []

    def visit(name: str, item: Any) -> None:
        if name.startswith("layers/") and name.endswith("/vars") and hasattr(item, "keys"):
            groups.append((name, item))

    root.visititems(visit)
    return groups


def _attr_name(group: Any) -> str | None:
    value = group.attrs.get("name")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value if isinstance(value, str) else None


def _matrix_shape(group: Any, member: str) -> tuple[int, int] | None:
    item = group.get(member)
    shape = getattr(item, "shape", None)
    return (int(shape[0]), int(shape[1])) if shape is not None and len(shape) == 2 else None


def _keras3_dataset(opened: _Opened, layer: EmbeddingLayer) -> Any:
    groups = _keras3_vars_groups(opened.root)
    named = [(p, g) for p, g in groups if _attr_name(g) == layer.name]
    if len(named) > 1:
        named = [(p, g) for p, g in named if p == layer.store_path] or named[:0]
    if len(named) == 1:
        group = named[0][1]
    elif layer.store_path is not None and layer.store_path in opened.root:
        # files from Keras versions that did not record names: the path the config implies
        group = opened.root[layer.store_path]
    else:
        raise MalformedFileError(
            opened.path,
            f"cannot find the weights of layer {layer.name!r} (looked for a 'vars' group named "
            f"after it and for {layer.store_path or 'its config path'})",
        )
    if "0" not in group:
        raise MalformedFileError(opened.path, f"layer {layer.name!r} has no saved weights")
    return group["0"]


def _legacy_embedding_datasets(root: Any) -> list[tuple[str, str, tuple[int, int]]]:
    """(dataset path, layer name, shape) of every ``…/<layer>/embeddings[:0]`` dataset."""
    found: list[tuple[str, str, tuple[int, int]]] = []

    def visit(name: str, item: Any) -> None:
        parts = name.split("/")
        shape = getattr(item, "shape", None)
        if (
            len(parts) >= 2
            and parts[-1].split(":")[0] == "embeddings"
            and shape is not None
            and len(shape) == 2
        ):
            found.append((name, parts[-2], (int(shape[0]), int(shape[1]))))

    root.visititems(visit)
    return found


def _legacy_dataset(opened: _Opened, layer: EmbeddingLayer) -> Any:
    if opened.config is None and layer.store_path is not None:  # the dataset it was found at
        return opened.root[layer.store_path]
    candidates = [
        path
        for path, _, _ in _legacy_embedding_datasets(opened.root)
        if layer.name in path.split("/")[:-1]
    ]
    if len(candidates) > 1 and layer.input_dim is not None:
        candidates = [
            c
            for c in candidates
            if tuple(opened.root[c].shape) == (layer.input_dim, layer.output_dim)
        ]
    if len(candidates) != 1:
        raise MalformedFileError(
            opened.path,
            f"cannot find the weights of layer {layer.name!r}: expected one dataset "
            f"'{layer.name}/…/embeddings', found {len(candidates)}",
        )
    return opened.root[candidates[0]]


__all__ = ["EmbeddingLayer", "embedding_layers", "load_keras"]
