"""A word-vector file read into a space: the options checked, the text or binary reader chosen
by format, and repeated keys resolved."""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import time
import zlib
from pathlib import Path

import numpy as np

from ..._checks import is_integer
from ...errors import InvalidParameterError, MalformedFileError, SourceError
from ...space import EmbeddingSpace, Provenance
from ..vocabulary import DEFAULT_MAX_INFLATION, check_max_inflation
from .binary import read_binary
from .files import BoundedGzip, broken_gzip, open_stream
from .reading import KeyDecoding, Layout
from .text import read_text

logger = logging.getLogger(__name__)


FORMATS: tuple[str, ...] = ("word2vec", "word2vec-text", "glove", "fasttext")
ON_DUPLICATE: tuple[str, ...] = ("error", "first", "last")


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
    decoding = KeyDecoding(encoding, unicode_errors)
    started = time.perf_counter()
    try:
        with open_stream(path, max_inflation) as stream:
            compressed = isinstance(stream, BoundedGzip)
            common = {
                "limit": limit,
                "dtype": vector_dtype,
                "decoding": decoding,
                "size_hint": None if compressed else stat.st_size,
                "size_bound": stream.bound if compressed else stat.st_size,
            }
            if format == "word2vec":
                keys, vectors, layout = read_binary(stream, path, **common)
            else:
                header_required = format != "glove"
                keys, vectors, layout = read_text(
                    stream, path, header_required=header_required, **common
                )
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise broken_gzip(path, error) from None
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
    if limit is not None and not (is_integer(limit) and limit >= 1):
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


# ---- duplicates ---------------------------------------------------------------------------
def _resolve_duplicates(
    keys: list[str], vectors: np.ndarray, on_duplicate: str, path: Path, layout: Layout
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
