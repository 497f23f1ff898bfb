"""word2vec binary, read in blocks: a block's records are found by one regular-expression scan
and its vectors gathered by one fancy index."""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...errors import MalformedFileError
from .files import BOM, MAX_LINE, parse_header, reads_as_text
from .reading import (
    BLOCK_BYTES,
    GrowingMatrix,
    KeyDecoding,
    Layout,
    checked_header,
    n_vectors,
    unsized_rows,
)


def read_binary(
    stream: IO[bytes],
    path: Path,
    *,
    limit: int | None,
    dtype: np.dtype,
    decoding: KeyDecoding,
    size_hint: int | None,
    size_bound: int | None,
) -> tuple[list[str], np.ndarray, Layout]:
    """Keys, vectors and row places of a word2vec binary file, read in blocks."""
    first = stream.readline(MAX_LINE).removeprefix(BOM)
    if not first:
        raise MalformedFileError(path, "the file is empty")
    header = parse_header(first)
    if header is None:
        raise MalformedFileError(
            path,
            f"expected the word2vec header '<count> <dim>', found {first[:40]!r}; not a word2vec "
            "binary file (fastText .bin models are not word-vector files: use the .vec file)",
            line=1,
        )
    count, dim = checked_header(header, path, len(first), size_bound, row_bytes=4)
    record = 4 * dim
    target = count if limit is None else min(limit, count)
    count_binds = limit is None or limit > count
    # Never trust the header's count further than the file's size allows.
    bound = size_hint // (record + 1) + 1 if size_hint is not None else unsized_rows(dim, dtype)
    capacity = min(target, bound)
    # One match per record, scanned in C: leftover newlines + key + space, then the vector.
    # The `.+` branch swallows an incomplete last record in one step, so a failed match
    # never makes findall retry at every later byte.
    records = re.compile(rb"(\n*[^ ]* ).{%d}|.+" % record, re.DOTALL)
    matrix = GrowingMatrix(dim, dtype, capacity)
    keys: list[str] = []
    beyond = 0
    pending = b""
    while True:
        data = stream.read(BLOCK_BYTES)
        pending += data
        if not keys and not beyond and reads_as_text(pending, dim):
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
            f"the header promises {n_vectors(count)} but the file holds {count + beyond:,}{stray}; "
            "the header's count or dimension is wrong",
        )
    return keys, matrix.finish(), Layout(None)


def _truncation(tail: bytes, rows: int, count: int, record: int, decoding: KeyDecoding) -> str:
    tail = tail.lstrip(b"\n")
    promise = f"the header promises {n_vectors(count)}"
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
