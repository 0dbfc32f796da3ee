"""stream.clock.EventClock and the event-time checks of stream.decoding (SPEC §4 replay mode)."""

from __future__ import annotations

import json

from stream.clock import EventClock
from stream.contacts import Lifecycle
from stream.decoding import Late, Rejected, decode

T = 1761429600.0  # 2025-10-25T22:00:00Z, a day in the past


def test_event_clock_reads_the_latest_event_time() -> None:
    clock = EventClock()
    assert clock() == 0.0  # before any event
    for ts in (T, T + 60, T + 30):
        clock.observe(ts)
    assert clock() == T + 60  # an older event does not move it back


def queued(ts: float) -> bytes:
    return json.dumps({"event_id": "e", "type": "contact.queued", "ts": ts, "contact_id": "c", "queue": "q"}).encode()


def test_old_events_are_on_time_in_event_time() -> None:
    """Against the latest event time, a year-old event is not late; against the wall clock it is."""
    assert isinstance(decode(queued(T), "voice", now=T + 10, lateness=300, wall_now=T + 86400 * 400), Lifecycle)
    assert decode(queued(T), "voice", now=T + 301, lateness=300, wall_now=T + 301) == Late(301.0)


def test_the_future_is_judged_by_the_wall_clock() -> None:
    """Before the first event the event clock reads 0: nothing is late, but a date more than a
    day past the wall clock is still rejected."""
    assert isinstance(decode(queued(T), "voice", now=0.0, lateness=300, wall_now=T), Lifecycle)
    outcome = decode(queued(T + 86401), "voice", now=0.0, lateness=300, wall_now=T)
    assert isinstance(outcome, Rejected) and outcome.reason == "future_timestamp"
