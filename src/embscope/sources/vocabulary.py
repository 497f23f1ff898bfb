"""Vocabulary files: one token per line, row i of the matrix is line i."""

from __future__ import annotations

from pathlib import Path

from ..errors import MalformedFileError

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
                path, f"not UTF-8 (byte {error.start + 1} of the line); re-save it as UTF-8",
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
