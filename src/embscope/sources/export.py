"""Write a space in the formats other tools read; every writer replaces its output atomically."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidParameterError
from ..space import EmbeddingSpace
from .formats import BY_KIND, EXPORT_FORMATS


def export(space: EmbeddingSpace, out: str | Path, *, format: str) -> Path:
    """Write ``space`` to ``out`` in ``format`` (see ``EXPORT_FORMATS``); returns ``out``."""
    out = Path(out)
    if not isinstance(format, str) or format not in EXPORT_FORMATS:
        raise InvalidParameterError(
            f"format must be one of {', '.join(EXPORT_FORMATS)}; got {format!r}"
        )
    BY_KIND[format].write(space, out)
    return out


__all__ = ["EXPORT_FORMATS", "export"]
