"""A GGUF file's header: its metadata (the tokenizer's arrays and every scalar) and its tensor
table, every offset and size checked against the file.

The header is parsed here rather than by ``gguf.GGUFReader``: the reader builds a numpy view for
every element of every metadata array, which for SmolLM2's 49,152 tokens and 48,900 merges costs
1.7 s and 190 MB before a single weight is read, and a crafted header of one-byte array elements
makes it spend about a hundred bytes of memory per byte of file. This parser checks every count
and length against the bytes that remain before it reads them and keeps only the tokenizer's
arrays; the ``gguf`` package supplies the type table.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MalformedFileError, SourceError

INPUT_TENSOR = "token_embd.weight"
OUTPUT_TENSOR = "output.weight"

MAGIC = b"GGUF"
VERSIONS = (2, 3)  # version 1 (August 2023) wrote 32-bit lengths; llama.cpp dropped it too
_DEFAULT_ALIGNMENT = 32
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_NESTING = 4  # arrays of arrays: no real file nests them; deeper is refused
_MAX_KEY_BYTES = 65_535  # the format's own limit on a key's length
_KEPT_ARRAY_ITEMS = 256  # arrays outside the tokenizer's are kept only when this short
# the tokenizer's arrays, always kept
TOKENS = "tokenizer.ggml.tokens"
TOKEN_TYPES = "tokenizer.ggml.token_type"
SCORES = "tokenizer.ggml.scores"
MERGES = "tokenizer.ggml.merges"
CHARSMAP = "tokenizer.ggml.precompiled_charsmap"
_WANTED_ARRAYS = frozenset((TOKENS, TOKEN_TYPES, SCORES, MERGES, CHARSMAP))

# GGUF metadata value types (gguf.GGUFValueType): scalars by their little-endian layout
_SCALARS = {
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
    10: "<u8", 11: "<i8", 12: "<f8",
}  # fmt: skip
_STRUCT = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_BOOL, _STRING, _ARRAY = 7, 8, 9


@dataclass(frozen=True)
class GGUFTensor:
    """One entry of a GGUF file's tensor table, checked against the file's size."""

    name: str
    type_id: int
    type_name: str
    dims: tuple[int, ...]  # as GGUF stores them: the fastest-varying (a row's length) first
    offset: int  # from the start of the file
    n_bytes: int  # 0 when the type is unknown to gguf (a newer one)

    @property
    def shape(self) -> tuple[int, ...]:
        """numpy's order: rows first (``token_embd.weight`` is vocabulary x width)."""
        return tuple(reversed(self.dims))

    def describe(self) -> str:
        return f"{self.name} {list(self.shape)} {self.type_name}"


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself: metadata (the tokenizer's arrays and every scalar),
    its tensors, and the facts that identify this version of the file."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, GGUFTensor]
    data_offset: int
    size: int
    mtime_ns: int
    digest: str = field(repr=False)  # of the header's bytes (metadata and tensor table)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)


class _Skipped:
    """An array left unread: its element type and length, for messages and ``info``."""

    def __init__(self, type_id: int, length: int) -> None:
        self.type_id, self.length = type_id, length

    def __repr__(self) -> str:
        return f"<array of {self.length:,} items, not read>"


class _Cursor:
    """Reads the header front to back; every read is checked against what the file has left,
    so a count or length that lies is refused before anything is allocated for it."""

    def __init__(self, buffer: mmap.mmap, size: int, path: Path) -> None:
        self.buffer, self.size, self.path, self.pos = buffer, size, path, 0

    def fail(self, problem: str) -> MalformedFileError:
        return MalformedFileError(self.path, problem)

    def take(self, n: int, what: str) -> int:
        start = self.pos
        if n > self.size - start:
            raise self.fail(
                f"{what} needs {n:,} bytes at byte {start:,} but the file ends at {self.size:,}; "
                "it is truncated or not a GGUF file (download it again)"
            )
        self.pos = start + n
        return start

    def u32(self, what: str) -> int:
        return struct.unpack_from("<I", self.buffer, self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack_from("<Q", self.buffer, self.take(8, what))[0]

    def count(self, n: int, each: int, what: str) -> int:
        """``n`` items of at least ``each`` bytes must fit in the bytes left."""
        left = self.size - self.pos
        if n * each > left:
            raise self.fail(
                f"{what} claims {n:,} entries (at least {n * each:,} bytes) but only {left:,} "
                "bytes follow; the header is corrupt or the file truncated"
            )
        return n

    def string(self, what: str, *, limit: int | None = None) -> str:
        length = self.u64(what)
        if limit is not None and length > limit:
            raise self.fail(
                f"{what} of {length:,} bytes at byte {self.pos - 8:,}; at most "
                f"{limit:,} are allowed"
            )
        start = self.take(length, what)
        data = self.buffer[start : start + length]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8 text; the header is corrupt") from None

    def skip_string(self, what: str) -> None:
        self.take(self.u64(what), what)


def read_gguf_header(path: str | os.PathLike) -> GGUFHeader:
    """The metadata and tensor table of a GGUF file, every offset and size checked against the
    file; nothing of the tensor data is read. A broken or crafted file is a MalformedFileError."""
    path = Path(path)
    try:
        status = path.stat()
        handle = path.open("rb")
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from None
    with handle:
        size = status.st_size
        if size < 24:
            raise MalformedFileError(
                path, f"only {size} bytes: too short for a GGUF header; the file is truncated"
            )
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _parse_header(buffer, path, size, status.st_mtime_ns)


def _parse_header(buffer: mmap.mmap, path: Path, size: int, mtime_ns: int) -> GGUFHeader:
    cursor = _Cursor(buffer, size, path)
    if buffer[:4] != MAGIC:
        raise MalformedFileError(path, f"starts with {bytes(buffer[:4])!r}, not GGUF's magic")
    cursor.pos = 4
    version = cursor.u32("the version")
    if version & 0xFFFF == 0:
        raise MalformedFileError(
            path,
            "a big-endian GGUF file (written for s390x); embscope reads the little-endian "
            "files llama.cpp writes everywhere else",
        )
    if version not in VERSIONS:
        raise MalformedFileError(
            path, f"GGUF version {version}; embscope reads versions 2 and 3 (convert it again)"
        )
    n_tensors = cursor.u64("the tensor count")
    n_values = cursor.u64("the metadata count")
    # each metadata entry takes at least a key length, a type and one byte of value
    cursor.count(n_values, 8 + 4 + 1, "the metadata table")
    metadata: dict[str, Any] = {}
    for _ in range(n_values):
        key = cursor.string("a metadata key", limit=_MAX_KEY_BYTES)
        if key in metadata:
            raise cursor.fail(f"the metadata key {key!r} appears twice")
        value_type = cursor.u32(f"the type of {key}")
        metadata[key] = _value(cursor, value_type, key, depth=0)
    # a tensor entry: name length, dimension count, type and offset, at the least
    cursor.count(n_tensors, 8 + 4 + 4 + 8, "the tensor table")
    raw_tensors = []
    for _ in range(n_tensors):
        name = cursor.string("a tensor name", limit=_MAX_KEY_BYTES)
        n_dims = cursor.u32(f"the dimension count of {name}")
        if n_dims > _MAX_DIMS:
            raise cursor.fail(f"tensor {name!r} has {n_dims:,} dimensions; GGML allows at most 4")
        dims = tuple(cursor.u64(f"the shape of {name}") for _ in range(n_dims))
        type_id = cursor.u32(f"the type of {name}")
        offset = cursor.u64(f"the offset of {name}")
        raw_tensors.append((name, dims, type_id, offset))
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if (
        isinstance(alignment, bool)
        or not isinstance(alignment, int)
        or alignment <= 0
        or alignment & (alignment - 1)
    ):
        raise cursor.fail(f"general.alignment is {alignment!r}, not a power of two")
    data_offset = -(-cursor.pos // alignment) * alignment
    tensors: dict[str, GGUFTensor] = {}
    for name, dims, type_id, offset in raw_tensors:
        if name in tensors:
            raise cursor.fail(f"the tensor {name!r} appears twice")
        tensors[name] = _tensor(cursor, name, dims, type_id, offset, data_offset, alignment)
    digest = hashlib.sha256(buffer[: cursor.pos]).hexdigest()[:16]
    return GGUFHeader(path, version, metadata, tensors, data_offset, size, mtime_ns, digest)


def _value(cursor: _Cursor, value_type: int, key: str, *, depth: int) -> Any:
    # values are copied out of the map (struct, bytes slices), never viewed in place: a view
    # alive in an error's traceback would stop the map from closing
    buffer = cursor.buffer
    if value_type in _SCALARS:
        layout = _STRUCT[value_type]
        (value,) = struct.unpack_from(layout, buffer, cursor.take(struct.calcsize(layout), key))
        return bool(value) if value_type == _BOOL else value
    if value_type == _STRING:
        return cursor.string(key)
    if value_type != _ARRAY:
        raise cursor.fail(f"{key} has the unknown value type {value_type}")
    if depth >= _MAX_NESTING:
        raise cursor.fail(f"{key}: arrays nested more than {_MAX_NESTING} deep")
    item_type = cursor.u32(f"the item type of {key}")
    length = cursor.u64(f"the length of {key}")
    keep = key in _WANTED_ARRAYS or length <= _KEPT_ARRAY_ITEMS
    if item_type in _SCALARS:
        dtype = np.dtype(_SCALARS[item_type])
        cursor.count(length, dtype.itemsize, key)
        start = cursor.take(length * dtype.itemsize, key)
        if not keep or depth:
            return _Skipped(item_type, length)
        values = np.frombuffer(buffer[start : start + length * dtype.itemsize], dtype)
        return values.astype(bool) if item_type == _BOOL else values
    if item_type == _STRING:
        cursor.count(length, 8, key)
        if keep and not depth:
            return [cursor.string(f"{key}[{i}]") for i in range(length)]
        for _ in range(length):
            cursor.skip_string(key)
        return _Skipped(item_type, length)
    if item_type == _ARRAY:
        cursor.count(length, 4 + 8, key)
        for _ in range(length):
            _value(cursor, _ARRAY, key, depth=depth + 1)
        return _Skipped(item_type, length)
    raise cursor.fail(f"{key} is an array of the unknown value type {item_type}")


def _tensor(
    cursor: _Cursor,
    name: str,
    dims: tuple[int, ...],
    type_id: int,
    offset: int,
    data_offset: int,
    alignment: int,
) -> GGUFTensor:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    if offset % alignment:
        raise cursor.fail(
            f"tensor {name!r} starts at offset {offset:,}, not a multiple of the alignment "
            f"({alignment})"
        )
    try:
        quant = GGMLQuantizationType(type_id)
    except ValueError:
        # a type newer than this gguf: its size is unknown, so it can be neither checked nor
        # read; load_gguf refuses it only when it is the tensor asked for
        return GGUFTensor(name, type_id, f"unknown type {type_id}", dims, data_offset + offset, 0)
    block, block_bytes = GGML_QUANT_SIZES[quant]
    elements = math.prod(dims)
    if dims and dims[0] % block:
        raise cursor.fail(
            f"tensor {name!r}: rows of {dims[0]:,} values do not divide into {quant.name}'s "
            f"blocks of {block}"
        )
    n_bytes = elements // block * block_bytes
    end = data_offset + offset + n_bytes
    if end > cursor.size:
        raise cursor.fail(
            f"tensor {name!r} ({list(reversed(dims))} {quant.name}) needs bytes up to {end:,} "
            f"but the file has {cursor.size:,}; it is truncated (download it again) or its "
            "header is corrupt"
        )
    return GGUFTensor(name, type_id, quant.name, dims, data_offset + offset, n_bytes)


def describe_gguf(path: str | os.PathLike) -> Mapping[str, Any]:
    """A few facts from a GGUF header (architecture, name, vocabulary size, embedding tensor),
    for listings; reads nothing past the header."""
    header = read_gguf_header(path)
    embedding = header.tensors.get(INPUT_TENSOR)
    tokens = header.get(TOKENS)
    return {
        "architecture": header.get("general.architecture"),
        "model_name": header.get("general.name"),
        "tokens": len(tokens) if isinstance(tokens, list) else None,
        "embedding": embedding.describe() if embedding else None,
    }
