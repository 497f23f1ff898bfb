"""NumPy arrays (``.npy``, ``.npz``) and tables (Parquet, CSV) with a vector column, both ways.

Reading never unpickles: ``.npy`` files are memory-mapped with ``allow_pickle=False`` and an
``.npz`` member is read from its own header. Keys come from ``vocab=``, a string array inside the
``.npz``, or a vocabulary file beside the matrix (``find_vocabulary``); without any, the keys
are the row numbers and the log says so.

A table's vector column is found on its own when there is exactly one: a list column in
Parquet, a column of strings such as ``[0.1, 0.2]`` or ``0.1 0.2`` in CSV, or numeric columns
``dim_0 … dim_{d-1}`` (any common prefix followed by 0…d-1). Its key column is ``key``,
``word``, ``token``, ``text`` or ``id``, else the first text column. Other columns become
metadata. Errors about a row count rows from 0, as pandas does.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..space import EmbeddingSpace, Provenance
from .vocabulary import (
    file_fingerprint,
    find_vocabulary,
    keys_for_tokens,
    read_vocabulary,
    row_number_keys,
    write_vocabulary,
)

logger = logging.getLogger(__name__)

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"
PARQUET_MAGIC = b"PAR1"

#: Names under which an ``.npz`` may hold the keys (a 1-D string array), in order of preference.
KEY_ARRAY_NAMES = ("keys", "vocab", "vocabulary", "words", "tokens", "index")

#: Column names taken as the key column of a table, in order of preference.
KEY_COLUMN_NAMES = ("key", "word", "token", "text", "id")

#: Columns that ``write_parquet`` and ``write_projector`` use for the space itself; metadata
#: columns of the same name are stored as ``metadata.<name>`` and renamed back on reading.
RESERVED_COLUMNS = ("key", "label", "vector")
RENAMED_PREFIX = "metadata."

#: Parquet schema metadata written by ``write_parquet`` so reading it back is exact.
PARQUET_MARKER = b"embscope"


# ---- .npy / .npz ------------------------------------------------------------------------


def load_array(
    path: str | Path,
    *,
    vocab: str | Path | None = None,
    key: str | None = None,
    name: str | None = None,
) -> EmbeddingSpace:
    """A space from an ``.npy`` matrix (memory-mapped) or one array of an ``.npz`` archive.

    ``key`` names the array inside an ``.npz`` that holds several; a 1-D string array in the
    archive (``keys``, ``vocab``, …) gives the keys unless ``vocab`` names a vocabulary file.
    """
    path = Path(path)
    kind = _sniff_array_file(path)
    keys_inside: list[str] | None = None
    keys_name = None
    if kind == "npy":
        if key is not None:
            raise InvalidParameterError(
                f"key={key!r} picks an array inside an .npz archive; {path.name} is a .npy "
                "file holding a single array, so leave key out"
            )
        matrix = _open_npy(path)
        chosen = None
    else:
        matrix, chosen, keys_name, keys_inside = _open_npz(path, key)
    rows = matrix.shape[0]

    vocab_path = Path(vocab) if vocab is not None else None
    if vocab_path is not None:
        tokens: list[str] | None = read_vocabulary(vocab_path, expected_rows=rows)
        vocabulary = str(vocab_path)
    elif keys_inside is not None:
        tokens, vocabulary = keys_inside, f"{path.name}: array {keys_name!r}"
    else:
        vocab_path = find_vocabulary(path)
        if vocab_path is not None:
            tokens, vocabulary = read_vocabulary(vocab_path, expected_rows=rows), str(vocab_path)
        else:
            tokens, vocabulary = None, None

    empty_key = None
    if tokens is None:
        keys = row_number_keys(path, rows, how_to_name="put one token per line")
    else:
        keys, empty_key = keys_for_tokens(tokens)
    options: dict[str, Any] = {"vocabulary": vocabulary}
    if chosen is not None:
        options["array"] = chosen
    if empty_key is not None:
        options["empty_token_key"] = empty_key
    return EmbeddingSpace(
        matrix,
        keys,
        provenance=Provenance(
            source=str(path),
            kind=kind,
            options=options,
            fingerprint=file_fingerprint(path, vocab_path),
        ),
        name=name or path.name,
    )


def _sniff_array_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            start = handle.read(6)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: a directory; point at the file inside it") from None
    if start == NPY_MAGIC:
        return "npy"
    if start.startswith(ZIP_MAGIC):
        return "npz"
    raise MalformedFileError(
        path, "neither a NumPy .npy file nor an .npz archive (no NPY or zip signature)"
    )


def _read_npy_header(handle: Any, where: str | Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        return np.lib.format.read_array_header_2_0(handle)
    except ValueError as error:
        raise MalformedFileError(where, f"unreadable .npy header ({error})") from None


def _open_npy(path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        shape, _, dtype = _read_npy_header(handle, path)
        data_start = handle.tell()
    _check_matrix(path, shape, dtype)
    expected = data_start + int(np.prod(shape)) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise MalformedFileError(
            path,
            f"truncated: the header promises {shape[0]:,} x {shape[1]} {dtype} "
            f"({expected:,} bytes) but the file has {actual:,} bytes; copy it again",
        )
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _check_matrix(
    where: str | Path, shape: tuple[int, ...], dtype: np.dtype, *, what: str = ""
) -> None:
    label = f"array {what!r}" if what else "the array"
    if dtype.hasobject:
        raise MalformedFileError(
            where,
            f"{label} holds Python objects, which would need unpickling (never done here); "
            "save a float array instead, e.g. np.save(path, np.asarray(x, dtype=np.float32))",
        )
    if len(shape) != 2:
        hint = {
            0: "a single number",
            1: f"a 1-D array of {shape[0]:,} values; reshape it to (rows, dimensions)",
        }.get(len(shape), f"{len(shape)}-D; pick one 2-D slice or reshape it to (-1, {shape[-1]})")
        raise MalformedFileError(
            where,
            f"{label} has shape {shape}: {hint}; an embedding matrix is 2-D, rows x dimensions",
        )
    if dtype.kind != "f":
        raise MalformedFileError(
            where,
            f"{label} has dtype {dtype}, not floating point; embeddings must be float16, "
            "float32 or float64 (convert with .astype(np.float32))",
        )
    if shape[0] == 0 or shape[1] == 0:
        raise MalformedFileError(where, f"{label} is empty (shape {shape})")


def _open_npz(path: Path, key: str | None) -> tuple[np.ndarray, str, str | None, list[str] | None]:
    """The chosen matrix, its name, and the name and values of the keys array (if any)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise MalformedFileError(path, f"not a readable .npz archive ({error})") from None
    with archive:
        headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        members: dict[str, str] = {}
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            array_name = member[: -len(".npy")]
            try:
                with archive.open(member) as handle:
                    shape, _, dtype = _read_npy_header(handle, f"{path} ({array_name})")
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise MalformedFileError(path, f"array {array_name!r}: {error}") from None
            headers[array_name] = (shape, dtype)
            members[array_name] = member
        if not headers:
            raise MalformedFileError(path, "an archive without any .npy member; not an .npz file")
        listing = ", ".join(f"{n} {s} {d}" for n, (s, d) in headers.items())

        if key is not None:
            if key not in headers:
                raise InvalidParameterError(
                    f"key={key!r} is not an array of {path.name}; it holds: {listing}"
                )
            chosen = key
        else:
            matrices = [n for n, (s, d) in headers.items() if len(s) == 2 and d.kind in "fiu"]
            if len(matrices) > 1:
                raise InvalidParameterError(
                    f"{path.name} holds several 2-D arrays ({listing}); pass key= "
                    "(CLI: --key) to pick the embedding matrix"
                )
            if not matrices:
                raise MalformedFileError(
                    path, f"no 2-D array (rows x dimensions) in the archive; it holds: {listing}"
                )
            chosen = matrices[0]
        shape, dtype = headers[chosen]
        _check_matrix(path, shape, dtype, what=chosen)
        matrix = _read_member(archive, members[chosen], path, chosen)

        keys_name = _keys_array_name(headers, chosen)
        keys = None
        if keys_name is not None:
            keys_shape = headers[keys_name][0]
            if keys_shape[0] != shape[0]:
                raise MalformedFileError(
                    path,
                    f"array {keys_name!r} holds {keys_shape[0]:,} keys for the "
                    f"{shape[0]:,} rows of {chosen!r}; they must match one to one",
                )
            raw = _read_member(archive, members[keys_name], path, keys_name)
            keys = _strings(raw, path, keys_name)
    return matrix, chosen, keys_name, keys


def _keys_array_name(
    headers: dict[str, tuple[tuple[int, ...], np.dtype]], chosen: str
) -> str | None:
    strings = [
        n
        for n, (s, d) in headers.items()
        if n != chosen
        and len(s) == 1
        and (d.kind in "US" or (d.hasobject and n in KEY_ARRAY_NAMES))
    ]
    for preferred in KEY_ARRAY_NAMES:
        if preferred in strings:
            return preferred
    return strings[0] if len(strings) == 1 else None


def _read_member(archive: zipfile.ZipFile, member: str, path: Path, array_name: str) -> np.ndarray:
    try:
        with archive.open(member) as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise MalformedFileError(
                path,
                f"array {array_name!r} holds Python objects, which would need unpickling "
                "(never done here); save keys as np.array(keys, dtype=str)",
            ) from None
        raise MalformedFileError(path, f"array {array_name!r}: {error}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise MalformedFileError(path, f"array {array_name!r} is truncated ({error})") from None


def _strings(raw: np.ndarray, path: Path, array_name: str) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    for row, value in enumerate(raw.tolist()):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedFileError(
                    path, f"array {array_name!r}: the key at row {row} is not UTF-8"
                ) from None
        if value in seen:
            raise MalformedFileError(
                path,
                f"array {array_name!r} holds the key {value!r} twice: rows {seen[value]} and {row}",
            )
        seen[value] = row
        keys.append(value)
    return keys


def write_npy(space: EmbeddingSpace, path: str | Path) -> Path:
    """Write the matrix as ``.npy`` and the keys as ``<stem>.vocab.txt`` beside it.

    ``load`` of the ``.npy`` finds the vocabulary again. Labels and metadata are not kept (use
    ``write_parquet`` for those); the dtype is (float32 or float16). Each file is replaced
    whole, the vocabulary first.
    """
    path = Path(path)
    if path.suffix != ".npy":
        raise InvalidParameterError(f"path must end in .npy; got {path.name!r}")
    write_vocabulary(space.keys, path.with_suffix(".vocab.txt"))
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        # a file object, because np.save appends .npy to a path that lacks it
        np.save(handle, np.asarray(space.vectors), allow_pickle=False)
    return path


# ---- Parquet / CSV ------------------------------------------------------------------------


def load_table(
    path: str | Path,
    *,
    column: str | None = None,
    key_column: str | None = None,
    name: str | None = None,
) -> EmbeddingSpace:
    """A space from a Parquet or CSV table with one vector per row.

    ``column`` names the vector column (or the prefix of ``dim_0 … dim_n`` columns),
    ``key_column`` the column of unique keys; both are found on their own when unambiguous.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            is_parquet = handle.read(4) == PARQUET_MAGIC
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: a directory; point at the file inside it") from None
    if is_parquet:
        frame, matrix, marker, vector_columns = _read_parquet(path, column)
        kind = "parquet"
    else:
        frame, matrix, vector_columns = _read_csv(path, column, key_column)
        marker, kind = {}, "csv"

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
    encode = None
    documents = marker.get("documents")
    if isinstance(documents, dict):  # written by `embscope encode`: queries are texts
        from ..encode import Encoder, ModelSpec

        options.update(documents)
        if isinstance(documents.get("model"), dict):
            encode = Encoder(ModelSpec(**documents["model"])).encode_one
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
    path: Path, column: str | None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any], str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise MalformedFileError(path, f"not a readable Parquet file ({error})") from None
    schema_metadata = table.schema.metadata or {}
    marker = (
        json.loads(schema_metadata[PARQUET_MARKER]) if PARQUET_MARKER in schema_metadata else {}
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


def write_parquet(space: EmbeddingSpace, path: str | Path) -> Path:
    """Write ``key``, ``label``, the metadata columns and a fixed-size-list float32 ``vector``.

    ``load_table`` reads it back exactly (keys, labels, metadata, metric; float16 vectors come
    back as float32). A metadata column named ``key``, ``label`` or ``vector`` is stored as
    ``metadata.<name>``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    metadata = reserved_safe_metadata(space.metadata)
    vectors = np.ascontiguousarray(space.vectors, dtype=np.float32)
    columns: dict[str, Any] = {
        "key": pa.array(space.keys, type=pa.string()),
        "label": pa.array(list(space.labels), type=pa.string()),
    }
    for name in metadata.columns:
        try:
            columns[str(name)] = pa.Array.from_pandas(metadata[name])
        except (pa.ArrowException, TypeError, ValueError) as error:
            raise InvalidParameterError(
                f"metadata column {name!r} cannot be stored in Parquet ({error}); give it one type"
            ) from None
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), space.dim)
    marker: dict[str, Any] = {
        "key": "key",
        "label": "label",
        "vector": "vector",
        "metric": space.metric,
    }
    if space.provenance.kind == "documents":
        # what a document space needs back: its model (to encode queries) and its columns
        options = space.provenance.options
        marker["documents"] = {
            name: options.get(name) for name in ("model", "text_column", "label_column")
        }
    table = pa.table(columns).replace_schema_metadata({PARQUET_MARKER: json.dumps(marker)})
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return path


def reserved_safe_metadata(metadata: pd.DataFrame) -> pd.DataFrame:
    """Metadata with columns that clash with ``key``/``label``/``vector`` renamed
    ``metadata.<name>``."""
    clashes = {c: f"{RENAMED_PREFIX}{c}" for c in metadata.columns if c in RESERVED_COLUMNS}
    return metadata.rename(columns=clashes) if clashes else metadata


def restore_reserved_names(metadata: pd.DataFrame) -> pd.DataFrame:
    """Undo ``reserved_safe_metadata``."""
    renamed = {
        c: c[len(RENAMED_PREFIX) :]
        for c in metadata.columns
        if isinstance(c, str)
        and c.startswith(RENAMED_PREFIX)
        and c[len(RENAMED_PREFIX) :] in RESERVED_COLUMNS
    }
    return metadata.rename(columns=renamed) if renamed else metadata


__all__ = ["load_array", "load_table", "write_npy", "write_parquet"]


# ---- query vectors ------------------------------------------------------------------------


def read_query_vectors(path: str | Path, *, dim: int) -> np.ndarray:
    """Query vectors from a file: an ``.npy`` of shape (d,) or (m, d), or text with one vector
    per line (numbers separated by spaces, tabs or commas). Returns float32 (m, d)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such vector file")
    if path.suffix == ".npy":
        matrix = np.load(path, allow_pickle=False)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or matrix.shape[1] != dim or not np.issubdtype(matrix.dtype, np.number):
            raise MalformedFileError(
                path, f"expected numbers of shape ({dim},) or (m, {dim}); got {matrix.shape}"
            )
        return matrix.astype(np.float32)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
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
