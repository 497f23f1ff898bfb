"""Query vectors a user brings in a file (``embscope neighbors --vectors``): an ``.npy``, or text
with one vector per line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import MalformedFileError, SourceError
from .npy import NPY_MAGIC


def read_query_vectors(path: str | Path, *, dim: int) -> np.ndarray:
    """Query vectors from a file: an ``.npy`` of shape (d,) or (m, d), or text with one vector
    per line (numbers separated by spaces, tabs or commas). Returns float32 (m, d)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such vector file")
    if path.suffix == ".npy":
        with path.open("rb") as handle:
            if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise MalformedFileError(path, "not an .npy file: it lacks NumPy's header")
        try:
            matrix = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:  # not .npy, object arrays, cut short
            raise MalformedFileError(path, f"not a readable .npy of numbers ({error})") from None
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or matrix.shape[1] != dim or not np.issubdtype(matrix.dtype, np.number):
            raise MalformedFileError(
                path, f"expected numbers of shape ({dim},) or (m, {dim}); got {matrix.shape}"
            )
        return matrix.astype(np.float32)
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes().count(b"\n", 0, error.start) + 1
        raise MalformedFileError(path, "not UTF-8 text (nor .npy)", line=line) from None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        if len(fields) != dim:
            raise MalformedFileError(
                path, f"{len(fields)} values where the space has {dim} dimensions", line=number
            )
        try:
            rows.append([float(field) for field in fields])
        except ValueError:
            raise MalformedFileError(path, "a value is not a number", line=number) from None
    if not rows:
        raise MalformedFileError(path, "no vectors in the file")
    return np.asarray(rows, dtype=np.float32)
