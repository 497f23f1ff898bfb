"""A zipped Hugging Face (or sentence-transformers) checkpoint folder, read in place.

The archive is never extracted. Its checkpoint folder is the one holding ``config.json`` beside
``model.safetensors`` (or ``model.safetensors.index.json`` and its shards): the archive's root,
or a folder inside it (``all-MiniLM-L6-v2/``; ``folder=`` picks one when there are several).
``config.json`` and the tokenizer files are read from their members, and the weights from the
safetensors members: a stored (uncompressed) member is memory-mapped at its offset in the
archive, as the Keras reader maps a ``.keras`` member; a deflated one is inflated into memory,
only when the shard holding the embedding is read. The tensor is then chosen, and tying
detected, exactly as for a checkpoint folder (``huggingface.py``).

An archive is untrusted input. Members are looked up by names made from the checkpoint folder's
name and fixed file names, and no path on disk is ever made from a member's name; a folder whose
name climbs out of the archive (``../``, ``/etc``) is refused. Every member is checked before a
byte of it is read: its declared size must be one its compressed bytes can give
(``check_zip_entry``) and within ``max_inflation`` times them (``check_inflation``); a stored
member must lie inside the file, after a local header that names it. Encrypted members and
damaged streams (a CRC or size that does not match) are one clean error.
"""

from __future__ import annotations

import fnmatch
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import InvalidParameterError, MalformedFileError, SourceError
from ..space import EmbeddingSpace
from .hf_tokenizer import read_tokenizer
from .huggingface.checkpoint import MATRICES, Checkpoint, assemble_checkpoint, checkpoint_space
from .huggingface.files import read_config
from .huggingface.weights import STORAGE_DTYPES, WeightTensor, safetensors_entries
from .sniff import checkpoint_folders
from .vocabulary import (
    DEFAULT_MAX_INFLATION,
    check_inflation,
    check_max_inflation,
    check_zip_entry,
    file_fingerprint,
)

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name and extra field lengths
_INDEX = "model.safetensors.index.json"
# what safetensors itself accepts for a header (safetensors/src/tensor.rs: MAX_HEADER_SIZE)
_MAX_HEADER_BYTES = 100_000_000
_CHUNK_BYTES = 1 << 24


def load_huggingface_zip(
    path: str | Path,
    *,
    folder: str | None = None,
    matrix: str = "input",
    max_inflation: float | None = DEFAULT_MAX_INFLATION,
    name: str | None = None,
) -> EmbeddingSpace:
    """The token-embedding space of a checkpoint folder inside a zip, read in place.

    ``folder`` names the checkpoint folder inside the archive when it holds several;
    ``matrix="output"`` gives the output matrix, as for a checkpoint folder. ``max_inflation``
    bounds how many times its compressed size a member may take in memory (at least 64 MiB is
    always allowed; None lifts the bound). Keys, labels and metadata are those of
    ``load_huggingface``.
    """
    if matrix not in MATRICES:
        raise InvalidParameterError(f"matrix must be 'input' or 'output'; got {matrix!r}")
    max_inflation = check_max_inflation(max_inflation)
    path = Path(path)
    with ZipArchive(path, max_inflation) as archive:
        parts = read_zipped_checkpoint(archive, folder)
        # inside the with: a deflated shard is inflated when the matrix is first read
        return checkpoint_space(
            parts,
            matrix=matrix,
            name=name or str(path),
            source=str(path.expanduser().resolve()),
            kind="huggingface-zip",
        )


def read_zipped_checkpoint(archive: ZipArchive, folder: str | None = None) -> Checkpoint:
    """The checkpoint in an open archive: config, tokenizer and tensors located, not read."""
    prefix = _checkpoint_folder(archive, folder)
    directory = ZipFolder(archive, prefix)
    config, config_digest = read_config(directory)  # type: ignore[arg-type]
    vocabulary = read_tokenizer(directory)
    if vocabulary is not None and vocabulary.source == "vocab.json+merges.txt":
        # tokenizers builds that BPE from files on disk, which a zip member is not
        vocabulary = replace(
            vocabulary,
            build_encoder=None,
            notes=(*vocabulary.notes, "no tokenize: unzip the folder to split words into pieces"),
        )
    tensors, weights_digest = _open_weights(archive, prefix)
    return assemble_checkpoint(
        Path(str(directory)),
        config,
        vocabulary,
        tensors,
        origin={"archive_folder": prefix or "(root)"},
        config_digest=config_digest,
        weights_digest=weights_digest,
    )


# ---- the archive -----------------------------------------------------------------------------
class ZipArchive:
    """An open zip whose members are read only after their sizes are checked."""

    def __init__(self, path: Path, max_inflation: float | None) -> None:
        self.path = path
        self.max_inflation = max_inflation
        try:
            self.size = path.stat().st_size
            self._zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise SourceError(f"{path}: no such file") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
            raise MalformedFileError(
                path, f"not a readable zip archive ({type(error).__name__}: {error})"
            ) from None
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self._repeated: set[str] = set()
        for info in self._zip.infolist():
            if info.filename in self.infos:
                self._repeated.add(info.filename)
            self.infos[info.filename] = info

    def __enter__(self) -> ZipArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def where(self, name: str) -> str:
        return f"{self.path}/{name}"

    def member(self, name: str) -> zipfile.ZipInfo:
        """The entry of a member, refused unless its sizes are credible."""
        info = self.infos[name]
        what = f"member {name!r}"
        if name in self._repeated:
            raise MalformedFileError(self.path, f"{what} appears twice; the archive is crafted")
        if info.flag_bits & 0x1:
            raise SourceError(f"{self.path}: {what} is encrypted; unzip it with its password")
        check_zip_entry(self.path, info, what)
        check_inflation(
            self.path,
            what,
            declared=info.file_size,
            stored=info.compress_size,
            max_inflation=self.max_inflation,
        )
        return info

    def open(self, name: str) -> IO[bytes]:
        """A stream of a checked member; it stops at the member's declared size."""
        info = self.member(name)
        try:
            return self._zip.open(info)
        except (
            zipfile.BadZipFile,
            RuntimeError,
            NotImplementedError,
            ValueError,
            OSError,
            EOFError,
        ) as error:  # an offset past the file (OSError) among them
            raise self._damaged(name, error) from None

    def read(self, name: str, limit: int | None = None) -> bytes:
        """A checked member's bytes (the first ``limit`` of them)."""
        with self.open(name) as stream:
            try:
                return stream.read(-1 if limit is None else limit)
            except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
                raise self._damaged(name, error) from None

    def buffer(self, name: str) -> np.ndarray:
        """A checked member's bytes as a uint8 array: a memory map of a stored member, the
        inflated bytes of a compressed one."""
        info = self.member(name)
        if info.compress_type == zipfile.ZIP_STORED:
            start = self._data_start(info)
            if info.file_size == 0:
                return np.zeros(0, dtype=np.uint8)
            return np.memmap(self.path, dtype=np.uint8, mode="r", offset=start,
                             shape=(info.file_size,))  # fmt: skip
        data = bytearray(info.file_size)
        view, filled = memoryview(data), 0
        with self.open(name) as stream:
            try:
                while filled < info.file_size:
                    count = stream.readinto(view[filled : filled + _CHUNK_BYTES])
                    if not count:
                        break
                    filled += count
                stream.read(1)  # reaches the end of the stream, where its CRC is checked
            except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
                raise self._damaged(name, error) from None
        if filled != info.file_size:
            raise MalformedFileError(
                self.path,
                f"member {name!r} gives {filled:,} bytes where it declares {info.file_size:,}; "
                "the archive is damaged",
            )
        return np.frombuffer(data, dtype=np.uint8)

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        """Where a stored member's bytes begin: after its local header, which must be there
        and name it; its bytes must end inside the file."""
        if not 0 <= info.header_offset < self.size:
            raise MalformedFileError(
                self.path,
                f"member {info.filename!r} starts at byte {info.header_offset:,}, outside the "
                "file; the archive is damaged or crafted",
            )
        with self.path.open("rb") as handle:
            handle.seek(info.header_offset)
            header = handle.read(_LOCAL_HEADER.size)
            ok = len(header) == _LOCAL_HEADER.size
            signature, name_length, extra_length = (
                _LOCAL_HEADER.unpack(header) if ok else (b"", 0, 0)
            )
            stored_name = handle.read(name_length)
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if signature != b"PK\x03\x04" or stored_name != info.orig_filename.encode(encoding):
            raise MalformedFileError(
                self.path,
                f"member {info.filename!r}: no local header naming it at byte "
                f"{info.header_offset:,}; the archive is damaged or crafted",
            )
        start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if start + info.file_size > self.size:
            raise MalformedFileError(
                self.path,
                f"member {info.filename!r} needs bytes up to {start + info.file_size:,} but the "
                f"file has {self.size:,}; the archive is truncated, copy it again",
            )
        return start

    def _damaged(self, name: str, error: BaseException) -> MalformedFileError:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        return MalformedFileError(
            self.path,
            f"member {name!r} cannot be read ({type(error).__name__}: {first_line}); "
            "the archive is damaged",
        )


class ZipFolder:
    """A folder inside an archive, with the part of ``pathlib.Path`` that the config and
    tokenizer readers use (``/``, ``glob``, ``name``); ``str()`` names it for messages."""

    def __init__(self, archive: ZipArchive, prefix: str) -> None:
        self.archive = archive
        self.prefix = prefix

    def __truediv__(self, name: str) -> ZipMember:
        return ZipMember(self.archive, self.prefix + name)

    def glob(self, pattern: str) -> list[ZipMember]:
        names = (n[len(self.prefix) :] for n in self.archive.infos if n.startswith(self.prefix))
        return [self / n for n in sorted(names) if "/" not in n and fnmatch.fnmatch(n, pattern)]

    @property
    def name(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1] or self.archive.path.name

    def __str__(self) -> str:
        return (
            self.archive.where(self.prefix.rstrip("/")) if self.prefix else str(self.archive.path)
        )


class ZipMember:
    """A file inside an archive, as ``pathlib.Path`` offers one to the readers: ``is_file``,
    ``read_bytes``, ``open("rb")``, ``name``, ``suffix``, ``stem``; every read is checked."""

    def __init__(self, archive: ZipArchive, member: str) -> None:
        self.archive = archive
        self.member = member

    @property
    def name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def is_file(self) -> bool:
        return self.member in self.archive.infos and not self.member.endswith("/")

    def read_bytes(self) -> bytes:
        self._exists()
        return self.archive.read(self.member)

    def open(self, mode: str = "rb") -> IO[bytes]:
        if mode != "rb":
            raise ValueError("a zip member opens for reading bytes only")
        self._exists()
        return _MemberStream(self.archive.open(self.member), self)  # type: ignore[return-value]

    def _exists(self) -> None:
        if not self.is_file():
            raise FileNotFoundError(str(self))

    def __str__(self) -> str:
        return self.archive.where(self.member)

    def __repr__(self) -> str:
        return f"ZipMember({str(self)!r})"


class _MemberStream:
    """A member's stream for the readers that go line by line; damage is one clean error."""

    def __init__(self, stream: IO[bytes], member: ZipMember) -> None:
        self._stream = stream
        self._member = member

    def __enter__(self) -> _MemberStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guarded(self._stream.readline, size)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _guarded(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            return read(size)
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
            raise self._member.archive._damaged(self._member.member, error) from None


# ---- the checkpoint folder -------------------------------------------------------------------
def _checkpoint_folder(archive: ZipArchive, folder: str | None) -> str:
    found = checkpoint_folders(list(archive.infos))
    for prefix in found:
        parts = prefix.rstrip("/").split("/")
        if prefix.startswith("/") or ".." in parts or "\\" in prefix or ":" in prefix:
            raise MalformedFileError(
                archive.path,
                f"its checkpoint folder {prefix!r} names a place outside the archive (an "
                "absolute path or '..'); refusing it. Unzip it with a tool you trust",
            )
    shown = ", ".join(repr(p or "(root)") for p in found[:8])
    if folder is not None:
        wanted = folder.strip("/") + "/" if folder.strip("/") else ""
        if wanted not in found:
            raise SourceError(
                f"{archive.path}: no checkpoint folder {folder!r} in the archive; "
                f"its checkpoint folders: {shown or 'none'}"
            )
        return wanted
    if not found:
        raise SourceError(
            f"{archive.path}: a zip without a checkpoint folder (config.json beside "
            "model.safetensors); unzip it and point at the file or folder inside"
        )
    depth = found[0].count("/")
    if len(found) > 1 and found[1].count("/") == depth:
        raise SourceError(
            f"{archive.path}: several checkpoint folders ({shown}); pass folder= to say which"
        )
    return found[0]


# ---- weights ---------------------------------------------------------------------------------
def _open_weights(archive: ZipArchive, prefix: str) -> tuple[dict[str, WeightTensor], str]:
    """The tensors of the folder's safetensors members, located (headers read) but not read."""
    if prefix + _INDEX in archive.infos:
        shards = _shards(archive, prefix + _INDEX)
    else:
        shards = ["model.safetensors"]
    tensors: dict[str, WeightTensor] = {}
    digests = [file_fingerprint(archive.path)]
    for shard in shards:
        member = prefix + shard
        if member not in archive.infos:
            raise SourceError(
                f"{archive.where(prefix + _INDEX)} names {shard!r}, which the archive lacks; "
                "the archive is incomplete"
            )
        found, digest = _safetensors_member(archive, member)
        digests.append(f"{shard}:{digest}")
        for tensor_name, tensor in found.items():
            tensors.setdefault(tensor_name, tensor)
    return tensors, hashlib.sha256("|".join(digests).encode()).hexdigest()[:16]


def _shards(archive: ZipArchive, index: str) -> list[str]:
    from .._io.json_input import parse_json

    where = archive.where(index)
    data = parse_json(archive.read(index), where)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(v, str) and v for v in weight_map.values()
    ):
        raise MalformedFileError(where, "expected a 'weight_map' object of tensor -> file name")
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        if "/" in shard or "\\" in shard or shard in (".", "..") or "\0" in shard:
            raise MalformedFileError(
                where, f"the shard {shard!r} is not a file name in the same folder; refusing"
            )
    return shards


def _safetensors_member(archive: ZipArchive, member: str) -> tuple[dict[str, WeightTensor], str]:
    """The tensors of a safetensors member: its header read now, its data when first asked."""
    where = archive.where(member)
    info = archive.member(member)
    size = info.file_size
    with archive.open(member) as stream:
        try:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise MalformedFileError(where, f"only {size} bytes: no safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_HEADER_BYTES or 8 + length > size:
                raise MalformedFileError(
                    where,
                    f"the header claims {length:,} bytes but the member has {size:,} (and "
                    f"safetensors allows {_MAX_HEADER_BYTES:,}); not a safetensors file",
                )
            header_bytes = stream.read(length)
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
            raise archive._damaged(member, error) from None
    data_start = 8 + length
    buffer = _Once(partial(archive.buffer, member))
    tensors: dict[str, WeightTensor] = {}
    entries = safetensors_entries(header_bytes, where, size=size, what="member")
    for name, (dtype, shape, begin, end) in entries.items():
        stored = partial(_tensor_view, buffer, data_start + begin, data_start + end, dtype, shape)
        tensors[name] = WeightTensor(name, dtype, shape, archive.path, stored)
    return tensors, hashlib.sha256(header_bytes).hexdigest()[:16]


class _Once:
    """A member's bytes, read on first use and kept."""

    def __init__(self, read: Callable[[], np.ndarray]) -> None:
        self._read = read
        self._value: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._value is None:
            self._value = self._read()
        return self._value


def _tensor_view(
    buffer: _Once, begin: int, end: int, dtype: str, shape: tuple[int, ...]
) -> np.ndarray:
    storage = STORAGE_DTYPES[dtype]
    if begin == end:
        return np.zeros(shape, dtype=storage)
    return buffer()[begin:end].view(storage).reshape(shape)


__all__ = ["ZipArchive", "ZipFolder", "ZipMember", "load_huggingface_zip", "read_zipped_checkpoint"]
