"""Tables with one vector per row: Parquet and CSV.

A table's vector column is found on its own when there is exactly one: a list column in
Parquet, a column of strings such as ``[0.1, 0.2]`` or ``0.1 0.2`` in CSV, or numeric columns
``dim_0 … dim_{d-1}`` (any common prefix followed by 0…d-1). Its key column is ``key``,
``word``, ``token``, ``text`` or ``id``, else the first text column. Other columns become
metadata. Errors about a row count rows from 0, as pandas does.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InvalidParameterError, MalformedFileError, SourceError
from ...space import EmbeddingSpace, Provenance
from ..vocabulary import (
    DEFAULT_MAX_INFLATION,
    check_inflation,
    check_max_inflation,
    file_fingerprint,
)
from .marker import (
    BUNDLED_QUERY_MODELS,
    PARQUET_MARKER,
    parse_marker,
    query_encoder,
    restore_reserved_names,
)

logger = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"

#: Column names taken as the key column of a table, in order of preference.
KEY_COLUMN_NAMES = ("key", "word", "token", "text", "id")


def load_table(
    path: str | Path,
    *,
    column: str | None = None,
    key_column: str | None = None,
    model: str | None = None,
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
    name: str | None = None,
) -> EmbeddingSpace:
    """A space from a Parquet or CSV table with one vector per row.

    ``column`` names the vector column (or the prefix of ``dim_0 … dim_n`` columns),
    ``key_column`` the column of unique keys; both are found on their own when unambiguous.

    Text queries need the model that made the vectors. A Parquet file that ``embscope encode``
    wrote names it, but a data file never chooses code to run: the named model is used only
    when it is a bundled one (``minilm``) or when ``model`` confirms it; otherwise a text query
    fails saying which model the file names and how to confirm it. ``model`` (``"minilm"``, a
    local directory or a hub id) also makes any other table answer text queries.
    ``max_inflation`` bounds how many times the file's size its columns may take in memory, as
    their sizes in the Parquet footer declare (at least 64 MiB is always allowed).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            is_parquet = handle.read(4) == PARQUET_MAGIC
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: a directory; point at the file inside it") from None
    max_inflation = check_max_inflation(max_inflation)
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise InvalidParameterError(
            f"model must be a model name (minilm), directory or hub id; got {model!r}"
        )
    if is_parquet:
        frame, matrix, marker, vector_columns = _read_parquet(path, column, max_inflation)
        kind = "parquet"
    else:
        frame, matrix, vector_columns = _read_csv(path, column, key_column)
        marker, kind = {}, "csv"

    if key_column is None and marker.get("key") not in (None, *frame.columns):
        raise MalformedFileError(
            path,
            f"its {PARQUET_MARKER.decode()!r} metadata names the key column "
            f"{marker['key']!r}, which the table lacks; pass key_column= to pick one",
        )
    key_name = key_column or marker.get("key") or _auto_key_column(frame)
    if key_name is not None and key_name not in frame.columns:
        raise InvalidParameterError(
            f"key_column={key_name!r} is not a column of {path.name}; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    if key_name is None:
        logger.warning(
            "%s: no key column (key, word, token, text, id or a text column); "
            "the keys are the row numbers 0..%d",
            path,
            len(frame) - 1,
        )
        keys = [str(row) for row in range(len(frame))]
    else:
        keys = _column_keys(frame[key_name], path, key_name)
    label_name = marker.get("label")
    if label_name not in frame.columns or label_name == key_name:
        label_name = None
    labels = None
    if label_name is not None:
        labels = ["" if pd.isna(v) else str(v) for v in frame[label_name].tolist()]
    metadata = frame.drop(columns=[c for c in (key_name, label_name) if c is not None])
    metadata = restore_reserved_names(metadata)
    options: dict[str, Any] = {"vector": vector_columns, "key_column": key_name}
    documents = marker.get("documents")
    if documents is not None:  # written by `embscope encode`: queries are texts
        options.update(documents)
    named = documents.get("model") if documents else None
    encode = query_encoder(path, named, model)
    if model is not None or (named is not None and named["name"] in BUNDLED_QUERY_MODELS):
        options["query_model"] = model or named["name"]
    return EmbeddingSpace(
        matrix,
        keys,
        labels=labels,
        metadata=metadata,
        metric=marker.get("metric", "cosine"),
        provenance=Provenance(
            source=str(path), kind=kind, options=options, fingerprint=file_fingerprint(path)
        ),
        name=name or path.name,
        encode=encode,
    )


def _read_parquet(
    path: Path, column: str | None, max_inflation: float | None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any], str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        footer = pq.read_metadata(path)
        _check_parquet_sizes(path, footer, max_inflation)
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise MalformedFileError(path, f"not a readable Parquet file ({error})") from None
    schema_metadata = table.schema.metadata or {}
    marker = (
        parse_marker(schema_metadata[PARQUET_MARKER], path)
        if PARQUET_MARKER in schema_metadata
        else {}
    )
    names = table.column_names
    column = column or marker.get("vector")

    def is_list(field: Any) -> bool:
        return (
            pa.types.is_list(field.type)
            or pa.types.is_large_list(field.type)
            or pa.types.is_fixed_size_list(field.type)
        )

    if column is None:
        lists = [f.name for f in table.schema if is_list(f)]
        if len(lists) > 1:
            raise InvalidParameterError(
                f"{path.name} has several list columns ({', '.join(lists)}); pass column= "
                "(CLI: --column) to pick the vectors"
            )
        column = lists[0] if lists else None
    if column is not None and column in names and is_list(table.schema.field(column)):
        matrix = _list_column_matrix(table.column(column), path, column)
        frame = table.drop_columns([column]).to_pandas()
        return frame, matrix, marker, column
    frame = table.to_pandas()
    matrix, used = _matrix_from_frame(frame, column, path)
    return frame.drop(columns=used), matrix, marker, _describe(used)


def _check_parquet_sizes(path: Path, footer: Any, max_inflation: float | None) -> None:
    """Refuse a table whose footer declares far more data than the file holds: run-length and
    dictionary encodings let a few bytes stand for millions of values."""
    declared = 0
    for group in range(footer.num_row_groups):
        row_group = footer.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            # 8 bytes a value: what a float64, an int64 or a pointer to a string takes
            declared += max(chunk.total_uncompressed_size, chunk.num_values * 8)
    check_inflation(
        path,
        f"the table ({footer.num_rows:,} rows)",
        declared=declared,
        stored=path.stat().st_size,
        max_inflation=max_inflation,
    )


def _list_column_matrix(chunked: Any, path: Path, column: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    value_type = array.type.value_type
    if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        raise MalformedFileError(
            path, f"column {column!r} holds lists of {value_type}, not numbers"
        )
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise MalformedFileError(path, f"row {row} of column {column!r} has no vector (null)")
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if len(lengths) == 0:
        raise MalformedFileError(path, "the table has no rows")
    ragged = np.flatnonzero(lengths != lengths[0])
    if ragged.size:
        row = int(ragged[0])
        raise MalformedFileError(
            path,
            f"row {row} of column {column!r} has {lengths[row]} numbers but row 0 has "
            f"{lengths[0]}; every vector must have the same length",
        )
    values = array.flatten()
    if values.null_count:
        flat = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise MalformedFileError(
            path, f"row {flat // int(lengths[0])} of column {column!r} has a missing number"
        )
    dtype = np.float16 if pa.types.is_float16(value_type) else np.float32
    flat_values = np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)
    if lengths[0] == 0:
        raise MalformedFileError(path, f"column {column!r} holds empty vectors")
    return flat_values.reshape(len(lengths), int(lengths[0]))


def _read_csv(
    path: Path, column: str | None, key_column: str | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise MalformedFileError(path, "not UTF-8; re-save it as UTF-8", line=line) from None
    try:
        # "NA", "null", "nan" are words; only an empty field is missing
        frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise MalformedFileError(path, "empty file; expected a header line and rows") from None
    except pd.errors.ParserError as error:
        raise MalformedFileError(path, f"not a well-formed CSV table: {error}") from None
    key_name = key_column or next((c for c in frame.columns if c in KEY_COLUMN_NAMES), None)
    if key_name in frame.columns and frame[key_name].dtype.kind in "iuf":
        # re-read the key column as text, so "007" stays "007"
        frame[key_name] = pd.read_csv(
            io.StringIO(text),
            usecols=[key_name],
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )[key_name]
    matrix, used = _matrix_from_frame(frame, column, path)
    return frame.drop(columns=used), matrix, _describe(used)


_NUMBER_SPLIT = re.compile(r"[\s,;]+")
_BRACKETS = "[]()"


def _numbers(text: str) -> list[str]:
    return [p for p in _NUMBER_SPLIT.split(text.strip().strip(_BRACKETS)) if p]


def _looks_like_vector(series: pd.Series) -> bool:
    if not (pd.api.types.is_string_dtype(series) or series.dtype == object):
        return False
    for value in series.dropna().head(5):
        if not isinstance(value, str):
            return False
        parts = _numbers(value)
        if len(parts) < 2:
            return False
        try:
            [float(p) for p in parts]
        except ValueError:
            return False
    return series.notna().any()


_WIDE_NAME = re.compile(r"^(.*?)(\d+)$")


def _wide_groups(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Numeric columns named ``<prefix>0 … <prefix>{d-1}`` (or 1…d), grouped by prefix."""
    groups: dict[str, dict[int, str]] = {}
    for name in frame.columns:
        match = _WIDE_NAME.match(str(name))
        if match and pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool:
            groups.setdefault(match.group(1), {})[int(match.group(2))] = name
    wide = {}
    for prefix, numbered in groups.items():
        start = min(numbered)
        if (
            len(numbered) >= 2
            and start in (0, 1)
            and sorted(numbered) == list(range(start, start + len(numbered)))
        ):
            wide[prefix] = [numbered[i] for i in sorted(numbered)]
    return wide


def _matrix_from_frame(
    frame: pd.DataFrame, column: str | None, path: Path
) -> tuple[np.ndarray, list[str]]:
    """The matrix and the columns it came from: one text column of vectors, or wide columns."""
    columns = ", ".join(map(str, frame.columns))
    wide = _wide_groups(frame)
    if column is not None:
        if column in frame.columns:
            return _text_column_matrix(frame[column], path, column), [column]
        for prefix in (column, f"{column}_"):
            if prefix in wide:
                return _wide_matrix(frame, wide[prefix], path), wide[prefix]
        raise InvalidParameterError(
            f"column={column!r} is not a column of {path.name}; columns: {columns}"
        )
    texts = [c for c in frame.columns if _looks_like_vector(frame[c])]
    if len(texts) == 1:
        return _text_column_matrix(frame[texts[0]], path, texts[0]), [texts[0]]
    if len(texts) > 1:
        raise InvalidParameterError(
            f"{path.name} has several vector columns ({', '.join(texts)}); pass column= "
            "(CLI: --column) to pick one"
        )
    if len(wide) == 1:
        (names,) = wide.values()
        return _wide_matrix(frame, names, path), names
    if len(wide) > 1:
        prefixes = ", ".join(f"{p}0..{p}{len(n) - 1}" for p, n in wide.items())
        raise InvalidParameterError(
            f"{path.name} has several groups of numbered columns ({prefixes}); pass column= "
            "with the prefix of the vectors"
        )
    raise MalformedFileError(
        path,
        f"no vector column: expected a list column, a column of numbers like '[0.1, 0.2]', "
        f"or numbered columns dim_0..dim_n; columns: {columns}",
    )


def _text_column_matrix(series: pd.Series, path: Path, column: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        raise MalformedFileError(path, f"column {column!r} holds single numbers, not vectors")
    rows: list[list[str]] = []
    for row, value in enumerate(series.tolist()):
        if isinstance(value, np.ndarray | list | tuple):
            parts = [str(v) for v in value]
        elif isinstance(value, str):
            parts = _numbers(value)
        else:
            raise MalformedFileError(path, f"row {row} of column {column!r} has no vector")
        if rows and len(parts) != len(rows[0]):
            raise MalformedFileError(
                path,
                f"row {row} of column {column!r} has {len(parts)} numbers but row 0 has "
                f"{len(rows[0])}; every vector must have the same length",
            )
        rows.append(parts)
    if not rows:
        raise MalformedFileError(path, "the table has no rows")
    try:
        return np.array(rows, dtype=np.float32)
    except ValueError:
        for row, parts in enumerate(rows):
            for part in parts:
                try:
                    float(part)
                except ValueError:
                    raise MalformedFileError(
                        path, f"row {row} of column {column!r}: {part!r} is not a number"
                    ) from None
        raise


def _wide_matrix(frame: pd.DataFrame, names: list[str], path: Path) -> np.ndarray:
    block = frame[names]
    missing = block.isna().any(axis=1).to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise MalformedFileError(path, f"row {row} has an empty cell among {names[0]}..{names[-1]}")
    return block.to_numpy(dtype=np.float32)


def _describe(columns: list[str]) -> str:
    return columns[0] if len(columns) == 1 else f"{columns[0]}..{columns[-1]}"


def _auto_key_column(frame: pd.DataFrame) -> str | None:
    for wanted in KEY_COLUMN_NAMES:
        if wanted in frame.columns:
            return wanted
    folded = {str(c).casefold(): c for c in frame.columns}
    for wanted in KEY_COLUMN_NAMES:
        if wanted in folded:
            return folded[wanted]
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]) and frame[name].dtype != bool:
            return name
    return None


def _column_keys(series: pd.Series, path: Path, column: str) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    for row, value in enumerate(series.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise MalformedFileError(path, f"row {row} has no key (column {column!r} is empty)")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = str(value)
        if key in seen:
            raise MalformedFileError(
                path, f"duplicate key {key!r} in column {column!r}: rows {seen[key]} and {row}"
            )
        seen[key] = row
        keys.append(key)
    return keys
