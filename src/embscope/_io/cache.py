"""Where embscope keeps what it computes once (an approximate index, projections, encodings).

The root is ``$EMBSCOPE_CACHE`` when set, else ``$XDG_CACHE_HOME/embscope``, else
``~/.cache/embscope``; each space gets a folder named by its provenance digest, and text
encodings live under ``encodings/<model key>/``. Entries are written through
``embscope._io.atomic.atomic_path``, so two processes filling the same cache at once each replace
a file whole and never leave half of one.

Entries are read through ``read_entry``: one that cannot be read (empty, truncated, overwritten
with other bytes, arrays missing or of the wrong shape; ``.npz`` files are never unpickled) is
treated as absent. It is deleted, with one warning on the ``embscope`` logger, so the caller
computes it again and the next run does not meet it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from ..space import EmbeddingSpace

# an in-memory space's content hash, computed once per space object
_CONTENT_KEYS: weakref.WeakKeyDictionary[EmbeddingSpace, str] = weakref.WeakKeyDictionary()
_HASH_BLOCK_BYTES = 64 * 1024 * 1024

logger = logging.getLogger(__name__)

T = TypeVar("T")


def cache_root() -> Path:
    """The folder every cached result lives under (see the module docstring)."""
    configured = os.environ.get("EMBSCOPE_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "embscope"


def space_key(space: EmbeddingSpace) -> str:
    """The name of a space's cache folder: its provenance digest.

    A space read from a file carries a fingerprint of that file, so the digest changes when
    the file does. A space made from an in-memory array has none (every such space shares one
    provenance), so its key also hashes its vectors and keys, once per space object.
    """
    provenance = space.provenance
    if provenance.fingerprint:
        return provenance.digest
    known = _CONTENT_KEYS.get(space)
    if known is None:
        digest = hashlib.blake2b(provenance.digest.encode(), digest_size=8)
        vectors = space.vectors
        digest.update(f"{vectors.shape}{vectors.dtype}".encode())
        step = max(1, _HASH_BLOCK_BYTES // max(1, vectors.shape[1] * vectors.itemsize))
        for start in range(0, len(vectors), step):
            digest.update(np.ascontiguousarray(vectors[start : start + step]).data)
        digest.update("\n".join(space.keys).encode("utf-8", "surrogatepass"))
        known = f"{provenance.digest}-{digest.hexdigest()}"
        _CONTENT_KEYS[space] = known
    return known


def space_cache_dir(space: EmbeddingSpace) -> Path:
    """``<cache root>/<space key>``; not created until something is written there."""
    return cache_root() / space_key(space)


# ---- reading entries -------------------------------------------------------------------------
class BrokenEntry(Exception):
    """Raised by a cache reader for a file that parses but is not what the cache wrote (arrays
    of the wrong shape or type, a record of the wrong kind)."""


# what reading a damaged file raises: numpy's np.load (EOFError for an empty file, ValueError
# for bytes that are neither NPY nor zip, or for pickled data, KeyError for a missing member),
# zipfile and zlib for a truncated or altered archive, json (ValueError), usearch (ValueError,
# RuntimeError), TypeError for a record with the wrong fields
_UNREADABLE = (
    BrokenEntry,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
    zipfile.BadZipFile,
    zlib.error,
)


def read_entry(
    path: Path, read: Callable[[Path], T], *, what: str, companions: Sequence[Path] = ()
) -> T | None:
    """``read(path)``, or None when the entry is absent or unreadable.

    ``read`` raises what the file makes its parser raise, or ``BrokenEntry`` for content that
    parses but does not fit. An unreadable entry is deleted with its ``companions`` (files
    that describe it, such as a sidecar JSON) and one warning naming ``what`` it was.
    """
    try:
        before = _identity(path)
    except FileNotFoundError:
        return None
    try:
        return read(path)
    except FileNotFoundError:  # deleted by another process since
        return None
    except _UNREADABLE as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
        # Another process may have replaced the entry with a whole one since it was read: that
        # one stays. A read-only cache keeps the broken one; the caller recomputes all the same.
        with contextlib.suppress(OSError):
            if _identity(path) == before:
                path.unlink()
                for companion in companions:
                    companion.unlink(missing_ok=True)
        logger.warning("%s %s was unreadable (%s); computing it again", what, path, reason)
        return None


@contextlib.contextmanager
def open_arrays(path: Path) -> Iterator[np.lib.npyio.NpzFile]:
    """An ``.npz`` cache entry, its members read on access and never unpickled (for a
    ``read_entry`` reader)."""
    # numpy leaves the file open when it opened it itself and the archive then proves broken
    with path.open("rb") as handle:
        stored = np.load(handle, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise BrokenEntry("a single array where an .npz archive belongs")
        with stored:
            yield stored


def check_array(array: np.ndarray, name: str, *, kind: str, ndim: int) -> np.ndarray:
    """``array`` when its dtype is of ``kind`` (``numpy.dtype.kind`` letters, e.g. "f", "iu")
    and it has ``ndim`` dimensions, else ``BrokenEntry`` naming the member."""
    if array.dtype.kind not in kind or array.ndim != ndim:
        raise BrokenEntry(f"{name} is a {array.ndim}-D {array.dtype} array")
    return array


def _identity(path: Path) -> tuple[int, int, int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns
