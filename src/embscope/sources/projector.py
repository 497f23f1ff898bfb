"""TensorBoard projector files, ``vectors.tsv`` + ``metadata.tsv``, read and written.

Reading follows TensorBoard's own parser (``vz_projector/data-provider.ts``):

- ``vectors.tsv``: one vector per line, tab-separated numbers, no header; blank lines are
  skipped; a first field that is not a number is that row's label.
- ``metadata.tsv``: blank (whitespace-only) lines are skipped; when the first line holds a tab
  it is a header naming the columns, otherwise the file is a single column of labels.

Every line must have as many fields as the first one (the header for metadata); a line that
does not is an error naming it. Column types of the metadata are inferred (integer, float,
True/False, text), as TSV has none.

Keys, first rule that applies:

1. a header column named ``key`` (what ``write_projector`` writes), or ``key_column=``: its
   values must be unique, a duplicate is an error naming both lines;
2. the first metadata column, when its values are unique;
3. otherwise the row numbers ``"0"``, ``"1"``, … with the first column as the labels (and the
   log says so). TensorBoard's own examples label points by class ("7", "positive"), so
   repeated values there are normal, not a broken file.

Without ``metadata.tsv``, the labels in ``vectors.tsv`` (if any) play the first column's part.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..space import EmbeddingSpace, Provenance
from .arrays.marker import reserved_safe_metadata, restore_reserved_names
from .vocabulary import file_fingerprint

logger = logging.getLogger(__name__)

VECTORS_NAME = "vectors.tsv"
METADATA_NAME = "metadata.tsv"
CONFIG_NAME = "projector_config.pbtxt"

_CHUNK_LINES = 20_000
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf)")


def load_projector(
    path: str | Path,
    *,
    metadata: str | Path | None = None,
    key_column: str | None = None,
    name: str | None = None,
) -> EmbeddingSpace:
    """A space from a projector export: a directory holding ``vectors.tsv``, or that file.

    ``metadata`` defaults to ``metadata.tsv`` beside the vectors (``<x>metadata.tsv`` for
    ``<x>vectors.tsv``); ``key_column`` names the metadata column of unique keys.
    """
    vectors_path, metadata_path = _locate(Path(path), metadata)
    matrix, vector_labels, vector_lines = _read_vectors(vectors_path)
    rows = matrix.shape[0]
    if metadata_path is not None:
        columns, cells, lines, has_header = _read_metadata(metadata_path)
        if len(cells) != rows:
            hint = (
                ""
                if has_header
                else "; a single-column file has no header line, and an "
                "empty token (such as padding) is a blank line, which TensorBoard skips"
            )
            raise MalformedFileError(
                metadata_path,
                f"{len(cells):,} rows of metadata (blank lines skipped, as TensorBoard does) "
                f"for the {rows:,} vectors of {vectors_path.name}; they must match one to one"
                + hint,
            )
        where: Path = metadata_path
    elif vector_labels is not None:
        columns, cells, lines = ["label"], [[v] for v in vector_labels], vector_lines
        where = vectors_path
    else:
        columns, cells, lines = [], [[] for _ in range(rows)], []
        where = vectors_path

    keys, labels, metadata_frame, key_rule = _keys_labels_metadata(
        columns, cells, lines, where, key_column
    )
    options: dict[str, Any] = {
        "metadata": str(metadata_path) if metadata_path else None,
        "keys": key_rule,
    }
    return EmbeddingSpace(
        matrix,
        keys,
        labels=labels,
        metadata=metadata_frame,
        provenance=Provenance(
            source=str(vectors_path.parent if Path(path).is_dir() else vectors_path),
            kind="projector",
            options=options,
            fingerprint=file_fingerprint(vectors_path, metadata_path),
        ),
        name=name or (Path(path).name if Path(path).is_dir() else vectors_path.parent.name),
    )


def _locate(path: Path, metadata: str | Path | None) -> tuple[Path, Path | None]:
    if path.is_dir():
        vectors_path = path / VECTORS_NAME
        if not vectors_path.is_file():
            found = ", ".join(sorted(p.name for p in path.glob("*.tsv"))) or "none"
            raise SourceError(
                f"{path}: no {VECTORS_NAME} in this directory (TSV files there: {found}); "
                "point at the vectors file itself"
            )
    elif path.is_file():
        if path.name == METADATA_NAME:
            raise SourceError(
                f"{path} is the metadata of a projector export; point at {VECTORS_NAME} or at "
                "the directory holding both"
            )
        vectors_path = path
    else:
        raise SourceError(f"{path}: no such file or directory")
    if metadata is not None:
        metadata_path = Path(metadata)
        if not metadata_path.is_file():
            raise SourceError(f"{metadata_path}: no such metadata file")
        return vectors_path, metadata_path
    sibling_names = [METADATA_NAME]
    if "vectors" in vectors_path.name:
        sibling_names.insert(0, vectors_path.name.replace("vectors", "metadata"))
    for sibling in sibling_names:
        candidate = vectors_path.with_name(sibling)
        if candidate.is_file() and candidate != vectors_path:
            return vectors_path, candidate
    return vectors_path, None


def _decoded_lines(path: Path) -> Iterator[str]:
    """The file's lines without their newline, read one at a time: a flood of blank lines is
    skipped as it streams past, never held."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.removesuffix(b"\n").decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedFileError(
                    path, "not UTF-8; re-save it as UTF-8", line=number
                ) from None


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_vectors(path: Path) -> tuple[np.ndarray, list[str] | None, list[int]]:
    """The matrix, the labels when the lines start with text, and each row's line number."""
    labelled: bool | None = None
    width = first_line = 0
    labels: list[str] = []
    blocks: list[np.ndarray] = []
    pending: list[str] = []
    row_lines: list[int] = []
    for number, line in enumerate(_decoded_lines(path), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        fields = stripped.count("\t") + 1
        if labelled is None:
            labelled = not _is_number(stripped.split("\t", 1)[0])
            width, first_line = fields, number
            if labelled and width == 1:
                raise MalformedFileError(path, "a label but no numbers", line=number)
        if fields != width:
            raise MalformedFileError(
                path,
                f"{fields} tab-separated fields, but line {first_line} has {width}; "
                "every vector must have the same number of dimensions",
                line=number,
            )
        if labelled:
            label, stripped = stripped.split("\t", 1)
            labels.append(label)
        pending.append(stripped)
        row_lines.append(number)
        if len(pending) == _CHUNK_LINES:
            blocks.append(_parse_block(pending, row_lines[-len(pending) :], path, bool(labelled)))
            pending = []
    if pending:
        blocks.append(_parse_block(pending, row_lines[-len(pending) :], path, bool(labelled)))
    if not blocks:
        raise MalformedFileError(path, "no vectors: the file is empty")
    matrix = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return matrix, (labels if labelled else None), row_lines


def _parse_block(rows: list[str], lines: list[int], path: Path, labelled: bool) -> np.ndarray:
    try:
        return np.loadtxt(rows, delimiter="\t", dtype=np.float32, comments=None, ndmin=2)
    except ValueError:
        for row, number in zip(rows, lines, strict=True):
            for column, field in enumerate(row.split("\t"), start=2 if labelled else 1):
                if not _is_number(field):
                    raise MalformedFileError(
                        path, f"field {column} ({field!r}) is not a number", line=number
                    ) from None
        raise


def _read_metadata(path: Path) -> tuple[list[str], list[list[str]], list[int], bool]:
    """Column names, the rows of cells, each row's line number, and whether a header was there."""
    columns: list[str] = []
    has_header = False
    cells: list[list[str]] = []
    lines: list[int] = []
    for number, line in enumerate(_decoded_lines(path), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if not columns:
            has_header = "\t" in line
            if has_header:
                columns = line.split("\t")
                repeated = sorted({c for c in columns if columns.count(c) > 1})
                if repeated:
                    raise MalformedFileError(
                        path, f"the header repeats column {repeated[0]!r}", line=number
                    )
                continue
            columns = ["label"]
        fields = line.split("\t")
        if len(fields) != len(columns):
            expected = (
                f"the header names {len(columns)} columns"
                if has_header
                else "the first line has one column and no header, so every line has one"
            )
            raise MalformedFileError(
                path, f"{len(fields)} tab-separated fields, but {expected}", line=number
            )
        cells.append(fields)
        lines.append(number)
    return columns, cells, lines, has_header


def _keys_labels_metadata(
    columns: list[str],
    cells: list[list[str]],
    lines: list[int],
    path: Path,
    key_column: str | None,
) -> tuple[list[str], list[str] | None, pd.DataFrame, str]:
    rows = len(cells)
    values = {name: [row[i] for row in cells] for i, name in enumerate(columns)}
    if key_column is not None and key_column not in values:
        raise InvalidParameterError(
            f"key_column={key_column!r} is not a column of {path.name}; "
            f"columns: {', '.join(columns) or 'none'}"
        )
    key_name = key_column or ("key" if "key" in values else None)
    if key_name is not None:
        keys = values[key_name]
        _check_unique(keys, lines, path, key_name)
        label_name = "label" if "label" in values and key_name != "label" else None
        labels = values[label_name] if label_name else None
        rest = [c for c in columns if c not in (key_name, label_name)]
        return keys, labels, _typed_frame(values, rest, rows), f"column {key_name!r}"
    if not columns:
        logger.warning("%s: no metadata; the keys are the row numbers 0..%d", path, rows - 1)
        return [str(r) for r in range(rows)], None, pd.DataFrame(index=range(rows)), "row numbers"
    first = columns[0]
    if len(set(values[first])) == rows and "" not in values[first]:
        frame = _typed_frame(values, columns[1:], rows)
        return values[first], None, frame, f"column {first!r}"
    logger.info(
        "%s: column %r repeats values, so the keys are the row numbers and %r gives the labels",
        path,
        first,
        first,
    )
    return (
        [str(r) for r in range(rows)],
        values[first],
        _typed_frame(values, columns, rows),
        "row numbers",
    )


def _check_unique(keys: list[str], lines: list[int], path: Path, column: str) -> None:
    seen: dict[str, int] = {}
    for key, line in zip(keys, lines, strict=True):
        if key in seen:
            raise MalformedFileError(
                path,
                f"duplicate key {key!r} in column {column!r} (first at line {seen[key]}); "
                "keys must be unique",
                line=line,
            )
        seen[key] = line


def _typed_frame(values: dict[str, list[str]], names: list[str], rows: int) -> pd.DataFrame:
    frame = pd.DataFrame({name: _typed(values[name]) for name in names}, index=range(rows))
    return restore_reserved_names(frame)


def _typed(cells: list[str]) -> pd.Series:
    """A column of TSV cells as integers, floats, booleans or text; ``""`` is a missing number."""
    present = [c for c in cells if c != ""]
    if not present:
        return pd.Series(cells)
    complete = len(present) == len(cells)
    if all(_INTEGER.fullmatch(c) for c in present):
        try:
            if complete:
                return pd.Series(np.array([int(c) for c in cells], dtype=np.int64))
            return pd.Series([int(c) if c else pd.NA for c in cells], dtype="Int64")
        except OverflowError:
            return pd.Series(cells)
    if all(_FLOAT.fullmatch(c) for c in present):
        return pd.Series(np.array([float(c) if c else np.nan for c in cells], dtype=np.float64))
    if complete and set(present) <= {"True", "False"}:
        return pd.Series(np.array([c == "True" for c in cells], dtype=bool))
    return pd.Series(cells)


def write_projector(space: EmbeddingSpace, out_dir: str | Path, *, config: bool = True) -> Path:
    """Write ``vectors.tsv`` and ``metadata.tsv`` (and ``projector_config.pbtxt``) to ``out_dir``.

    The files load in projector.tensorflow.org ("Load" → the two TSVs) and in TensorBoard
    (``tensorboard --logdir out_dir`` with the config), and ``load_projector`` reads them back:
    same keys, labels, metadata and float32 vectors (written with 9 significant digits, enough
    to round-trip float32 exactly). metadata.tsv has the header ``key``, ``label``, then the
    metadata columns; tabs and line breaks inside labels or metadata become spaces (logged),
    as TSV cannot hold them. Returns ``out_dir``.
    """
    out_dir = Path(out_dir)
    metadata = reserved_safe_metadata(space.metadata)
    header = ["key", "label", *(str(c) for c in metadata.columns)]
    for column in header:
        if _BREAKS.search(column) or not column:
            raise InvalidParameterError(
                f"metadata column name {column!r} cannot be a TSV header cell; rename it"
            )
    for row, key in enumerate(space.keys):
        if _BREAKS.search(key):
            raise InvalidParameterError(
                f"key {key!r} at row {row} holds a tab or line break, which a TSV cell cannot "
                "hold; write this space with write_parquet instead"
            )
    columns = [list(space.keys), _clean(list(space.labels), "label")]
    columns += [_clean(_format_cells(metadata[c]), str(c)) for c in metadata.columns]
    body = ["\t".join(header)]
    for row, cells in enumerate(zip(*columns, strict=True)):
        line = "\t".join(cells)
        if not line.strip():
            raise InvalidParameterError(
                f"row {row} (key {space.keys[row]!r}) would be a blank line, which TensorBoard "
                "skips; give it a visible key"
            )
        body.append(line)

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / METADATA_NAME) as temporary:
        temporary.write_text("\n".join(body) + "\n", encoding="utf-8")
    with atomic_path(out_dir / VECTORS_NAME) as temporary, temporary.open("w") as handle:
        np.savetxt(handle, np.asarray(space.vectors, dtype=np.float32), fmt="%.9g", delimiter="\t")
    if config:
        tensor_name = re.sub(r"[^\w.\- ]", "_", space.name) or "embeddings"
        with atomic_path(out_dir / CONFIG_NAME) as temporary:
            temporary.write_text(
                "embeddings {\n"
                f'  tensor_name: "{tensor_name}"\n'
                f'  tensor_path: "{VECTORS_NAME}"\n'
                f'  metadata_path: "{METADATA_NAME}"\n'
                "}\n",
                encoding="utf-8",
            )
    return out_dir


_BREAKS = re.compile(r"[\t\n\r]")


def _format_cells(series: pd.Series) -> list[str]:
    if series.dtype == bool:
        return ["True" if v else "False" for v in series.tolist()]
    if pd.api.types.is_float_dtype(series):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return ["" if np.isnan(v) else repr(float(v)) for v in numbers]
    return ["" if _missing(v) else str(v) for v in series.tolist()]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _clean(cells: list[str], column: str) -> list[str]:
    broken = sum(1 for c in cells if _BREAKS.search(c))
    if not broken:
        return cells
    logger.warning(
        "column %r: %d cells hold tabs or line breaks, written as spaces (TSV cannot hold them)",
        column,
        broken,
    )
    return [_BREAKS.sub(" ", c) for c in cells]


__all__ = ["load_projector", "write_projector"]
