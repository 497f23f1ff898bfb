"""Word-vector files: word2vec binary and text, GloVe text (no header), fastText ``.vec``.

Reading works on large blocks, never one Python call per number: a text block's keys are cut
off with numpy and all its numbers parsed by one ``np.fromstring`` call; a binary block's
records are found by one regular-expression scan and its vectors gathered by one fancy index.
Gzip-compressed files are read and written transparently (``.gz`` on writing).

Nothing a file declares is trusted further than its size allows: a header's dimension must fit
in the file before anything is allocated, the matrix never grows past what the bytes read can
hold, a gzip stream may expand to at most ``max_inflation`` times its compressed size, and
blank lines are never accumulated (those at the end are dropped; one between rows is an error
naming its line).
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import logging
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..space import EmbeddingSpace, Provenance
from .vocabulary import (
    DEFAULT_MAX_INFLATION,
    INFLATION_FLOOR,
    check_inflation,
    check_max_inflation,
    human_bytes,
)

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("word2vec", "word2vec-text", "glove", "fasttext")
ON_DUPLICATE: tuple[str, ...] = ("error", "first", "last")

_BLOCK_BYTES = 1 << 20
_WRITE_ROWS = 8192
_MAX_LINE = 1 << 20
_UNSIZED_ROWS = 1 << 20  # first allocation when a gzip stream hides the size
_UNSIZED_BYTES = 64 << 20  # …but never more bytes than this for wide vectors
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_SPACE, _NEWLINE = ord(" "), ord("\n")
_NUMBER_CHARS = b"0123456789+-.eE \t\r\n"
# Bytes that decimal text never holds but float32 data nearly always does.
_NEVER_IN_TEXT = bytes([*range(9), 11, 12, *range(14, 32), *range(128, 256)])
_DECODE_HINT = (
    "pass encoding='latin-1' (or the file's encoding) to read it, "
    "or unicode_errors='replace' to substitute the bad bytes"
)


# ---- public API ---------------------------------------------------------------------------
def has_word2vec_header(path: str | Path) -> bool:
    """Whether a (possibly gzipped) file starts with a word2vec ``<count> <dim>`` header.

    Two positive integers on line 1 are not enough: a one-dimensional GloVe file whose first
    key is a number looks the same. The next line must hold ``dim`` values, or be binary data.
    A broken gzip stream is a MalformedFileError.
    """
    path = Path(path)
    try:
        with _open(path) as stream:
            header = _parse_header(stream.readline(_MAX_LINE).removeprefix(_BOM))
            if header is None or min(header) < 1:
                return False
            body = stream.read(_MAX_LINE)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _broken_gzip(path, error) from None
    dim = header[1]
    return not body or _values_on_line(body.split(b"\n", 1)[0]) == dim or _is_binary(body, dim)


def load_word_vectors(
    path: str | Path,
    *,
    format: str,
    on_duplicate: str = "error",
    limit: int | None = None,
    dtype: str | np.dtype = "float32",
    name: str | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
) -> EmbeddingSpace:
    """Read a word-vector file into an EmbeddingSpace.

    ``format``: ``"word2vec"`` (binary), ``"word2vec-text"``, ``"fasttext"`` (``.vec``: word2vec
    text) or ``"glove"`` (text without header; a header is used when one is there).
    ``limit`` reads only the first vectors; ``on_duplicate`` says what a repeated key does
    (``"error"``, or keep the ``"first"`` / ``"last"`` occurrence); ``encoding`` and
    ``unicode_errors`` decode keys as in ``bytes.decode`` (gensim's options of the same names).
    ``max_inflation`` bounds how many times its compressed size a ``.gz`` file may expand to
    (at least 64 MiB is always allowed; None lifts the bound). Broken files raise
    MalformedFileError naming the line (text) or vector (binary).
    """
    path = Path(path)
    vector_dtype = _check_options(format, on_duplicate, limit, dtype, encoding, unicode_errors)
    max_inflation = check_max_inflation(max_inflation)
    stat = _stat(path)
    decoding = _KeyDecoding(encoding, unicode_errors)
    started = time.perf_counter()
    try:
        with _open(path, max_inflation) as stream:
            compressed = isinstance(stream, _BoundedGzip)
            common = {
                "limit": limit,
                "dtype": vector_dtype,
                "decoding": decoding,
                "size_hint": None if compressed else stat.st_size,
                "size_bound": stream.bound if compressed else stat.st_size,
            }
            if format == "word2vec":
                keys, vectors, layout = _read_binary(stream, path, **common)
            else:
                header_required = format != "glove"
                keys, vectors, layout = _read_text(
                    stream, path, header_required=header_required, **common
                )
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _broken_gzip(path, error) from None
    except FloatingPointError:
        raise SourceError(
            f"{path}: holds values beyond the float16 range (±65,504); load it with dtype='float32'"
        ) from None
    keys, vectors = _resolve_duplicates(keys, vectors, on_duplicate, path, layout)
    options: dict[str, object] = {
        "on_duplicate": on_duplicate,
        "limit": limit,
        "dtype": vector_dtype.name,
        "encoding": encoding,
        "unicode_errors": unicode_errors,
    }
    logger.info(
        "read %s vectors of %s dimensions from %s in %.1f s",
        f"{len(keys):,}",
        vectors.shape[1],
        path,
        time.perf_counter() - started,
    )
    return EmbeddingSpace(
        vectors,
        keys,
        provenance=Provenance(
            source=str(path),
            kind=format,
            options=options,
            fingerprint=f"{stat.st_size}-{int(stat.st_mtime)}",
        ),
        name=name,
    )


def write_word2vec(space: EmbeddingSpace, path: str | Path, *, binary: bool = True) -> None:
    """Write a space as a word2vec file that gensim and the original C tool read.

    Binary (float32, a newline after each vector as the C tool writes) or text (each value in
    the shortest form that reads back to the same float32). A name ending in ``.gz`` is
    gzip-compressed. The file appears whole or not at all.
    """
    path = Path(path)
    keys = space.keys
    _check_writable_keys(keys)
    rows, dim = space.shape
    with atomic_path(path) as temporary, _open_for_writing(temporary, path) as out:
        out.write(f"{rows} {dim}\n".encode())
        for start in range(0, rows, _WRITE_ROWS):
            stop = min(start + _WRITE_ROWS, rows)
            encoded = [_encoded(key, row) for row, key in enumerate(keys[start:stop], start)]
            # C order: a space may hold a Fortran-ordered matrix (the bundled GloVe does).
            vectors = np.ascontiguousarray(space.vectors[start:stop], dtype="<f4")
            out.write(
                _binary_records(encoded, vectors) if binary else _text_lines(encoded, vectors)
            )


# ---- options and files --------------------------------------------------------------------
def _check_options(
    format: str,
    on_duplicate: str,
    limit: int | None,
    dtype: str | np.dtype,
    encoding: str,
    unicode_errors: str,
) -> np.dtype:
    if format not in FORMATS:
        raise InvalidParameterError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if on_duplicate not in ON_DUPLICATE:
        raise InvalidParameterError(
            f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}; got {on_duplicate!r}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidParameterError(f"limit must be a positive integer or None; got {limit!r}")
    try:
        vector_dtype = np.dtype(dtype)
    except TypeError:
        vector_dtype = None
    if vector_dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise InvalidParameterError(f"dtype must be 'float32' or 'float16'; got {dtype!r}")
    try:
        ascii_compatible = " \n".encode(encoding) == b" \n"
    except LookupError:
        raise InvalidParameterError(f"encoding {encoding!r} is not a known codec") from None
    if not ascii_compatible:
        raise InvalidParameterError(
            f"encoding must keep spaces and newlines as single bytes (utf-8, latin-1, cp1252…); "
            f"got {encoding!r}"
        )
    try:
        codecs.lookup_error(unicode_errors)
    except LookupError:
        raise InvalidParameterError(
            f"unicode_errors must be an error handler of bytes.decode ('strict', 'replace', "
            f"'ignore'…); got {unicode_errors!r}"
        ) from None
    return vector_dtype


def _stat(path: Path) -> os.stat_result:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    if not path.is_file():
        raise SourceError(f"{path}: not a file")
    if stat.st_size == 0:
        raise MalformedFileError(path, "the file is empty")
    return stat


def _open(path: Path, max_inflation: float | None = None) -> IO[bytes]:
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if not compressed:
        return path.open("rb")
    return _BoundedGzip(path, max_inflation)  # type: ignore[return-value]


class _BoundedGzip:
    """A gzip stream that refuses to expand past ``max_inflation`` times the file's size: a
    few megabytes of gzip can hold gigabytes of one repeated line."""

    def __init__(self, path: Path, max_inflation: float | None) -> None:
        self._path = path
        self._stored = path.stat().st_size
        self._max_inflation = max_inflation
        self._stream = gzip.open(path, "rb")  # noqa: SIM115 (closed by close(), as a file is)
        self._read = 0
        #: the most bytes the stream may give; None: no bound
        self.bound = (
            None
            if max_inflation is None
            else max(INFLATION_FLOOR, int(self._stored * max_inflation))
        )

    def _counted(self, data: bytes) -> bytes:
        self._read += len(data)
        if self.bound is not None and self._read > self.bound:
            check_inflation(
                self._path,
                "its content, once decompressed,",
                declared=self._read,
                stored=self._stored,
                max_inflation=self._max_inflation,
            )
        return data

    def read(self, size: int = -1) -> bytes:
        return self._counted(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._counted(self._stream.readline(size))

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _BoundedGzip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _broken_gzip(path: Path, error: BaseException) -> MalformedFileError:
    return MalformedFileError(
        path,
        f"the gzip data is broken ({error or type(error).__name__}); the file may be "
        "incomplete: download or copy it again",
    )


@contextlib.contextmanager
def _open_for_writing(temporary: Path, target: Path) -> Iterator[IO[bytes]]:
    with temporary.open("wb") as raw:
        if target.suffix != ".gz":
            yield raw
            return
        # mtime=0 and the target's name keep the bytes reproducible and free of the temp name.
        with gzip.GzipFile(
            filename=target.name, mode="wb", fileobj=raw, compresslevel=6, mtime=0
        ) as compressed:
            yield compressed


def _parse_header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def _values_on_line(line: bytes) -> int:
    _, space, values = line.partition(b" ")
    return len(values.split()) if space else 0


def _first_vector_probe(body: bytes, dim: int) -> bytes:
    start = body.find(b" ") + 1
    return body[start : start + min(4 * dim, 64)] if start else b""


def _is_binary(body: bytes, dim: int) -> bool:
    """Whether the bytes after the first key hold what decimal text never does."""
    # Up to the first newline only: the next line's key may be non-ASCII text.
    probe = _first_vector_probe(body, dim).split(b"\n", 1)[0]
    return len(probe.translate(None, _NEVER_IN_TEXT)) < len(probe)


def _reads_as_text(body: bytes, dim: int) -> bool:
    """Whether the first 'binary vector' is really decimal text; 16 bytes make chance negligible."""
    probe = _first_vector_probe(body, dim)
    return len(probe) >= 16 and not probe.translate(None, _NUMBER_CHARS)


def _vectors(count: int) -> str:
    return f"{count:,} vector" if count == 1 else f"{count:,} vectors"


def _values(count: int) -> str:
    return f"{count:,} value" if count == 1 else f"{count:,} values"


@dataclass(frozen=True)
class _Layout:
    """Turns a row number into a place a person can find: a line (text) or a vector (binary)."""

    first_line: int | None

    def line(self, row: int) -> int | None:
        return None if self.first_line is None else self.first_line + row

    def places(self, first_row: int, second_row: int) -> str:
        if self.first_line is None:
            return f"vectors {first_row + 1:,} and {second_row + 1:,}"
        return f"lines {self.first_line + first_row:,} and {self.first_line + second_row:,}"


@dataclass(frozen=True)
class _KeyDecoding:
    encoding: str
    errors: str

    def text_keys(self, blob: bytes, *, first_line: int, path: Path) -> list[str]:
        """Keys of a block, joined by newlines; errors name the line."""
        try:
            keys = blob.decode(self.encoding, self.errors).split("\n")
        except UnicodeDecodeError as error:
            row = blob.count(b"\n", 0, error.start)
            start = blob.rfind(b"\n", 0, error.start) + 1
            raw = blob[start : blob.find(b"\n", error.start)]
            raise MalformedFileError(
                path,
                f"the key {raw!r} is not valid {self.encoding}; {_DECODE_HINT}",
                line=first_line + row,
            ) from None
        keys.pop()
        return keys

    def binary_keys(self, records: list[bytes], *, first_row: int, path: Path) -> list[str]:
        """Keys of binary records (each ``[newlines]key<space>``); errors name the vector."""
        blob = b"".join(records)
        try:
            text = blob.decode(self.encoding, self.errors)
        except UnicodeDecodeError as error:
            index = blob.count(b" ", 0, error.start)
            raw = records[index].strip(b"\n ")
            raise MalformedFileError(
                path,
                f"vector {first_row + index + 1:,}: the key {raw!r} is not valid {self.encoding}; "
                f"{_DECODE_HINT} (if many keys look garbled, the header's dimension is wrong)",
            ) from None
        keys = text.split(" ")
        keys.pop()
        if "\n" in text:  # the newline the C tool writes after each vector (gensim strips it too)
            keys = [key.lstrip("\n") for key in keys]
        return keys


class _GrowingMatrix:
    """Rows appended block by block into one array that grows in place (``realloc``), so the
    peak stays near the final size, not the size plus a copy."""

    def __init__(self, dim: int, dtype: np.dtype, capacity: int) -> None:
        self._array = np.empty((capacity, dim), dtype)
        self.rows = 0

    def reserve(self, capacity: int) -> None:
        if capacity > len(self._array):
            self._array.resize((capacity, self._array.shape[1]), refcheck=False)

    def append(self, block: np.ndarray) -> None:
        needed = self.rows + len(block)
        if needed > len(self._array):
            self.reserve(max(needed, len(self._array) * 3 // 2 + 1024))
        with np.errstate(over="raise"):  # float16 overflow must not become a silent inf
            self._array[self.rows : needed] = block
        self.rows = needed

    def finish(self) -> np.ndarray:
        if self.rows < len(self._array):
            self._array.resize((self.rows, self._array.shape[1]), refcheck=False)
        return self._array


# ---- text ---------------------------------------------------------------------------------
def _read_text(
    stream: IO[bytes],
    path: Path,
    *,
    header_required: bool,
    limit: int | None,
    dtype: np.dtype,
    decoding: _KeyDecoding,
    size_hint: int | None,
    size_bound: int | None,
) -> tuple[list[str], np.ndarray, _Layout]:
    first = stream.readline(_MAX_LINE).removeprefix(_BOM)
    if not first:
        raise MalformedFileError(path, "the file is empty")
    header = _parse_header(first)
    pending = b""
    if header is not None and not header_required:
        pending = stream.readline(_MAX_LINE)
        if pending and _values_on_line(pending) != header[1] and not _is_binary(pending, header[1]):
            header = None  # a GloVe file whose first row is a number key and one value
        else:
            logger.info("%s: line 1 is a word2vec header; reading it as such", path)
    if header is None:
        if header_required:
            raise MalformedFileError(
                path,
                f"expected the word2vec header '<count> <dim>', found {first[:60]!r}; "
                "a file without a header is GloVe text: load it with kind='glove'",
                line=1,
            )
        pending = first + pending
        count = None
    else:
        # a value takes at least 2 bytes of text: a digit and a separator
        count, dim = _checked_header(header, path, len(first), size_bound, row_bytes=2)
    first_line = 1 if header is None else 2
    if count is None or limit is None:
        target = count if limit is None else limit
    else:
        target = min(count, limit)
    # Only the header's count binds: read on past it to report how many vectors there are.
    count_binds = count is not None and (limit is None or limit > count)

    blocks = _line_blocks(stream, pending)
    first_block = next(blocks, None)
    if first_block is None:
        if count is None:
            raise MalformedFileError(path, "the file holds only blank lines")
        raise MalformedFileError(path, f"the header promises {_vectors(count)} but none follow")
    if header is None:
        dim = _values_on_line(first_block[: first_block.index(b"\n")])
        expected = "as on line 1"
        if dim == 0:
            raise MalformedFileError(path, "no values after the first key", line=1)
    else:
        expected = "the header's dimension"
        if _is_binary(first_block, dim):
            raise MalformedFileError(
                path,
                "binary data after the header: this is a word2vec binary file; "
                "load it with kind='word2vec'",
                line=2,
            )
    # Rows the file can hold, judged by its first block; a header is not trusted beyond that.
    if size_hint is not None:
        lines = first_block.count(b"\n")
        estimate = size_hint * lines // len(first_block) * 21 // 20 + 1
    else:
        estimate = _unsized_rows(dim, dtype)
    capacity = estimate if target is None else min(target, estimate)
    matrix = _GrowingMatrix(dim, dtype, capacity)
    keys: list[str] = []
    beyond = 0
    for block in chain([first_block], blocks):
        if beyond:
            beyond += block.count(b"\n")
            continue
        if target is not None and len(keys) + block.count(b"\n") > target:
            cut = _end_of_line(block, target - len(keys))
            if count_binds:
                beyond = block.count(b"\n", cut)
            block = block[:cut]
        if block:
            block_keys, values = _parse_block(
                block,
                dim=dim,
                first_line=first_line + len(keys),
                expected=expected,
                path=path,
                decoding=decoding,
            )
            matrix.append(values)
            keys.extend(block_keys)
        if target is not None and len(keys) == target and not count_binds:
            break
    if beyond:
        raise MalformedFileError(
            path,
            f"the header promises {_vectors(count)} but {count + beyond:,} lines follow it",
            line=1,
        )
    if count is not None and len(keys) < target:
        raise MalformedFileError(
            path, f"the header promises {_vectors(count)} but the file holds {len(keys):,}", line=1
        )
    return keys, matrix.finish(), _Layout(first_line)


def _checked_header(
    header: tuple[int, int],
    path: Path,
    header_bytes: int,
    size_bound: int | None,
    *,
    row_bytes: int,
) -> tuple[int, int]:
    """The header's count and dimension, once the dimension fits in the bytes after the header
    (``size_bound`` in all): one vector takes at least ``row_bytes`` per value. The count is
    never trusted for allocation (the matrix grows with what is read), and a file with fewer
    vectors than it says is reported where it ends."""
    count, dim = header
    if dim == 0:
        raise MalformedFileError(path, "the header declares 0 dimensions", line=1)
    if count == 0:
        raise SourceError(f"{path}: holds no vectors (its header declares 0)")
    body = None if size_bound is None else size_bound - header_bytes
    # an empty body is reported as such by the reader ("none follow")
    if body and dim * row_bytes > body:
        raise MalformedFileError(
            path,
            f"the header declares {dim:,} dimensions, but one such vector takes at least "
            f"{human_bytes(dim * row_bytes)} and the file holds {human_bytes(body)} after "
            "the header; the header is wrong, or this is not a word2vec file",
            line=1,
        )
    return count, dim


def _unsized_rows(dim: int, dtype: np.dtype) -> int:
    """Rows to allocate first when a gzip stream hides the file's size."""
    return max(1, min(_UNSIZED_ROWS, _UNSIZED_BYTES // (dim * dtype.itemsize)))


def _line_blocks(stream: IO[bytes], pending: bytes) -> Iterator[bytes]:
    """Blocks of whole lines, each ending in a newline; blank lines at the end of the file are
    dropped and a last line without a newline gets one."""
    while True:
        data = stream.read(_BLOCK_BYTES)
        pending += data
        if not data:
            if pending.strip():
                yield pending if pending.endswith(b"\n") else pending + b"\n"
            return
        content_end = len(pending.rstrip())
        if content_end == 0:
            # Only blank lines so far: they may be the end of the file. Keep the first (a row
            # after them must fail there, on the right line) and the unfinished last one.
            last_newline = pending.rfind(b"\n")
            pending = (b"\n" if last_newline >= 0 else b"") + pending[last_newline + 1 :][-1:]
            continue
        line_end = pending.find(b"\n", content_end)
        cut = line_end + 1 if line_end >= 0 else pending.rfind(b"\n", 0, content_end) + 1
        if cut:
            yield pending[:cut]
            pending = pending[cut:]


def _end_of_line(block: bytes, lines: int) -> int:
    """Offset just past the ``lines``-th newline of a block."""
    newlines = np.flatnonzero(np.frombuffer(block, np.uint8) == _NEWLINE)
    return int(newlines[lines - 1]) + 1 if lines else 0


def _parse_block(
    block: bytes,
    *,
    dim: int,
    first_line: int,
    expected: str,
    path: Path,
    decoding: _KeyDecoding,
) -> tuple[list[str], np.ndarray]:
    """Keys and values of a block of whole lines, in bulk.

    A key runs from the line start to the first space. Its bytes are found with numpy and
    blanked out, so every number of the block goes through one ``np.fromstring`` call.
    """
    data = np.frombuffer(block, np.uint8)
    is_newline = data == _NEWLINE
    line_ends = np.flatnonzero(is_newline)
    line_starts = np.concatenate(([0], line_ends[:-1] + 1))
    spaces = np.flatnonzero(data == _SPACE)
    next_space = np.searchsorted(spaces, line_starts)
    has_space = next_space < len(spaces)
    key_ends = line_ends.copy()
    key_ends[has_space] = np.minimum(spaces[next_space[has_space]], line_ends[has_space])
    # +1 where a key starts, -1 where it ends: the running sum is 1 exactly on key bytes.
    edges = np.zeros(len(data) + 1, np.int8)
    edges[line_starts] = 1
    edges[key_ends] -= 1
    in_key = np.cumsum(edges[:-1], dtype=np.int8).view(bool)

    numbers = data.copy()
    numbers[in_key] = _SPACE
    is_separator = numbers <= _SPACE
    value_starts = np.zeros(len(data), np.uint8)  # a separator followed by anything else
    np.less(is_separator[1:], is_separator[:-1], out=value_starts[1:].view(bool))
    counts = np.add.reduceat(value_starts, line_starts, dtype=np.int64)
    wrong = np.flatnonzero(counts != dim)
    if wrong.size:
        row = int(wrong[0])
        line = block[line_starts[row] : line_ends[row]]
        key = block[line_starts[row] : key_ends[row]].decode(decoding.encoding, "replace")
        if not line.strip():
            problem = "the line is empty"
        else:
            problem = f"{_values(counts[row])} after the key {key!r}, expected {dim} ({expected})"
        if counts[row] > dim:
            problem += "; a key with spaces in it cannot be told from its values"
        raise MalformedFileError(path, problem, line=first_line + row)

    keys = decoding.text_keys(data[in_key | is_newline].tobytes(), first_line=first_line, path=path)
    try:
        values = np.fromstring(numbers.tobytes(), dtype=np.float32, sep=" ")
    except ValueError:
        raise _not_a_number(
            block, numbers, line_starts, line_ends, first_line, dim, path, decoding.encoding
        ) from None
    return keys, values.reshape(len(line_ends), dim)


def _not_a_number(
    block: bytes,
    numbers: np.ndarray,
    line_starts: np.ndarray,
    line_ends: np.ndarray,
    first_line: int,
    dim: int,
    path: Path,
    encoding: str,
) -> MalformedFileError:
    """The error for the first value of a block that does not parse (the slow path)."""
    for row, (start, end) in enumerate(zip(line_starts.tolist(), line_ends.tolist(), strict=True)):
        text = numbers[start:end].tobytes()
        try:
            np.fromstring(text, dtype=np.float32, sep=" ")
        except ValueError:
            pass
        else:
            continue
        key = block[start:end].split(b" ", 1)[0].decode(encoding, "replace")
        for position, token in enumerate(text.split(), start=1):
            try:
                np.fromstring(token, dtype=np.float32, sep=" ")
            except ValueError:
                shown = token.decode("utf-8", "replace")
                problem = f"{shown!r} is not a number (value {position} of {dim}, key {key!r})"
                return MalformedFileError(path, problem, line=first_line + row)
        return MalformedFileError(
            path,
            f"the values after the key {key!r} are not separated by spaces",
            line=first_line + row,
        )
    return MalformedFileError(path, "a value does not parse as a number", line=first_line)


# ---- binary -------------------------------------------------------------------------------
def _read_binary(
    stream: IO[bytes],
    path: Path,
    *,
    limit: int | None,
    dtype: np.dtype,
    decoding: _KeyDecoding,
    size_hint: int | None,
    size_bound: int | None,
) -> tuple[list[str], np.ndarray, _Layout]:
    first = stream.readline(_MAX_LINE).removeprefix(_BOM)
    if not first:
        raise MalformedFileError(path, "the file is empty")
    header = _parse_header(first)
    if header is None:
        raise MalformedFileError(
            path,
            f"expected the word2vec header '<count> <dim>', found {first[:40]!r}; not a word2vec "
            "binary file (fastText .bin models are not word-vector files: use the .vec file)",
            line=1,
        )
    count, dim = _checked_header(header, path, len(first), size_bound, row_bytes=4)
    record = 4 * dim
    target = count if limit is None else min(limit, count)
    count_binds = limit is None or limit > count
    # Never trust the header's count further than the file's size allows.
    bound = size_hint // (record + 1) + 1 if size_hint is not None else _unsized_rows(dim, dtype)
    capacity = min(target, bound)
    # One match per record, scanned in C: leftover newlines + key + space, then the vector.
    # The `.+` branch swallows an incomplete last record in one step, so a failed match
    # never makes findall retry at every later byte.
    records = re.compile(rb"(\n*[^ ]* ).{%d}|.+" % record, re.DOTALL)
    matrix = _GrowingMatrix(dim, dtype, capacity)
    keys: list[str] = []
    beyond = 0
    pending = b""
    while True:
        data = stream.read(_BLOCK_BYTES)
        pending += data
        if not keys and not beyond and _reads_as_text(pending, dim):
            raise MalformedFileError(
                path,
                "the vectors are text, not binary: load it with kind='word2vec-text'",
                line=2,
            )
        found = records.findall(pending)
        if found and not found[-1]:
            found.pop()  # the incomplete last record
        if found:
            ends = np.cumsum(np.fromiter(map(len, found), np.int64, len(found)) + record)
            wanted = min(target - len(keys), len(found))
            if wanted:
                windows = sliding_window_view(np.frombuffer(pending, np.uint8), record)
                matrix.append(windows[ends[:wanted] - record].view("<f4"))
                keys.extend(decoding.binary_keys(found[:wanted], first_row=len(keys), path=path))
            beyond += len(found) - wanted
            pending = pending[int(ends[-1]) :]
        if not data or (len(keys) == target and not count_binds):
            break
    if len(keys) < target:
        raise MalformedFileError(path, _truncation(pending, len(keys), count, record, decoding))
    if count_binds and (beyond or pending.strip()):
        stray = f" and {len(pending.strip()):,} stray bytes" if pending.strip() else ""
        raise MalformedFileError(
            path,
            f"the header promises {_vectors(count)} but the file holds {count + beyond:,}{stray}; "
            "the header's count or dimension is wrong",
        )
    return keys, matrix.finish(), _Layout(None)


def _truncation(tail: bytes, rows: int, count: int, record: int, decoding: _KeyDecoding) -> str:
    tail = tail.lstrip(b"\n")
    promise = f"the header promises {_vectors(count)}"
    if not tail.strip():
        return f"truncated: {promise} but the file ends after {rows:,}"
    space = tail.find(b" ")
    if space < 0:
        return f"truncated: {promise} but the file ends inside the key of vector {rows + 1:,}"
    key = tail[:space].decode(decoding.encoding, "replace")
    present = len(tail) - space - 1
    return (
        f"truncated: {promise} but the file ends inside vector {rows + 1:,} (key {key!r}), "
        f"after {present:,} of its {record:,} bytes"
    )


# ---- writing ------------------------------------------------------------------------------
def _check_writable_keys(keys: list[str]) -> None:
    joined = "\x00".join(keys)
    if " " not in joined and "\n" not in joined:
        return
    for row, key in enumerate(keys):
        if " " in key or "\n" in key:
            raise InvalidParameterError(
                f"key {key!r} (row {row}) holds a space or newline, which word2vec files use "
                "as separators; rename it before writing"
            )


def _encoded(key: str, row: int) -> bytes:
    # surrogateescape restores the bytes of keys read with unicode_errors="surrogateescape"
    try:
        return key.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidParameterError(f"key {key!r} (row {row}) cannot be written as UTF-8") from None


def _binary_records(keys: list[bytes], vectors: np.ndarray) -> bytes:
    raw = memoryview(vectors.tobytes())
    record = vectors.shape[1] * 4
    return b"".join(
        chain.from_iterable(
            (key, b" ", raw[row * record : (row + 1) * record], b"\n")
            for row, key in enumerate(keys)
        )
    )


def _text_lines(keys: list[bytes], vectors: np.ndarray) -> bytes:
    # numpy's float-to-bytes cast gives the shortest text that reads back to the same float32
    # (what str(np.float32) gives, and so gensim); NUL padding is then squeezed out in bulk.
    text = vectors.astype("S")
    rows, dim = vectors.shape
    width = text.dtype.itemsize
    cells = np.zeros((rows, dim, width + 1), np.uint8)
    cells[:, :, :width] = text.view(np.uint8).reshape(rows, dim, width)
    cells[:, :, width] = _SPACE
    cells[:, -1, width] = _NEWLINE
    filled = cells != 0
    numbers = cells[filled].tobytes()
    ends = np.cumsum(filled.sum(axis=(1, 2))).tolist()
    starts = [0, *ends[:-1]]
    return b"".join(
        chain.from_iterable(
            (key, b" ", numbers[start:end])
            for key, start, end in zip(keys, starts, ends, strict=True)
        )
    )


# ---- duplicates ---------------------------------------------------------------------------
def _resolve_duplicates(
    keys: list[str], vectors: np.ndarray, on_duplicate: str, path: Path, layout: _Layout
) -> tuple[list[str], np.ndarray]:
    if len(set(keys)) == len(keys):
        return keys, vectors
    first_row: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    for row, key in enumerate(keys):
        earlier = first_row.setdefault(key, row)
        if earlier != row:
            repeats.append((earlier, row))
    if on_duplicate == "error":
        earlier, row = repeats[0]
        more = f"; {len(repeats) - 1:,} more repeated rows" if len(repeats) > 1 else ""
        raise MalformedFileError(
            path,
            f"duplicate key {keys[row]!r} ({layout.places(earlier, row)}){more}; "
            "pass on_duplicate='first' or 'last' to keep one occurrence of each",
            line=layout.line(row),
        )
    kept = first_row if on_duplicate == "first" else {key: row for row, key in enumerate(keys)}
    rows = sorted(kept.values())
    logger.info(
        "%s: dropped %s repeated keys, kept the %s occurrence of each",
        path,
        f"{len(repeats):,}",
        on_duplicate,
    )
    return [keys[row] for row in rows], vectors[rows]
