"""Atomic file writes: readers see the old file or the whole new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
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
    temporary_path = _new_file_beside(target)
    try:
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


def _new_file_beside(target: Path) -> Path:
    """A new empty file with a random name in ``target``'s folder (so the rename is atomic),
    created with mode 0666 for the kernel to apply the umask: the mode any file the user writes
    gets. (mkstemp makes it 0600, and reading the umask means setting it, for every thread of
    the process at once.)"""
    for _ in range(100):
        candidate = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name beside {target}")


def _fsync(path: Path) -> None:
    # Windows flushes only through a handle that may write
    descriptor = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
