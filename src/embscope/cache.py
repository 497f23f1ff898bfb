"""Where embscope keeps what it computes once per space (an approximate index, …).

The root is ``$EMBSCOPE_CACHE`` when set, else ``$XDG_CACHE_HOME/embscope``, else
``~/.cache/embscope``; each space gets a folder named by its provenance digest. Files in it
are written through ``embscope.atomic.atomic_path``, so two processes filling the same cache
at once each replace a file whole and never leave a broken one.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .space import EmbeddingSpace

# an in-memory space's content hash, computed once per space object
_CONTENT_KEYS: weakref.WeakKeyDictionary[EmbeddingSpace, str] = weakref.WeakKeyDictionary()
_HASH_BLOCK_BYTES = 64 * 1024 * 1024


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
