"""Argument rules written once: every public function refuses the same bad values the same way,
with one line that names the argument and what it got."""

from __future__ import annotations

import numpy as np

from .errors import InvalidParameterError


def is_integer(value: object) -> bool:
    """An int or numpy integer, and not a bool (``True`` is an int to Python, never to a user)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def integer_at_least(value: object, name: str, minimum: int) -> int:
    """``value`` as an int when it is an integer (not a bool) of at least ``minimum``."""
    if not is_integer(value) or value < minimum:
        wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer of at least {minimum}"
        )
        raise InvalidParameterError(f"{name} must be {wanted}; got {value!r}")
    return int(value)


def positive_int(value: object, name: str) -> int:
    return integer_at_least(value, name, 1)


def candidate_count(top_k: int, extra: int = 0) -> int:
    """How many candidates to fetch for a top-``top_k`` answer that is re-measured exactly or
    filtered afterwards: a fast first pass (float16 scan, approximate index, partition) may
    order rows near the cut differently, so a few more than asked protect the last places;
    ``extra`` covers rows that will be dropped (the query's own, excluded keys)."""
    return int(top_k) + int(extra) + max(8, int(top_k) // 4)


__all__ = ["candidate_count", "integer_at_least", "is_integer", "positive_int"]
