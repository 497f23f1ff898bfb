"""Where a space came from and with which options: what its on-disk caches are keyed by."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .space import EmbeddingSpace


@dataclass(frozen=True)
class Provenance:
    """Where a space came from and with which options; ``digest`` keys on-disk caches."""

    source: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def digest(self) -> str:
        payload = json.dumps(
            {
                "source": self.source,
                "kind": self.kind,
                "options": self.options,
                "fingerprint": self.fingerprint,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def summary_of(space: EmbeddingSpace) -> dict[str, Any]:
    """``EmbeddingSpace.summary``: shape, storage, metric, where it came from, norm spread."""
    norms = space.norms
    return {
        "name": space.name,
        "kind": space.provenance.kind,
        "source": space.provenance.source,
        "rows": len(space),
        "dim": space.dim,
        "dtype": space.stored_dtype,
        "memory_mapped": _is_memory_mapped(getattr(space.vectors, "bits", space.vectors)),
        "metric": space.metric,
        "tokenizer": space.has_tokenizer,
        "zero_rows": int((norms == 0).sum()),
        "norm_min": float(norms.min()) if len(norms) else 0.0,
        "norm_median": float(np.median(norms)) if len(norms) else 0.0,
        "norm_max": float(norms.max()) if len(norms) else 0.0,
        "metadata_columns": list(space.metadata_arrays()),
        "first_keys": space.keys[:8],
        **{f"option.{k}": v for k, v in space.provenance.options.items()},
    }


def _is_memory_mapped(array: np.ndarray) -> bool:
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base if isinstance(array.base, np.ndarray) else None
    return False
