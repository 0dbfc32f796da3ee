"""stream.kpi.clock.EventClock and the event-time checks of stream.ingest.decoding (SPEC §4 replay mode)."""

from __future__ import annotations

import json

from stream.ingest.decoding import Rejected, decode
from stream.kpi.clock import EventClock
from stream.kpi.contacts import Lifecycle

T = 1761429600.0  # 2025-10-25T22:00:00Z, a day in the past


def test_event_clock_reads_the_latest_event_time() -> None:
    clock = EventClock()
    assert clock() == 0.0  # before any event
    for ts in (T, T + 60, T + 30):
        clock.observe(ts)
    assert clock() == T + 60  # an older event does not move it back


def queued(ts: float) -> bytes:
    return json.dumps({"event_id": "e", "type": "contact.queued", "ts": ts, "contact_id": "c", "queue": "q"}).encode()


def test_the_future_is_judged_by_the_wall_clock() -> None:
    """Whatever now is (the event clock reads 0 before the first event), a date more than a day
    past the wall clock is rejected, and any date before it is accepted."""
    assert isinstance(decode(queued(T - 86400 * 400), "voice", wall_now=T), Lifecycle)
    assert isinstance(decode(queued(T + 86400), "voice", wall_now=T), Lifecycle)
    outcome = decode(queued(T + 86401), "voice", wall_now=T)
    assert isinstance(outcome, Rejected) and outcome.reason == "future_timestamp"
