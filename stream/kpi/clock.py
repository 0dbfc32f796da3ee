"""What "now" is: the wall clock, or in replay the latest event time (SPEC §4)."""

from __future__ import annotations


class EventClock:
    """Now is the latest event time seen so far, so a replayed day yields the KPIs it had live.

    Before the first event it reads 0: nothing is late yet, and there is nothing to report.
    """

    def __init__(self) -> None:
        self.latest = 0.0

    def __call__(self) -> float:
        return self.latest

    def observe(self, ts: float) -> None:
        if ts > self.latest:
            self.latest = ts
