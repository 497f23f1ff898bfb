"""The matrix of a GGUF tensor. ``token_embd.weight`` is the input matrix and ``output.weight``
the head, which a converter writes only when it is untied (without it, llama.cpp uses
``token_embd`` as the head).

F32 and F16 matrices are memory-mapped in place. Every other type (BF16, Q8_0, Q4_0, K-quants,
IQ…) is dequantized once, in blocks of rows, by llama.cpp's own ``gguf.quants.dequantize`` into a
``.npy`` file in the cache (``<cache root>/gguf``), written atomically and memory-mapped from
then on; its name hashes the file's header, size and modification time, so a changed file is
read again. Quantized types are cached as float16 (its rounding, at most 2**-11 of a value, is
far below the quantization step itself, and it halves the cache), BF16 and F64 as float32
(BF16's range and F64's precision do not fit float16).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..._io.atomic import atomic_path
from ..._io.cache import BrokenEntry, cache_root, read_entry
from ..._io.progress import Progress, progress_bar
from ...errors import MalformedFileError, SourceError
from .header import GGUFHeader, GGUFTensor

logger = logging.getLogger(__name__)

_BLOCK_BYTES = 16 << 20  # float32 bytes dequantized at a time
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_CACHE_FORMAT = "gguf-matrix-1"  # part of every cache name: change it when the entries change
# how the matrix is held, in the provenance (no path: the digest must not depend on the cache)
_CACHED = "mapped from the cache (dequantized once)"


def matrix_tensor(header: GGUFHeader, tensor_name: str) -> GGUFTensor:
    """The tensor named ``tensor_name``, once it is there, of a type gguf knows, and a matrix of
    tokens x dimensions; otherwise one line saying which of these it is not."""
    tensor = header.tensors.get(tensor_name)
    if tensor is None:
        seen = [t.describe() for t in header.tensors.values() if len(t.dims) == 2]
        shown = ", ".join(seen[:12]) + (f" and {len(seen) - 12} more" if len(seen) > 12 else "")
        what = (
            "no tensors at all (a vocabulary-only file?)"
            if not header.tensors
            else f"2-D tensors: {shown or 'none'}"
        )
        raise SourceError(
            f"{header.path}: no {tensor_name} tensor, so no token embedding to read; it has "
            f"{what}. A LoRA adapter or a vision projector (mmproj) has none: point at the model"
        )
    if tensor.n_bytes == 0 and tensor.type_name.startswith("unknown"):
        raise MalformedFileError(
            header.path,
            f"{tensor_name} has {tensor.type_name}, which gguf does not know; if the file is "
            "from a newer llama.cpp, pip install -U gguf",
        )
    if len(tensor.dims) < 2 or any(d != 1 for d in tensor.dims[2:]) or 0 in tensor.dims[:2]:
        raise MalformedFileError(
            header.path, f"{tensor.describe()} is not a matrix of tokens x dimensions"
        )
    return tensor


def matrix_identity(header: GGUFHeader, tensor: GGUFTensor) -> str:
    """What names a dequantized matrix in the cache: the header's bytes (tokenizer and tensor
    table), the file's size and modification time, and the tensor."""
    parts = [
        _CACHE_FORMAT,
        header.digest,
        str(header.size),
        str(header.mtime_ns),
        tensor.name,
        tensor.type_name,
        str(tensor.offset),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def read_matrix(
    header: GGUFHeader, tensor: GGUFTensor, *, progress: Progress
) -> tuple[np.ndarray, str]:
    """(rows x width matrix, how it is held): F32 and F16 mapped in place, the rest from the
    cache, dequantized into it first when absent."""
    rows, width = tensor.dims[1], tensor.dims[0]
    if tensor.type_name in ("F32", "F16"):
        dtype = "<f4" if tensor.type_name == "F32" else "<f2"
        mapped = np.memmap(
            header.path, dtype=dtype, mode="r", offset=tensor.offset, shape=(rows, width)
        )
        return mapped, "mapped from the file"
    if tensor.type_name in ("I8", "I16", "I32", "I64"):
        raise SourceError(
            f"{header.path}: {tensor.describe()} holds integers, not an embedding matrix"
        )
    target = cache_root() / "gguf" / f"{matrix_identity(header, tensor)}.npy"

    def read(entry: Path) -> np.ndarray:
        array = np.load(entry, mmap_mode="r", allow_pickle=False)
        if array.shape != (rows, width) or array.dtype not in (np.float16, np.float32):
            raise BrokenEntry(f"a {array.dtype} array of shape {array.shape}")
        return array

    # quantized values are float16 multiples of small integers: float16 keeps them to 2**-11,
    # far inside the quantization step; BF16 and F64 need float32's range and precision
    dtype = np.float32 if tensor.type_name in ("BF16", "F64") else np.float16
    try:
        found = read_entry(target, read, what="GGUF matrix cache entry")
        if found is not None:
            return found, _CACHED
        try:
            _dequantize_to_file(header, tensor, target, dtype, progress)
        except _Float16Overflow:
            logger.info("%s: values beyond float16's range; caching float32", tensor.name)
            _dequantize_to_file(header, tensor, target, np.float32, progress)
        logger.info("%s: %s dequantized into %s", header.path, tensor.name, target)
        return np.load(target, mmap_mode="r", allow_pickle=False), _CACHED
    except OSError as error:
        # a read-only or full disk, a cache root that is a file: the space still loads
        logger.warning(
            "could not write the GGUF cache under %s (%s); the matrix is held in memory",
            target.parent,
            error.strerror or error,
        )
    matrix = np.empty((rows, width), dtype=np.float32)
    _dequantize_into(header, tensor, matrix, progress, check_float16=False)
    return matrix, "in memory (the cache could not be written)"


class _Float16Overflow(Exception):
    """A dequantized value too large for float16: the cache is written as float32 instead."""


def _dequantize_to_file(
    header: GGUFHeader, tensor: GGUFTensor, target: Path, dtype: Any, progress: Progress
) -> None:
    rows, width = tensor.dims[1], tensor.dims[0]
    with atomic_path(target) as temporary:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=dtype, shape=(rows, width))
        try:
            _dequantize_into(header, tensor, out, progress, check_float16=dtype == np.float16)
            out.flush()
        finally:
            del out  # the map must close before the file is renamed (Windows)


def _dequantize_into(
    header: GGUFHeader,
    tensor: GGUFTensor,
    out: np.ndarray,
    progress: Progress,
    *,
    check_float16: bool,
) -> None:
    import gguf

    quant = gguf.GGMLQuantizationType(tensor.type_id)
    rows, width = tensor.dims[1], tensor.dims[0]
    row_bytes = tensor.n_bytes // rows
    stored = np.memmap(
        header.path, dtype=np.uint8, mode="r", offset=tensor.offset, shape=(rows, row_bytes)
    )
    step = max(1, _BLOCK_BYTES // (width * 4))
    described = f"dequantizing {tensor.name} ({tensor.type_name}, {rows:,} x {width:,})"
    with progress_bar(rows, described, enabled=progress) as advance:
        for start in range(0, rows, step):
            raw = np.asarray(stored[start : start + step])
            block = _dequantize_block(header.path, tensor, raw, quant)
            if check_float16:
                with np.errstate(invalid="ignore"):
                    if (np.abs(block) > _FLOAT16_MAX).any():
                        raise _Float16Overflow
            out[start : start + step] = block
            advance(len(raw))


def _dequantize_block(path: Path, tensor: GGUFTensor, raw: np.ndarray, quant: Any) -> np.ndarray:
    import gguf

    if tensor.type_name == "F64":  # gguf has no dequantizer for it
        return raw.view("<f8").astype(np.float32)
    try:
        return gguf.quants.dequantize(raw, quant).reshape(len(raw), tensor.dims[0])
    except NotImplementedError:
        raise SourceError(
            f"{path}: {tensor.name} is stored as {tensor.type_name}, which the installed gguf "
            "cannot dequantize; pip install -U gguf"
        ) from None
    except (ValueError, IndexError) as error:
        raise MalformedFileError(
            path, f"{tensor.name} ({tensor.type_name}) could not be dequantized: {error}"
        ) from None
