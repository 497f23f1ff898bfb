"""Approximate nearest-neighbour index (placeholder until the scale work lands)."""

from __future__ import annotations

from typing import Any


def wants_approximate(space: Any, approximate: bool | None) -> bool:
    return bool(approximate)


def approximate_index(space: Any, *, metric: str, rebuild: bool = False) -> Any:
    raise NotImplementedError
