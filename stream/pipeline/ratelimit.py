"""Log lines that a flood of bad input cannot turn into a flood of log lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

#: At most one line per kind of event this often.
INTERVAL_SECONDS = 60.0


class RateLimitedLog:
    """Logs the first event of each kind, then at most one line a minute per kind, saying how
    many were not logged in between."""

    def __init__(
        self, log: logging.Logger, clock: Callable[[], float] = time.monotonic, interval: float = INTERVAL_SECONDS
    ) -> None:
        self._log, self._clock, self._interval = log, clock, interval
        self._logged_at: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: Any) -> None:
        now = self._clock()
        if now - self._logged_at.get(kind, -self._interval) < self._interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        suppressed = self._suppressed.pop(kind, 0)
        if len(self._logged_at) >= 1024 and kind not in self._logged_at:
            self._logged_at.clear()  # kinds come from a bounded set; this only guards against a mistake
        self._logged_at[kind] = now
        more = f" ({suppressed} more like it in the last {self._interval:g} s not logged)" if suppressed else ""
        self._log.warning(message + more, *args)
