"""The HDF5 tree under every Keras layout: an ``.h5`` file opened (a legacy whole-model file,
a legacy weights-only file, or a Keras 3 ``.weights.h5``), its model config, and the groups
and datasets where each layout keeps an Embedding's variables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...errors import MalformedFileError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass
class Opened:
    """An open weights tree, the config if the file has one, and how to memory-map from it."""

    path: Path
    root: Any  # h5py.File
    layout: Literal["keras3", "legacy"]
    config: dict[str, Any] | None
    #: byte offset of the HDF5 file inside ``path`` (a stored zip member); None: not mappable
    base_offset: int | None
    #: how many bytes the HDF5 file has (the whole file, or the zip member)
    size: int


class OpenedFile:
    """An ``Opened`` tree as a context manager that closes what opening it opened."""

    def __init__(self, opened: Opened, closers: list[Any]) -> None:
        self.opened = opened
        self._closers = closers

    def __enter__(self) -> Opened:
        return self.opened

    def __exit__(self, *exc: object) -> None:
        for closer in reversed(self._closers):
            closer.close()


def open_hdf5(path: Path, h5py: Any) -> OpenedFile:
    """An HDF5 ``.h5`` file, told apart as a legacy whole-model, legacy weights-only or Keras 3
    weights file."""
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
            config = parse_config(model_config, path)
            if "model_weights" not in root:
                raise MalformedFileError(path, "a model config but no 'model_weights' group")
            opened = Opened(path, root["model_weights"], "legacy", config, 0, size)
        elif "layer_names" in root.attrs:
            opened = Opened(path, root, "legacy", None, 0, size)
        else:
            opened = Opened(path, root, "keras3", None, 0, size)
    except BaseException:
        root.close()
        raise
    return OpenedFile(opened, [root])


def parse_config(raw: Any, path: Path) -> dict[str, Any]:
    """A model config (JSON text or bytes), or one line saying why it is not one."""
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


def keras3_vars_groups(root: Any) -> list[tuple[str, Any]]:
    """(path, group) of every ``layers/…/vars`` group of a Keras 3 weights tree."""
    groups: list[tuple[str, Any]] = []

    def visit(name: str, item: Any) -> None:
        if name.startswith("layers/") and name.endswith("/vars") and hasattr(item, "keys"):
            groups.append((name, item))

    root.visititems(visit)
    return groups


def attr_name(group: Any) -> str | None:
    """The layer name recent Keras versions record on a ``vars`` group, or None."""
    value = group.attrs.get("name")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value if isinstance(value, str) else None


def matrix_shape(group: Any, member: str) -> tuple[int, int] | None:
    """The shape of ``group[member]`` when it is 2-D, else None."""
    item = group.get(member)
    shape = getattr(item, "shape", None)
    return (int(shape[0]), int(shape[1])) if shape is not None and len(shape) == 2 else None


def legacy_embedding_datasets(root: Any) -> list[tuple[str, str, tuple[int, int]]]:
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
