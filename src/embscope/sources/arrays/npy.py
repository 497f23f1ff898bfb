"""NumPy arrays: an ``.npy`` matrix, or one array of an ``.npz`` archive, keyed by a vocabulary.

Reading never unpickles: ``.npy`` files are memory-mapped with ``allow_pickle=False`` and an
``.npz`` member is read from its own header, once the sizes its zip entry and header declare are
credible and within ``max_inflation``. Keys come from ``vocabulary=``, a string array inside the
``.npz``, or a vocabulary file beside the matrix (``find_vocabulary``); without any, the keys
are the row numbers and the log says so.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidParameterError, MalformedFileError, SourceError
from ...space import EmbeddingSpace, Provenance
from ..vocabulary import (
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
)

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"

#: Names under which an ``.npz`` may hold the keys (a 1-D string array), in order of preference.
KEY_ARRAY_NAMES = ("keys", "vocab", "vocabulary", "words", "tokens", "index")


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
