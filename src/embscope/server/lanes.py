"""A lane for requests that compute for a while (a profile of every row, class similarities,
cluster names, a figure): they run one at a time on a thread of their own, so they queue
behind each other instead of in front of the neighbour queries, and they wait in the event
loop, not in the thread pool the quick routes need."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException

T = TypeVar("T")


class Lane:
    """Runs ``work()`` on a worker thread, one call at a time; at most ``waiting`` calls wait,
    and the next one is answered 429 at once (a client hammering an expensive route fills only
    its own lane)."""

    def __init__(self, *, waiting: int) -> None:
        self._one_at_a_time = anyio.CapacityLimiter(1)
        self._most = waiting + 1
        # touched only on the event loop's thread, so it needs no lock
        self._pending = 0

    async def run(self, work: Callable[[], T]) -> T:
        if self._pending >= self._most:
            raise HTTPException(
                429,
                f"{self._pending} slow requests (profiles, class matrices, clusters, figures) "
                "are already being computed or waiting; try again in a moment",
                headers={"Retry-After": "1"},
            )
        self._pending += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._one_at_a_time)
        finally:
            self._pending -= 1
