"""GGUF files (llama.cpp, Ollama's blobs, LM Studio's folder): the token-embedding matrix and the
tokenizer that the file's own metadata describes.

The header (metadata and tensor table) is parsed here rather than by ``gguf.GGUFReader``: the
reader builds a numpy view for every element of every metadata array, which for SmolLM2's
49,152 tokens and 48,900 merges costs 1.7 s and 190 MB before a single weight is read, and a
crafted header of one-byte array elements makes it spend about a hundred bytes of memory per
byte of file. This parser checks every count and length against the bytes that remain before
it reads them, keeps only the tokenizer's arrays, and hands the tensor data to llama.cpp's own
``gguf.quants.dequantize``; the ``gguf`` package also supplies the type table.

``token_embd.weight`` is the input matrix and ``output.weight`` the head, which a converter
writes only when it is untied (without it, llama.cpp uses ``token_embd`` as the head). F32 and
F16 matrices are memory-mapped in place. Every other type (BF16, Q8_0, Q4_0, K-quants, IQ…) is
dequantized once, in blocks of rows, into a ``.npy`` file in the cache (``<cache root>/gguf``),
written atomically and memory-mapped from then on; its name hashes the file's header, size and
modification time, so a changed file is read again. Quantized types are cached as float16 (its
rounding, at most 2**-11 of a value, is far below the quantization step itself, and it halves
the cache), BF16 and F64 as float32 (BF16's range and F64's precision do not fit float16).
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io.atomic import atomic_path
from .._io.cache import BrokenEntry, cache_root, read_entry
from .._io.progress import Progress, progress_bar
from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..space import EmbeddingSpace, Provenance
from .hf_tokenizer import TokenizerVocabulary, token_table

logger = logging.getLogger(__name__)

#: Values of ``matrix=``: the input embedding, or the output (unembedding) matrix.
MATRICES = ("input", "output")

#: ``tokenizer.ggml.model`` values whose words can be split into the model's pieces here; other
#: models (``rwkv``, ``plamo2``…) still get keys, labels and kinds from their tokens.
TOKENIZER_MODELS = ("gpt2", "llama", "t5", "bert")

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
_TOKENS = "tokenizer.ggml.tokens"
_TOKEN_TYPES = "tokenizer.ggml.token_type"
_SCORES = "tokenizer.ggml.scores"
_MERGES = "tokenizer.ggml.merges"
_CHARSMAP = "tokenizer.ggml.precompiled_charsmap"
_WANTED_ARRAYS = frozenset((_TOKENS, _TOKEN_TYPES, _SCORES, _MERGES, _CHARSMAP))
_SPECIAL_ID_KEYS = tuple(
    f"tokenizer.ggml.{name}_token_id"
    for name in (
        "bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
        "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep", "prefix", "suffix",
        "middle",
    )
)  # fmt: skip

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

# llama.cpp's token types (gguf.TokenType)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6

_BLOCK_BYTES = 16 << 20  # float32 bytes dequantized at a time
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_CACHE_FORMAT = "gguf-matrix-1"  # part of every cache name: change it when the entries change
# how the matrix is held, in the provenance (no path: the digest must not depend on the cache)
_CACHED = "mapped from the cache (dequantized once)"


# ---- the header ------------------------------------------------------------------------------
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


# ---- the space -------------------------------------------------------------------------------
def load_gguf(
    path: str | os.PathLike,
    *,
    name: str | None = None,
    matrix: str = "input",
    progress: Progress = True,
) -> EmbeddingSpace:
    """The token-embedding space of a GGUF file.

    ``matrix="output"`` gives the head (``output.weight``) where the file stores one, and the
    input matrix where it does not (tied). Keys are the raw token strings (``Ġking``,
    ``▁king``), labels their readable form (``␣king``), and the metadata has ``token_id``,
    ``special`` and ``kind`` columns, as for a Hugging Face checkpoint. ``progress`` shows (or
    reports to a callback) the one-time dequantization of a quantized matrix.
    """
    if matrix not in MATRICES:
        raise InvalidParameterError(f"matrix must be 'input' or 'output'; got {matrix!r}")
    path = Path(path).expanduser()
    header = read_gguf_header(path)
    embedding = _matrix_tensor(header, INPUT_TENSOR)
    head = header.tensors.get(OUTPUT_TENSOR)
    tied = head is None
    selected = embedding if matrix == "input" or tied else _matrix_tensor(header, OUTPUT_TENSOR)
    vocabulary = gguf_vocabulary(header)
    vectors, stored_as = _read_matrix(header, selected, progress=progress)
    table = token_table(vocabulary, vectors.shape[0])
    options: dict[str, Any] = {
        "matrix": matrix,
        "tensor": selected.name,
        "type": selected.type_name,
        "stored_as": stored_as,
        "architecture": header.get("general.architecture"),
        "model_name": header.get("general.name"),
        "tied": tied,
        "tied_basis": (
            f"no {OUTPUT_TENSOR} tensor: llama.cpp uses {INPUT_TENSOR} as the head"
            if tied
            else f"{OUTPUT_TENSOR} is stored ({head.type_name})"
        ),
        "tokenizer": vocabulary.description if vocabulary else "none: keys are row numbers",
        "padding_rows": table.padding_rows,
    }
    if vocabulary is not None and vocabulary.notes:
        options["tokenizer_notes"] = list(vocabulary.notes)
    return table.space(
        vectors,
        provenance=Provenance(
            source=str(path.resolve()),
            kind="gguf",
            options=options,
            fingerprint=_identity(header, selected),
        ),
        name=name or str(path),
    )


def _matrix_tensor(header: GGUFHeader, tensor_name: str) -> GGUFTensor:
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


def _identity(header: GGUFHeader, tensor: GGUFTensor) -> str:
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


def _read_matrix(
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
    target = cache_root() / "gguf" / f"{_identity(header, tensor)}.npy"

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


# ---- the tokenizer in the metadata -----------------------------------------------------------
def gguf_vocabulary(header: GGUFHeader) -> TokenizerVocabulary | None:
    """The tokenizer that ``tokenizer.ggml.*`` describes; None when the file has no tokens.

    ``gpt2`` is byte-level BPE (``Ġking``), ``llama`` SentencePiece BPE and ``t5`` SentencePiece
    Unigram (``▁king``, ``<0x0A>``), ``bert`` WordPiece as llama.cpp converts it (``▁`` marks a
    word start, ``##`` is dropped). Other models keep their tokens as keys and labels but split
    no words (a note says so).
    """
    tokens = header.get(_TOKENS)
    if tokens is None:
        return None
    path = header.path
    if not isinstance(tokens, list):
        raise MalformedFileError(path, f"{_TOKENS} is not an array of strings")
    n = len(tokens)
    model = header.get("tokenizer.ggml.model")
    model = model if isinstance(model, str) else "unknown"
    types = _array(header, _TOKEN_TYPES, n, "i")
    scores = _array(header, _SCORES, n, "f")
    special: set[int] = set()
    added: set[int] = set()
    if types is not None:
        special = {int(i) for i in np.flatnonzero(np.isin(types, (_UNKNOWN, _CONTROL, _UNUSED)))}
        added = {int(i) for i in np.flatnonzero(types == _USER_DEFINED)}
    for key in _SPECIAL_ID_KEYS:
        value = header.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
            special.add(value)
    unk = header.get("tokenizer.ggml.unknown_token_id")
    unk_id = unk if isinstance(unk, int) and not isinstance(unk, bool) and 0 <= unk < n else None
    pre = header.get("tokenizer.ggml.pre")
    notes: list[str] = [f"tokenizer.ggml.model={model}"] + (
        [f"tokenizer.ggml.pre={pre}"] if isinstance(pre, str) else []
    )
    build: Callable[[], Callable[[str], list[int]]] | None
    if model == "gpt2":
        style, kind = "byte_level", "BPE"
        build = _byte_level_bpe(header, tokens, pre if isinstance(pre, str) else None)
        if isinstance(pre, str) and pre not in ("gpt2", "gpt-2", "default"):
            notes.append(
                "words are split with GPT-2's pattern, which may group digits and "
                "punctuation differently from this model's"
            )
    elif model == "llama":
        style, kind = "metaspace", "BPE"
        build = _sentencepiece_bpe(header, tokens, scores, types, unk_id)
    elif model == "t5":
        style, kind = "metaspace", "Unigram"
        build = _sentencepiece_unigram(header, tokens, scores, unk_id)
    elif model == "bert":
        style, kind = "metaspace", "WordPiece"
        build = _wordpiece(header, tokens, special, unk_id)
    else:
        style, kind, build = "plain", model, None
        notes.append(f"no word splitting for tokenizer model {model!r}: query whole tokens")
    if build is not None:
        # a byte-level BPE unknown id would hide real tokens: only SentencePiece's <unk> counts
        unk_id = unk_id if model != "gpt2" else None
    return TokenizerVocabulary(
        tokens=dict(enumerate(tokens)),
        special_ids=frozenset(special),
        added_ids=frozenset(added - special),
        style=style,
        model=kind,
        source=f"GGUF metadata ({model})",
        fingerprint=header.digest,
        unk_id=unk_id,
        continuation_prefix="",
        build_encoder=build,
        notes=tuple(notes),
    )


def _array(header: GGUFHeader, key: str, n: int, kind: str) -> np.ndarray | None:
    values = header.get(key)
    if values is None:
        return None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in kind + "u" * (kind == "i"):
        raise MalformedFileError(header.path, f"{key} is not an array of numbers")
    if len(values) != n:
        raise MalformedFileError(header.path, f"{key} has {len(values):,} entries for {n:,} tokens")
    return values


def _merges(header: GGUFHeader) -> list[tuple[str, str]]:
    merges = header.get(_MERGES)
    if merges is None:
        return []
    if not isinstance(merges, list):
        raise MalformedFileError(header.path, f"{_MERGES} is not an array of strings")
    pairs = []
    for i, merge in enumerate(merges):
        # llama.cpp splits at the first space after the first character (a merge may join a
        # token that is itself a space)
        cut = merge.find(" ", 1)
        if cut < 0:
            raise MalformedFileError(
                header.path, f"{_MERGES}[{i}] is {merge[:40]!r}, not two tokens and a space"
            )
        pairs.append((merge[:cut], merge[cut + 1 :]))
    return pairs


def _first_id(tokens: list[str]) -> dict[str, int]:
    """token → its first id (a few vocabularies repeat a string)."""
    vocab: dict[str, int] = {}
    for i, token in enumerate(tokens):
        vocab.setdefault(token, i)
    return vocab


def _tokenizers_failure(header: GGUFHeader, error: Exception) -> MalformedFileError:
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    return MalformedFileError(
        header.path, f"its tokenizer metadata does not make a tokenizer: {first_line}"
    )


def _byte_level_bpe(
    header: GGUFHeader, tokens: list[str], pre: str | None
) -> Callable[[], Callable[[str], list[int]]]:
    merges = _merges(header)  # checked now, so a broken file fails at load, not at a query

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, pre_tokenizers
        from tokenizers.models import BPE

        try:
            # Llama 3's tokenizer takes a word that is a whole token as it is (llama.cpp's
            # ignore_merges for "llama-bpe")
            model = BPE(_first_id(tokens), merges, ignore_merges=pre == "llama-bpe")
        except Exception as error:  # tokenizers raises its own Exception for bad merges
            raise _tokenizers_failure(header, error) from None
        tokenizer = Tokenizer(model)
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _space_prefix(header: GGUFHeader, default: bool) -> bool:
    value = header.get("tokenizer.ggml.add_space_prefix", default)
    return bool(value) if isinstance(value, bool) else default


def _sentencepiece_bpe(
    header: GGUFHeader,
    tokens: list[str],
    scores: np.ndarray | None,
    types: np.ndarray | None,
    unk_id: int | None,
) -> Callable[[], Callable[[str], list[int]]]:
    """SentencePiece BPE (Llama 1 and 2, Mistral, Gemma): the merges are not stored, so they are
    rebuilt from the scores as transformers' converter does: every split of a token into two
    tokens, ranked by the merged token's score."""
    add_prefix = _space_prefix(header, True)

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers
        from tokenizers.models import BPE

        vocab = _first_id(tokens)
        # without scores, earlier ids merge first (SentencePiece orders pieces by score)
        ranks = scores if scores is not None else -np.arange(len(tokens), dtype=np.float32)
        candidates = []
        for i, token in enumerate(tokens):
            if types is not None and types[i] not in (_NORMAL, _USER_DEFINED):
                continue  # control, byte and unused tokens are never made by merging
            local = []
            for cut in range(1, len(token)):
                left, right = token[:cut], token[cut:]
                if left in vocab and right in vocab:
                    local.append((vocab[left], vocab[right], left, right))
            local.sort()
            candidates.extend((-float(ranks[i]), left, right) for _, _, left, right in local)
        candidates.sort(key=lambda c: c[0])  # stable: equal scores keep the token order
        merges = [(left, right) for _, left, right in candidates]
        has_bytes = types is not None and bool((types == _BYTE).any())
        try:
            model = BPE(
                vocab,
                merges,
                unk_token=tokens[unk_id] if unk_id is not None else None,
                fuse_unk=True,
                byte_fallback=has_bytes,
            )
        except Exception as error:
            raise _tokenizers_failure(header, error) from None
        tokenizer = Tokenizer(model)
        steps = [normalizers.Replace(" ", "▁")]
        if add_prefix:
            steps.insert(0, normalizers.Prepend("▁"))
        tokenizer.normalizer = normalizers.Sequence(steps)
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _sentencepiece_unigram(
    header: GGUFHeader, tokens: list[str], scores: np.ndarray | None, unk_id: int | None
) -> Callable[[], Callable[[str], list[int]]]:
    """SentencePiece Unigram (T5 and its kin): pieces and their log-probabilities, with the
    precompiled normalization map when the file carries one."""
    if scores is None:
        raise MalformedFileError(header.path, f"a t5 (Unigram) tokenizer without {_SCORES}")
    add_prefix = _space_prefix(header, True)
    charsmap = header.get(_CHARSMAP)

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import Unigram

        pieces = [(token, float(score)) for token, score in zip(tokens, scores, strict=True)]
        try:
            tokenizer = Tokenizer(Unigram(pieces, unk_id, byte_fallback=False))
            if isinstance(charsmap, np.ndarray) and len(charsmap):
                tokenizer.normalizer = normalizers.Precompiled(charsmap.astype(np.uint8).tobytes())
        except Exception as error:
            raise _tokenizers_failure(header, error) from None
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="always" if add_prefix else "never"
        )
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def _wordpiece(
    header: GGUFHeader, tokens: list[str], special: set[int], unk_id: int | None
) -> Callable[[], Callable[[str], list[int]]]:
    """BERT's WordPiece as llama.cpp stores it (``▁word`` starts, bare continuations): the
    ``##`` vocabulary is rebuilt to split words, and the ids map back to the file's tokens."""

    def build() -> Callable[[str], list[int]]:
        from tokenizers import Tokenizer, normalizers, pre_tokenizers
        from tokenizers.models import WordPiece

        vocab: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if i in special:
                piece = token
            elif token.startswith("▁"):
                piece = token[1:]
            else:
                piece = "##" + token
            vocab.setdefault(piece, i)
        lowercase = not any(t.lower() != t for i, t in enumerate(tokens) if i not in special)
        unk = tokens[unk_id] if unk_id is not None else "[UNK]"
        tokenizer = Tokenizer(WordPiece(vocab, unk_token=unk))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        return lambda word: tokenizer.encode(word, add_special_tokens=False).ids

    return build


def describe_gguf(path: str | os.PathLike) -> Mapping[str, Any]:
    """A few facts from a GGUF header (architecture, name, vocabulary size, embedding tensor),
    for listings; reads nothing past the header."""
    header = read_gguf_header(path)
    embedding = header.tensors.get(INPUT_TENSOR)
    tokens = header.get(_TOKENS)
    return {
        "architecture": header.get("general.architecture"),
        "model_name": header.get("general.name"),
        "tokens": len(tokens) if isinstance(tokens, list) else None,
        "embedding": embedding.describe() if embedding else None,
    }


__all__ = [
    "INPUT_TENSOR",
    "MATRICES",
    "OUTPUT_TENSOR",
    "TOKENIZER_MODELS",
    "GGUFHeader",
    "GGUFTensor",
    "describe_gguf",
    "gguf_vocabulary",
    "load_gguf",
    "read_gguf_header",
]
