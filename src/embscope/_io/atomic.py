"""Atomic file writes: readers see the old file or the whole new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` at once.

    The new file is flushed to disk before the rename, so a crash or power cut leaves the old
    file or the whole new one. It keeps the mode of the file it replaces (a 0640 file stays
    0640); a new file follows the umask. On any error (Ctrl-C included) the temporary file is
    removed and ``target`` is untouched. Two writers racing on one target each replace it
    whole; the last one wins.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        # mkstemp makes the file private (0600); the result should follow the umask like any
        # file the user writes
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary_path, 0o666 & ~umask)
        yield temporary_path
        # read now, not before the caller wrote: a read-only target's mode would stop the write
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary_path, stat.S_IMODE(os.stat(target).st_mode))
        _fsync(temporary_path)
        os.replace(temporary_path, target)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise
    # the rename itself reaches the disk with the directory; not every system can open one
    with contextlib.suppress(OSError):
        _fsync(target.parent)


def _fsync(path: Path) -> None:
    # Windows flushes only through a handle that may write
    descriptor = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
