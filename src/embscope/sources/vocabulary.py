"""Vocabulary files: one token per line, row i of the matrix is line i.

Also the small helpers the file readers share: keys for an empty token, file fingerprints.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError

logger = logging.getLogger(__name__)

VOCABULARY_NAMES = ("vocab.txt", "vocabulary.txt", "vocab", "metadata.tsv")


def read_vocabulary(path: str | Path, *, expected_rows: int | None = None) -> list[str]:
    """Tokens of a vocabulary file, one per line, in row order.

    Errors name the file and line: bytes that are not UTF-8, a token seen twice, or a line
    count that differs from the matrix' rows (``expected_rows``).
    """
    path = Path(path)
    raw = path.read_bytes()
    tokens: list[str] = []
    seen: dict[str, int] = {}
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        try:
            token = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedFileError(
                path,
                f"not UTF-8 (byte {error.start + 1} of the line); re-save it as UTF-8",
                line=number,
            ) from None
        if token in seen:
            raise MalformedFileError(
                path, f"duplicate token {token!r} (first at line {seen[token]})", line=number
            )
        seen[token] = number
        tokens.append(token)
    if expected_rows is not None and len(tokens) != expected_rows:
        raise MalformedFileError(
            path,
            f"{len(tokens):,} tokens for a matrix of {expected_rows:,} rows; "
            "the vocabulary must have one line per row",
        )
    return tokens


def find_vocabulary(matrix_path: str | Path) -> Path | None:
    """A vocabulary file sitting beside a matrix file, if there is exactly one obvious one."""
    matrix_path = Path(matrix_path)
    stem_match = matrix_path.with_suffix(".vocab.txt")
    if stem_match.is_file():
        return stem_match
    for name in VOCABULARY_NAMES[:3]:
        candidate = matrix_path.parent / name
        if candidate.is_file():
            return candidate
    return None


def keys_for_tokens(tokens: Sequence[str]) -> tuple[list[str], str | None]:
    """Keys for a vocabulary's tokens, and the key that stands for the empty token (if any).

    Keras' ``TextVectorization.get_vocabulary()`` puts padding, the empty string, at row 0. An
    empty key can never be queried (an empty query is an error), so it becomes ``<pad>`` at
    row 0 and ``<empty>`` elsewhere; a vocabulary that already holds that spelling gets the row
    number appended (``<pad:0>``).
    """
    keys = list(tokens)
    try:
        row = keys.index("")
    except ValueError:
        return keys, None
    base = "<pad>" if row == 0 else "<empty>"
    taken = set(keys)
    replacement = base if base not in taken else f"{base[:-1]}:{row}>"
    keys[row] = replacement
    return keys, replacement


def write_vocabulary(keys: Sequence[str], path: str | Path) -> Path:
    """Write one key per line (atomically), the format ``read_vocabulary`` reads back."""
    for row, key in enumerate(keys):
        if "\n" in key or "\r" in key:
            raise InvalidParameterError(
                f"key {key!r} at row {row} holds a line break; a vocabulary file has one key "
                "per line, so write this space with write_parquet instead"
            )
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text("".join(f"{key}\n" for key in keys), encoding="utf-8")
    return path


def file_fingerprint(*paths: str | Path | None) -> str:
    """Size and modification time of each file: cheap, and changes when a file is rewritten."""
    parts = []
    for path in paths:
        if path is not None:
            stat = Path(path).stat()
            parts.append(f"{stat.st_size}-{stat.st_mtime_ns}")
    return "+".join(parts)


def row_number_keys(
    matrix_path: str | Path, rows: int, *, how_to_name: str, numbers: str = "row numbers"
) -> list[str]:
    """Keys ``"0"``..``"n-1"`` for a matrix without a vocabulary, saying so in the log with
    ``how_to_name`` (what the user can do to get real keys) and what the numbers are."""
    matrix_path = Path(matrix_path)
    logger.warning(
        "%s: no vocabulary given or found beside it (pass vocab=, or %s as %s); "
        "the keys are the %s 0..%d",
        matrix_path,
        how_to_name,
        matrix_path.with_suffix(".vocab.txt").name,
        numbers,
        rows - 1,
    )
    return [str(row) for row in range(rows)]
