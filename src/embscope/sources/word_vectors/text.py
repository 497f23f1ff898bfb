"""word2vec text, GloVe text and fastText ``.vec``, read in blocks: a block's keys are cut off
with numpy and all its numbers parsed by one ``np.fromstring`` call. Blank lines are never
accumulated: those at the end are dropped, one between rows is an error naming its line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import IO

import numpy as np

from ...errors import MalformedFileError
from .files import BOM, MAX_LINE, NEWLINE, SPACE, is_binary, parse_header, values_on_line
from .reading import (
    BLOCK_BYTES,
    GrowingMatrix,
    KeyDecoding,
    Layout,
    checked_header,
    n_vectors,
    unsized_rows,
)

logger = logging.getLogger(__name__)


def _values(count: int) -> str:
    return f"{count:,} value" if count == 1 else f"{count:,} values"


def read_text(
    stream: IO[bytes],
    path: Path,
    *,
    header_required: bool,
    limit: int | None,
    dtype: np.dtype,
    decoding: KeyDecoding,
    size_hint: int | None,
    size_bound: int | None,
) -> tuple[list[str], np.ndarray, Layout]:
    """Keys, vectors and row places of word2vec, GloVe or fastText text, read in blocks."""
    first = stream.readline(MAX_LINE).removeprefix(BOM)
    if not first:
        raise MalformedFileError(path, "the file is empty")
    header = parse_header(first)
    pending = b""
    if header is not None and not header_required:
        pending = stream.readline(MAX_LINE)
        if pending and values_on_line(pending) != header[1] and not is_binary(pending, header[1]):
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
        count, dim = checked_header(header, path, len(first), size_bound, row_bytes=2)
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
        raise MalformedFileError(path, f"the header promises {n_vectors(count)} but none follow")
    if header is None:
        dim = values_on_line(first_block[: first_block.index(b"\n")])
        expected = "as on line 1"
        if dim == 0:
            raise MalformedFileError(path, "no values after the first key", line=1)
    else:
        expected = "the header's dimension"
        if is_binary(first_block, dim):
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
        estimate = unsized_rows(dim, dtype)
    capacity = estimate if target is None else min(target, estimate)
    matrix = GrowingMatrix(dim, dtype, capacity)
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
            f"the header promises {n_vectors(count)} but {count + beyond:,} lines follow it",
            line=1,
        )
    if count is not None and len(keys) < target:
        raise MalformedFileError(
            path,
            f"the header promises {n_vectors(count)} but the file holds {len(keys):,}",
            line=1,
        )
    return keys, matrix.finish(), Layout(first_line)


def _line_blocks(stream: IO[bytes], pending: bytes) -> Iterator[bytes]:
    """Blocks of whole lines, each ending in a newline; blank lines at the end of the file are
    dropped and a last line without a newline gets one."""
    while True:
        data = stream.read(BLOCK_BYTES)
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
    newlines = np.flatnonzero(np.frombuffer(block, np.uint8) == NEWLINE)
    return int(newlines[lines - 1]) + 1 if lines else 0


def _parse_block(
    block: bytes,
    *,
    dim: int,
    first_line: int,
    expected: str,
    path: Path,
    decoding: KeyDecoding,
) -> tuple[list[str], np.ndarray]:
    """Keys and values of a block of whole lines, in bulk.

    A key runs from the line start to the first space. Its bytes are found with numpy and
    blanked out, so every number of the block goes through one ``np.fromstring`` call.
    """
    data = np.frombuffer(block, np.uint8)
    is_newline = data == NEWLINE
    line_ends = np.flatnonzero(is_newline)
    line_starts = np.concatenate(([0], line_ends[:-1] + 1))
    spaces = np.flatnonzero(data == SPACE)
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
    numbers[in_key] = SPACE
    is_separator = numbers <= SPACE
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
