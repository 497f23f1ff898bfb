"""NumPy arrays (``.npy``, ``.npz``) and tables (Parquet, CSV) with a vector column, both ways.

Reading never unpickles: ``.npy`` files are memory-mapped with ``allow_pickle=False`` and an
``.npz`` member is read from its own header, once the sizes its zip entry and header declare are
credible and within ``max_inflation``. Keys come from ``vocabulary=``, a string array inside the
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
import math
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io.atomic import atomic_path
from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..search.kernels import VALID_METRICS
from ..space import RENAMED_PREFIX, EmbeddingSpace, Provenance
from .vocabulary import (
    DEFAULT_MAX_INFLATION,
    check_inflation,
    check_max_inflation,
    check_zip_entry,
    chosen_vocabulary,
    file_fingerprint,
    find_vocabulary,
    human_bytes,
    keys_for_tokens,
    leave_out_padding,
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

#: Parquet schema metadata written by ``write_parquet`` so reading it back is exact.
PARQUET_MARKER = b"embscope"


# ---- .npy / .npz ------------------------------------------------------------------------


def load_array(
    path: str | Path,
    *,
    vocabulary: str | Path | None = None,
    key: str | None = None,
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
    name: str | None = None,
    vocab: str | Path | None = None,
) -> EmbeddingSpace:
    """A space from an ``.npy`` matrix (memory-mapped) or one array of an ``.npz`` archive.

    ``key`` names the array inside an ``.npz`` that holds several; a 1-D string array in the
    archive (``keys``, ``vocab``, …) gives the keys unless ``vocabulary`` names a vocabulary
    file (``vocab`` is the older name of the same option). A vocabulary must have one token per
    row, no fewer: a short one is an error naming both counts. When its first token is empty
    (the padding of Keras' ``get_vocabulary()``), row 0 is left out and the log says so.

    ``max_inflation`` bounds how many times its compressed size in the archive an ``.npz``
    array may take in memory (at least 64 MiB is always allowed); None lifts the bound.
    """
    path = Path(path)
    vocab_path = chosen_vocabulary(vocabulary, vocab)
    max_inflation = check_max_inflation(max_inflation)
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
        matrix, chosen, keys_name, keys_inside = _open_npz(path, key, max_inflation)
    rows = matrix.shape[0]

    if vocab_path is not None:
        tokens: list[str] | None = read_vocabulary(vocab_path, expected_rows=rows)
        vocabulary_name = str(vocab_path)
    elif keys_inside is not None:
        tokens, vocabulary_name = keys_inside, f"{path.name}: array {keys_name!r}"
    else:
        vocab_path = find_vocabulary(path)
        if vocab_path is not None:
            tokens = read_vocabulary(vocab_path, expected_rows=rows)
            vocabulary_name = str(vocab_path)
        else:
            tokens, vocabulary_name = None, None

    options: dict[str, Any] = {"vocabulary": vocabulary_name}
    if chosen is not None:
        options["array"] = chosen
    if tokens is None:
        keys = row_number_keys(path, rows, how_to_name="put one token per line")
    else:
        if leave_out_padding(tokens, vocab_path or path):
            matrix, tokens = matrix[1:], tokens[1:]
            options["padding_row"] = "left out"
        keys, empty_key = keys_for_tokens(tokens)
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
    except Exception as error:  # numpy parses old headers with Python's tokenizer: any error
        raise MalformedFileError(where, f"unreadable .npy header ({error})") from None


def _open_npy(path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        shape, _, dtype = _read_npy_header(handle, path)
        data_start = handle.tell()
    _check_matrix(path, shape, dtype)
    expected = data_start + math.prod(shape) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise MalformedFileError(
            path,
            f"truncated: the header promises {shape[0]:,} x {shape[1]} {dtype} "
            f"({expected:,} bytes) but the file has {actual:,} bytes; copy it again",
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise MalformedFileError(path, f"cannot be mapped ({error})") from None


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


@dataclass(frozen=True)
class _Member:
    """An ``.npy`` entry of an ``.npz`` archive, from its zip entry and its npy header."""

    entry: str
    shape: tuple[int, ...]
    dtype: np.dtype
    info: zipfile.ZipInfo

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _open_npz(
    path: Path, key: str | None, max_inflation: float | None
) -> tuple[np.ndarray, str, str | None, list[str] | None]:
    """The chosen matrix, its name, and the name and values of the keys array (if any)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, NotImplementedError, OSError) as error:
        raise MalformedFileError(path, f"not a readable .npz archive ({error})") from None
    with archive:
        members: dict[str, _Member] = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            array_name = info.filename[: -len(".npy")]
            members[array_name] = _read_member_header(archive, info, path, array_name)
        if not members:
            raise MalformedFileError(path, "an archive without any .npy member; not an .npz file")
        listing = ", ".join(f"{n} {m.shape} {m.dtype}" for n, m in members.items())

        if key is not None:
            if key not in members:
                raise InvalidParameterError(
                    f"key={key!r} is not an array of {path.name}; it holds: {listing}"
                )
            chosen = key
        else:
            matrices = [
                n for n, m in members.items() if len(m.shape) == 2 and m.dtype.kind in "fiu"
            ]
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
        shape = members[chosen].shape
        _check_matrix(path, shape, members[chosen].dtype, what=chosen)
        matrix = _read_member(archive, members[chosen], path, chosen, max_inflation)

        keys_name = _keys_array_name(members, chosen)
        keys = None
        if keys_name is not None:
            keys_shape = members[keys_name].shape
            if keys_shape[0] != shape[0]:
                raise MalformedFileError(
                    path,
                    f"array {keys_name!r} holds {keys_shape[0]:,} keys for the "
                    f"{shape[0]:,} rows of {chosen!r}; they must match one to one",
                )
            raw = _read_member(archive, members[keys_name], path, keys_name, max_inflation)
            keys = _strings(raw, path, keys_name)
    return matrix, chosen, keys_name, keys


def _read_member_header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, array_name: str
) -> _Member:
    """The entry's npy header, after checking the sizes the zip entry declares: the header
    must not promise more bytes than the entry holds, nor the entry more than its compressed
    bytes can expand to."""
    check_zip_entry(path, info, f"array {array_name!r}")
    where = f"{path} ({array_name})"
    try:
        with archive.open(info) as handle:
            shape, _, dtype = _read_npy_header(handle, where)
            data_start = handle.tell()
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error) as error:
        raise MalformedFileError(path, f"array {array_name!r}: {error}") from None
    member = _Member(info.filename, shape, dtype, info)
    if not dtype.hasobject and data_start + member.nbytes > info.file_size:
        raise MalformedFileError(
            path,
            f"array {array_name!r}: its header promises shape {shape} {dtype} "
            f"({human_bytes(member.nbytes)}) but its zip entry holds "
            f"{human_bytes(max(0, info.file_size - data_start))}; the archive is truncated or "
            "crafted",
        )
    return member


def _keys_array_name(members: dict[str, _Member], chosen: str) -> str | None:
    strings = [
        n
        for n, m in members.items()
        if n != chosen
        and len(m.shape) == 1
        and (m.dtype.kind in "US" or (m.dtype.hasobject and n in KEY_ARRAY_NAMES))
    ]
    for preferred in KEY_ARRAY_NAMES:
        if preferred in strings:
            return preferred
    return strings[0] if len(strings) == 1 else None


def _read_member(
    archive: zipfile.ZipFile,
    member: _Member,
    path: Path,
    array_name: str,
    max_inflation: float | None,
) -> np.ndarray:
    if not member.dtype.hasobject:  # an object array is refused below, before any allocation
        check_inflation(
            path,
            f"array {array_name!r} ({member.shape[0]:,} x "
            f"{' x '.join(map(str, member.shape[1:])) or 1} {member.dtype})",
            declared=member.nbytes,
            stored=member.info.compress_size,
            max_inflation=max_inflation,
        )
    try:
        with archive.open(member.info) as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise MalformedFileError(
                path,
                f"array {array_name!r} holds Python objects, which would need unpickling "
                "(never done here); save keys as np.array(keys, dtype=str)",
            ) from None
        raise MalformedFileError(path, f"array {array_name!r}: {error}") from None
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error) as error:
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
    encode = _query_encoder(path, named, model)
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


#: What ``write_parquet`` writes in the schema metadata under ``PARQUET_MARKER``, and the types
#: each field may have; a file with anything else was not written by embscope.
_MARKER_FIELDS: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "label": (str,),
    "vector": (str,),
    "metric": (str,),
    "documents": (dict,),
}
_DOCUMENTS_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "text_column": (str, type(None)),
    "label_column": (str, type(None)),
}
_MODEL_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "location": (str,),
    "normalize": (bool, type(None)),
}
_MODEL_REQUIRED = ("name", "location")

#: Sentence models embscope carries itself: a file may name them and have them used.
BUNDLED_QUERY_MODELS = ("minilm",)


def parse_marker(raw: bytes, path: str | Path) -> dict[str, Any]:
    """The ``embscope`` schema metadata of a Parquet file, checked field by field."""
    what = f"its {PARQUET_MARKER.decode()!r} schema metadata"
    advice = "write the file again with embscope, or remove that metadata"
    try:
        marker = json.loads(raw)
    except RecursionError:
        raise MalformedFileError(path, f"{what} is JSON nested too deeply; {advice}") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedFileError(path, f"{what} is not valid JSON ({error}); {advice}") from None
    _check_fields(marker, _MARKER_FIELDS, path, what, advice)
    if marker.get("metric") not in (None, *VALID_METRICS):
        raise MalformedFileError(
            path,
            f"{what} names the metric {marker['metric']!r}; expected one of "
            f"{', '.join(VALID_METRICS)}",
        )
    documents = marker.get("documents")
    if documents is not None:
        _check_fields(documents, _DOCUMENTS_FIELDS, path, f"{what} 'documents'", advice)
        named = documents.get("model")
        if named is not None:
            _check_fields(named, _MODEL_FIELDS, path, f"{what} 'documents.model'", advice)
            missing = [field for field in _MODEL_REQUIRED if field not in named]
            if missing:
                raise MalformedFileError(
                    path, f"{what} 'documents.model' lacks {', '.join(missing)}; {advice}"
                )
    return marker


def _check_fields(
    value: Any, fields: dict[str, tuple[type, ...]], path: str | Path, what: str, advice: str
) -> None:
    if not isinstance(value, dict):
        raise MalformedFileError(path, f"{what} is not a JSON object; {advice}")
    for field, content in value.items():
        if field not in fields:
            shown = field if len(field) <= 40 else field[:39] + "…"
            raise MalformedFileError(path, f"{what} has an unknown field {shown!r}; {advice}")
        if not isinstance(content, fields[field]):
            raise MalformedFileError(
                path,
                f"{what}: field {field!r} must be "
                f"{' or '.join('null' if t is type(None) else t.__name__ for t in fields[field])}, "
                f"not {type(content).__name__}; {advice}",
            )


def _query_encoder(
    path: Path, named: dict[str, Any] | None, model: str | None
) -> Callable[[str], np.ndarray] | None:
    """What encodes a text query: the model the user confirmed (``model``), or the bundled
    model the file names; otherwise, when the file names a model, a function that explains how
    to confirm it. The model itself is loaded on the first query."""
    normalize = named.get("normalize") if named else None
    if model is None and named is None:
        return None
    if model is None and named["name"] not in BUNDLED_QUERY_MODELS:
        name, location = named["name"], named["location"]
        where = f" (at {location!r})" if location != name else ""

        def unconfirmed(query: str) -> np.ndarray:
            raise SourceError(
                f"{path.name} says its vectors were made by the model {name!r}{where}; embscope "
                f"loads a model a data file names only when you confirm it: pass model={name!r} "
                f"(CLI: --model {name!r}), or the model's directory if it is elsewhere"
            )

        return unconfirmed
    chosen = model if model is not None else named["name"]
    if model is not None and named is not None and model not in (named["name"], named["location"]):
        logger.warning(
            "%s says its vectors were made by %r; text queries will be encoded with %r, "
            "as model= says",
            path,
            named["name"],
            model,
        )
    encoders: list[Callable[[str], np.ndarray]] = []

    def encode(query: str) -> np.ndarray:
        if not encoders:
            from ..text.encode import Encoder, model_spec

            spec = model_spec(chosen, normalize="auto" if normalize is None else normalize)
            encoders.append(Encoder(spec).encode_one)
        return encoders[0](query)

    return encode


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
