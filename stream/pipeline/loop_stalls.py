"""Event-loop stalls: how long the worker's loop went without running anything else.

Every stage, timer and HTTP answer of a worker shares one asyncio loop, so a slow step (an expiry
slice over a large table, a write-out of many held states, a long batch) delays all of them at
once: scrapes time out, heartbeats are late and the group may rebalance. A stall cannot be seen
from inside the step that causes it; a task that asks to wake every :data:`INTERVAL_SECONDS`
measures how late it woke instead, which is how long the loop was held (within the interval).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

#: How often the watch wakes: a stall shorter than this may go unseen, and each wake-up costs a
#: few microseconds of the loop.
INTERVAL_SECONDS = 0.025
#: Lateness below this is the loop's ordinary scheduling jitter, not a stall worth keeping.
NOTICED_SECONDS = 0.01
#: The longest stall reported is the longest of this many recent seconds.
RECENT_SECONDS = 60.0


class LoopStalls:
    """The stalls seen: each passed to ``observe`` (a histogram), the recent ones kept for :meth:`longest`."""

    def __init__(self, observe: Callable[[float], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._observe = observe
        self._clock = clock
        self._recent: deque[tuple[float, float]] = deque()  # (seen at, seconds), oldest first

    def record(self, seconds: float) -> None:
        if seconds < NOTICED_SECONDS:
            return
        self._observe(seconds)
        self._recent.append((self._clock(), seconds))

    def longest(self) -> float:
        """The longest stall of the last :data:`RECENT_SECONDS` (0 when none)."""
        cutoff = self._clock() - RECENT_SECONDS
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()
        return max((seconds for _, seconds in self._recent), default=0.0)

    async def watch(
        self,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rounds: int | None = None,
    ) -> None:
        """Wake every :data:`INTERVAL_SECONDS` and record how late each wake-up was (``rounds``
        wake-ups, or forever)."""
        done = 0
        while rounds is None or done < rounds:
            due = clock() + INTERVAL_SECONDS
            await sleep(INTERVAL_SECONDS)
            self.record(max(0.0, clock() - due))
            done += 1
