"""The Keras 3 ``.keras`` zip archive: ``config.json`` and ``model.weights.h5``, the weights opened
in place when the member is stored uncompressed (as Keras stores it), so they can be
memory-mapped."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ...errors import MalformedFileError
from ..vocabulary import (
    check_inflation,
    check_zip_entry,
)
from .hdf5 import Opened, OpenedFile, parse_config

ZIP_MAGIC = b"PK\x03\x04"
WEIGHTS_MEMBER = "model.weights.h5"
CONFIG_MEMBER = "config.json"


def open_zip(path: Path, h5py: Any, max_inflation: float | None) -> OpenedFile:
    """A Keras 3 ``.keras`` archive: its config, and its weights opened in place when stored."""
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, NotImplementedError, OSError) as error:
        raise MalformedFileError(path, f"not a readable .keras archive ({error})") from None
    closers: list[Any] = [archive]
    try:
        if WEIGHTS_MEMBER not in names:
            raise MalformedFileError(
                path,
                f"no {WEIGHTS_MEMBER} in the archive (it holds {', '.join(names) or 'nothing'}); "
                "sharded or npz weights are not supported: re-save the model with model.save()",
            )
        config = None
        if CONFIG_MEMBER in names:
            config = parse_config(_read_entry(archive, CONFIG_MEMBER, path, max_inflation), path)
        info = archive.getinfo(WEIGHTS_MEMBER)
        check_zip_entry(path, info, WEIGHTS_MEMBER)
        if info.compress_type == zipfile.ZIP_STORED:
            offset = _stored_member_offset(path, info)
            if offset + info.file_size > path.stat().st_size:
                raise MalformedFileError(
                    path, f"{WEIGHTS_MEMBER} runs past the end of the archive; it is truncated"
                )
            raw = path.open("rb")
            closers.append(raw)
            handle: Any = _Window(raw, offset, info.file_size)
            base_offset: int | None = offset
        else:
            # a compressed member cannot be read in place: it is read into memory
            handle = io.BytesIO(_read_entry(archive, WEIGHTS_MEMBER, path, max_inflation))
            base_offset = None
        try:
            root = h5py.File(handle, "r")
        except OSError as error:
            raise MalformedFileError(path, f"{WEIGHTS_MEMBER} is unreadable ({error})") from None
    except BaseException:
        for closer in reversed(closers):
            closer.close()
        raise
    closers.append(root)
    return OpenedFile(Opened(path, root, "keras3", config, base_offset, info.file_size), closers)


def _read_entry(
    archive: zipfile.ZipFile, member: str, path: Path, max_inflation: float | None
) -> bytes:
    """A zip entry's bytes, once its declared size is credible and within the bound."""
    info = archive.getinfo(member)
    check_zip_entry(path, info, member)
    check_inflation(
        path,
        member,
        declared=info.file_size,
        stored=info.compress_size,
        max_inflation=max_inflation,
    )
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error) as error:
        raise MalformedFileError(path, f"{member} is damaged ({error})") from None


def _stored_member_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start: after its local header, whose extra field may differ
    from the central directory's."""
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise MalformedFileError(path, f"damaged zip entry for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of a file from ``offset``, for h5py to open."""

    def __init__(self, raw: Any, offset: int, size: int) -> None:
        self._raw, self._offset, self._size, self._position = raw, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + position)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), max(0, self._size - self._position))
        if wanted == 0:
            return 0
        self._raw.seek(self._offset + self._position)
        read = self._raw.readinto(memoryview(buffer)[:wanted])
        self._position += read
        return read
