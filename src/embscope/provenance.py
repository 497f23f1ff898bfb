"""Where a space came from and with which options: what its on-disk caches are keyed by."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


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
