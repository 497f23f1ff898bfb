"""A space written as a word2vec file that gensim and the original C tool read, binary or text,
gzip-compressed when its name ends in ``.gz``."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import IO

import numpy as np

from ..._io.atomic import atomic_path
from ...errors import InvalidParameterError
from ...space import EmbeddingSpace
from .files import NEWLINE, SPACE

_WRITE_ROWS = 8192


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
    cells[:, :, width] = SPACE
    cells[:, -1, width] = NEWLINE
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
