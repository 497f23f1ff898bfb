"""Atomic file writes: readers see the old file or the whole new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` at once.

    On any error (Ctrl-C included) the temporary file is removed and ``target`` is untouched.
    Two writers racing on one target each replace it whole; the last one wins.
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
        os.replace(temporary_path, target)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise
