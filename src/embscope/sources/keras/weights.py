"""An Embedding layer's weights, found in the layout's tree, checked (shape, dtype, storage that
lives in this file and within ``max_inflation``), then memory-mapped or read."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import MalformedFileError
from ..vocabulary import (
    check_inflation,
    human_bytes,
)
from .hdf5 import Opened, attr_name, keras3_vars_groups, legacy_embedding_datasets
from .layers import EmbeddingLayer


def read_weights(opened: Opened, layer: EmbeddingLayer, max_inflation: float | None) -> np.ndarray:
    """The layer's matrix, memory-mapped where the file allows, once its size is credible."""
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


def _map_or_read(opened: Opened, dataset: Any, nbytes: int) -> np.ndarray:
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


def _keras3_dataset(opened: Opened, layer: EmbeddingLayer) -> Any:
    groups = keras3_vars_groups(opened.root)
    named = [(p, g) for p, g in groups if attr_name(g) == layer.name]
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


def _legacy_dataset(opened: Opened, layer: EmbeddingLayer) -> Any:
    if opened.config is None and layer.store_path is not None:  # the dataset it was found at
        return opened.root[layer.store_path]
    candidates = [
        path
        for path, _, _ in legacy_embedding_datasets(opened.root)
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
