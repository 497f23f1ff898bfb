"""The tensors of a checkpoint's weight files, opened but not read: a .safetensors header
parsed here and each tensor memory-mapped in place (F32, F16 and BF16 never copied), or a
``pytorch_model.bin`` loaded with ``torch.load(weights_only=True, mmap=True)``."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MalformedFileError, MissingDependencyError
from ...search.kernels import BFloat16Rows

DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
    "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
# How numpy reads each float dtype as stored; BF16 as its raw 16 bits.
STORAGE_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
_CONVERSION_BLOCK_BYTES = 1 << 24


@dataclass(frozen=True)
class WeightTensor:
    """One tensor of a weight file, not read yet. ``stored()`` gives its values as stored
    (BF16 as uint16 bits) without copying: a memory map, or a view of a mapped torch tensor."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    stored: Callable[[], np.ndarray]

    @property
    def is_float_matrix(self) -> bool:
        return len(self.shape) == 2 and self.dtype in STORAGE_DTYPES

    def describe(self) -> str:
        return f"{self.name} {list(self.shape)} {self.dtype}"


def read_safetensors_header(path: str | Path) -> tuple[dict[str, WeightTensor], str]:
    """The tensors a ``.safetensors`` file holds, and a digest of its header.

    The format: an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the data. Nothing past the header is read here; a
    header or byte range that runs past the end of the file is a MalformedFileError.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise MalformedFileError(
                path, f"only {size} bytes: no safetensors header; the file is truncated"
            )
        (length,) = struct.unpack("<Q", prefix)
        if 8 + length > size:
            raise MalformedFileError(
                path,
                f"the header claims {length:,} bytes but the file has {size:,}; "
                "the file is truncated or not safetensors, download it again",
            )
        header_bytes = handle.read(length)
    data_start = 8 + length
    tensors = {
        name: WeightTensor(
            name, dtype, shape, path, partial(_memory_map, path, data_start + begin, dtype, shape)
        )
        for name, (dtype, shape, begin, _end) in safetensors_entries(
            header_bytes, path, size=size, what="file"
        ).items()
    }
    return tensors, hashlib.sha256(header_bytes).hexdigest()[:16]


def safetensors_entries(
    header_bytes: bytes, where: str | Path, *, size: int, what: str
) -> dict[str, tuple[str, tuple[int, ...], int, int]]:
    """Tensor name -> (dtype, shape, begin, end) from a safetensors header (offsets count
    from the end of the header), every entry checked: a dtype, a shape of non-negative
    sizes, a byte range that fits the shape and lies within the ``size`` bytes of the
    ``what`` ("file", "member") that holds it."""
    try:
        header = json.loads(header_bytes)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise MalformedFileError(
            where, "the header is not valid JSON; not a safetensors file"
        ) from None
    if not isinstance(header, dict):
        raise MalformedFileError(where, "the header is not a JSON object; not a safetensors file")
    data_start = 8 + len(header_bytes)
    entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(entry["dtype"])
            shape = tuple(int(n) for n in entry["shape"])
            begin, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise MalformedFileError(
                where, f"tensor {name!r}: the header entry needs dtype, shape and data_offsets"
            ) from None
        itemsize = DTYPE_SIZES.get(dtype)
        if (
            begin < 0
            or end < begin
            or any(n < 0 for n in shape)
            or (itemsize is not None and end - begin != math.prod(shape) * itemsize)
        ):
            raise MalformedFileError(
                where,
                f"tensor {name!r}: byte range {begin}-{end} does not fit {list(shape)} {dtype}",
            )
        if data_start + end > size:
            raise MalformedFileError(
                where,
                f"tensor {name!r} needs bytes up to {data_start + end:,} but the {what} has "
                f"{size:,}; it is truncated or damaged, download it again",
            )
        entries[name] = (dtype, shape, begin, end)
    return entries


def _memory_map(path: Path, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if math.prod(shape) == 0:  # mmap cannot map zero bytes
        return np.zeros(shape, dtype=STORAGE_DTYPES[dtype])
    return np.memmap(path, dtype=STORAGE_DTYPES[dtype], mode="r", offset=offset, shape=shape)


def read_torch_weights(path: str | Path) -> dict[str, WeightTensor]:
    """The tensors of a ``pytorch_model.bin``, loaded with ``weights_only=True`` (no code from
    the file runs) and memory-mapped where the file's format allows."""
    path = Path(path)
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "torch", extra="torch", purpose=f"reading {path.name} (safetensors files need no torch)"
        ) from None
    try:
        try:
            state = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
        except RuntimeError as error:
            if "zip" not in str(error) and "mmap" not in str(error):
                raise
            # Files saved in torch's legacy (pre-zip) format cannot be memory-mapped.
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise MalformedFileError(
            path, f"torch.load(weights_only=True) failed: {type(error).__name__}: {first_line}"
        ) from None
    if not isinstance(state, Mapping):
        raise MalformedFileError(path, f"expected a state dict; got {type(state).__name__}")
    dtypes = {
        torch.float32: "F32",
        torch.float16: "F16",
        torch.bfloat16: "BF16",
        torch.float64: "F64",
    }
    tensors = {}
    for name, tensor in _flat_tensors(state, torch.Tensor):
        dtype = dtypes.get(tensor.dtype, str(tensor.dtype))
        tensors[name] = WeightTensor(
            name, dtype, tuple(tensor.shape), path, partial(_torch_stored, tensor, dtype)
        )
    return tensors


def _flat_tensors(
    state: Mapping[str, Any], tensor_type: type, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for key, value in state.items():
        if isinstance(value, tensor_type):
            yield f"{prefix}{key}", value
        elif isinstance(value, Mapping):
            yield from _flat_tensors(value, tensor_type, f"{prefix}{key}.")


def _torch_stored(tensor: Any, dtype: str) -> np.ndarray:
    import torch

    if dtype == "BF16":  # numpy has no bfloat16: hand over the raw bits
        return tensor.view(torch.int16).numpy().view("<u2")
    return tensor.numpy()


def float_matrix(tensor: WeightTensor) -> np.ndarray | BFloat16Rows:
    """The tensor as float32, float16 or bfloat16 rows read as float32: F32, F16 and BF16 as
    stored (no copy), F64 narrowed to float32 in blocks so the conversion never holds two full
    copies."""
    stored = tensor.stored()
    if tensor.dtype in ("F32", "F16"):
        return stored
    if tensor.dtype == "BF16" and stored.ndim == 2:
        return BFloat16Rows(stored)
    matrix = np.empty(tensor.shape, dtype=np.float32)
    step = max(1, _CONVERSION_BLOCK_BYTES // max(1, tensor.shape[1] * 4))
    for start in range(0, tensor.shape[0], step):
        block = np.asarray(stored[start : start + step])
        if tensor.dtype == "BF16":  # bfloat16 is the upper half of a float32
            matrix[start : start + step] = (block.astype(np.uint32) << 16).view(np.float32)
        else:
            matrix[start : start + step] = block
    return matrix
