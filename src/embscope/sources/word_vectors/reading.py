"""What the text and binary readers share: the matrix that grows as rows are read, the keys
decoded a block at a time, where a row is in the file (for errors), and the header's
dimension checked against the file's size before anything is allocated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import MalformedFileError, SourceError
from ..vocabulary import human_bytes

BLOCK_BYTES = 1 << 20
_UNSIZED_ROWS = 1 << 20  # first allocation when a gzip stream hides the size
_UNSIZED_BYTES = 64 << 20  # …but never more bytes than this for wide vectors
_DECODE_HINT = (
    "pass encoding='latin-1' (or the file's encoding) to read it, "
    "or unicode_errors='replace' to substitute the bad bytes"
)


def n_vectors(count: int) -> str:
    """``count`` vectors, in words: ``1 vector``, ``2,000 vectors``."""
    return f"{count:,} vector" if count == 1 else f"{count:,} vectors"


@dataclass(frozen=True)
class Layout:
    """Turns a row number into a place a person can find: a line (text) or a vector (binary)."""

    first_line: int | None

    def line(self, row: int) -> int | None:
        return None if self.first_line is None else self.first_line + row

    def places(self, first_row: int, second_row: int) -> str:
        if self.first_line is None:
            return f"vectors {first_row + 1:,} and {second_row + 1:,}"
        return f"lines {self.first_line + first_row:,} and {self.first_line + second_row:,}"


@dataclass(frozen=True)
class KeyDecoding:
    """How keys are decoded (``encoding``, ``unicode_errors``), with errors that say where."""

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


class GrowingMatrix:
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


def checked_header(
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


def unsized_rows(dim: int, dtype: np.dtype) -> int:
    """Rows to allocate first when a gzip stream hides the file's size."""
    return max(1, min(_UNSIZED_ROWS, _UNSIZED_BYTES // (dim * dtype.itemsize)))
