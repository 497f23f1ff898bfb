"""A word-vector file as bytes: opened (a gzip stream within its bound), its ``<count> <dim>``
header recognised, and binary vectors told from text ones.

Nothing a file declares is trusted further than its size allows: a gzip stream may expand to at
most ``max_inflation`` times its compressed size.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import IO

from ...errors import MalformedFileError
from ..vocabulary import INFLATION_FLOOR, check_inflation

MAX_LINE = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
SPACE, NEWLINE = ord(" "), ord("\n")
_NUMBER_CHARS = b"0123456789+-.eE \t\r\n"
# Bytes that decimal text never holds but float32 data nearly always does.
_NEVER_IN_TEXT = bytes([*range(9), 11, 12, *range(14, 32), *range(128, 256)])


def has_word2vec_header(path: str | Path) -> bool:
    """Whether a (possibly gzipped) file starts with a word2vec ``<count> <dim>`` header.

    Two positive integers on line 1 are not enough: a one-dimensional GloVe file whose first
    key is a number looks the same. The next line must hold ``dim`` values, or be binary data.
    A broken gzip stream is a MalformedFileError.
    """
    path = Path(path)
    try:
        with open_stream(path) as stream:
            header = parse_header(stream.readline(MAX_LINE).removeprefix(BOM))
            if header is None or min(header) < 1:
                return False
            body = stream.read(MAX_LINE)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise broken_gzip(path, error) from None
    dim = header[1]
    return not body or values_on_line(body.split(b"\n", 1)[0]) == dim or is_binary(body, dim)


def open_stream(path: Path, max_inflation: float | None = None) -> IO[bytes]:
    """The file's bytes: as stored, or inflated (within ``max_inflation``) when gzipped."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if not compressed:
        return path.open("rb")
    return BoundedGzip(path, max_inflation)  # type: ignore[return-value]


class BoundedGzip:
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

    def __enter__(self) -> BoundedGzip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def broken_gzip(path: Path, error: BaseException) -> MalformedFileError:
    """The error for a gzip stream that cannot be inflated."""
    return MalformedFileError(
        path,
        f"the gzip data is broken ({error or type(error).__name__}); the file may be "
        "incomplete: download or copy it again",
    )


def parse_header(line: bytes) -> tuple[int, int] | None:
    """(count, dim) from a ``<count> <dim>`` line, or None."""
    parts = line.split()
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def values_on_line(line: bytes) -> int:
    """How many values follow the key on a line of text."""
    _, space, values = line.partition(b" ")
    return len(values.split()) if space else 0


def _first_vector_probe(body: bytes, dim: int) -> bytes:
    start = body.find(b" ") + 1
    return body[start : start + min(4 * dim, 64)] if start else b""


def is_binary(body: bytes, dim: int) -> bool:
    """Whether the bytes after the first key hold what decimal text never does."""
    # Up to the first newline only: the next line's key may be non-ASCII text.
    probe = _first_vector_probe(body, dim).split(b"\n", 1)[0]
    return len(probe.translate(None, _NEVER_IN_TEXT)) < len(probe)


def reads_as_text(body: bytes, dim: int) -> bool:
    """Whether the first 'binary vector' is really decimal text; 16 bytes make chance negligible."""
    probe = _first_vector_probe(body, dim)
    return len(probe) >= 16 and not probe.translate(None, _NUMBER_CHARS)
