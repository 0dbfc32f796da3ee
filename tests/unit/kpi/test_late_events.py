"""When an event can still change a KPI, and how long a duplicate is recognised (SPEC §3).

Every rule takes now as an argument: the tables below fix it, so nothing here reads the clock.
"""

from __future__ import annotations

from datetime import UTC as UTC_OFFSET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stream.kpi.aggregators import WaitRules
from stream.kpi.facts import Fact
from stream.kpi.queue_state import QueueState, apply_facts, prune, window_totals
from stream.kpi.windows import WindowSet, parse_windows

UTC = ZoneInfo("UTC")
#: 2026-11-22T10:00:00Z.
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC_OFFSET).timestamp()
MIDNIGHT = datetime(2026, 11, 22, tzinfo=UTC_OFFSET).timestamp()
RULES = WaitRules(service_level_seconds=20, short_abandon_seconds=5)
DEDUPE = 86400.0


@pytest.mark.parametrize(
    ("windows", "now", "kept_from"),
    [
        # 'today' reaches back furthest at ten in the morning
        ("15m,1h,today", T0, MIDNIGHT),
        # after midnight the 1h window still covers the end of yesterday, from its oldest whole
        # 240 s bucket
        ("15m,1h,today", MIDNIGHT + 720, MIDNIGHT - 2880),
        ("15m,1h,today", MIDNIGHT + 721, MIDNIGHT - 2640),
        # rolling windows only: the longest one's oldest whole bucket
        ("15m", T0, T0 - 900),
        ("15m", T0 + 30, T0 + 60 - 900),
        # 7d buckets are 40,320 s: the oldest whole one starts 27,360 s after T0 - 7 days
        ("15m,1h,today,7d", T0, T0 - 7 * 86400 + 27360),
        # the event clock before the first event reads 0: every real date is in time
        ("15m,1h,today", 0.0, -3600.0),
    ],
)
def test_kept_from_is_the_earliest_instant_a_window_covers(windows: str, now: float, kept_from: float) -> None:
    assert WindowSet(parse_windows(windows), UTC).kept_from(now) == kept_from


@pytest.mark.parametrize("windows", ["15m,1h,today", "15m", "1h,7d", "today"])
@pytest.mark.parametrize("now", [T0, T0 + 59, MIDNIGHT + 1, MIDNIGHT + 86399.5])
@pytest.mark.parametrize("before", [-1.0, -0.001, 0.0, 0.001, 1.0])
def test_an_event_counts_in_some_window_exactly_when_it_is_dated_from_kept_from_on(
    windows: str, now: float, before: float
) -> None:
    """What ingest judges by one comparison is what the windows themselves would count."""
    window_set = WindowSet(parse_windows(windows), UTC)
    ts = window_set.kept_from(now) + before
    state = QueueState()
    apply_facts(state, [Fact("offered", "sales", "voice", "c", ts)], RULES, window_set, now)
    counted = any(window_totals(state, w, UTC, now)["offered"] for w in window_set.windows)
    assert counted is (ts >= window_set.kept_from(now))


def _answer(event_id: str, ts: float) -> Fact:
    return Fact("csat", "sales", "voice", event_id, ts, 5.0)


@pytest.mark.parametrize(
    ("ts", "counted_at", "duplicate_at", "counts_again"),
    [
        # live: the copy an hour later is a duplicate
        (T0, T0, T0 + 3600, False),
        # read six hours late (an outage): a copy a day after the original was read is still one
        (T0, T0 + 6 * 3600, T0 + 6 * 3600 + DEDUPE, False),
        # past KPI_DEDUPE_SECONDS since the original was counted, a copy counts again
        (T0 - 300, T0 - 300, T0 - 300 + DEDUPE + 1, True),
    ],
)
def test_a_survey_answer_is_recognised_for_dedupe_seconds_after_it_was_counted(
    ts: float, counted_at: float, duplicate_at: float, counts_again: bool
) -> None:
    window_set = WindowSet(parse_windows("15m,1h,today,7d"), UTC)  # 7d: the answer stays in a window
    state = QueueState()
    assert apply_facts(state, [_answer("s-1", ts)], RULES, window_set, counted_at).duplicates == 0
    prune(state, window_set, duplicate_at, waiting_ttl=14400, dedupe=DEDUPE)
    duplicates = apply_facts(state, [_answer("s-1", ts)], RULES, window_set, duplicate_at).duplicates
    assert duplicates == (0 if counts_again else 1)
    assert window_totals(state, window_set.windows[3], UTC, duplicate_at)["csat_count"] == (2 if counts_again else 1)


@pytest.mark.parametrize(
    ("queued", "now", "waiting"),
    [
        (T0 - 600, T0, 1),  # queued ten minutes ago, read now: waiting
        (T0 - 14400, T0, 1),  # exactly the TTL
        (T0 - 14401, T0, 0),  # beyond the contact TTL by event time: its answer was lost
    ],
)
def test_a_contact_queued_long_ago_with_nothing_after_it_leaves_waiting_by_its_ttl(
    queued: float, now: float, waiting: int
) -> None:
    window_set = WindowSet(parse_windows("15m,1h,today"), UTC)
    state = QueueState()
    apply_facts(state, [Fact("waiting", "sales", "voice", "c", queued)], RULES, window_set, now)
    prune(state, window_set, now, waiting_ttl=14400, dedupe=DEDUPE)
    assert len(state.waiting) == waiting


def test_an_answer_read_after_an_outage_ends_the_wait_at_once() -> None:
    window_set = WindowSet(parse_windows("15m,1h,today"), UTC)
    state = QueueState()
    apply_facts(state, [Fact("waiting", "sales", "voice", "c", T0 - 700)], RULES, window_set, T0 - 690)
    apply_facts(state, [Fact("answered", "sales", "voice", "c", T0 - 680, 20.0)], RULES, window_set, T0)
    assert state.waiting == {}
    assert window_totals(state, window_set.windows[0], UTC, T0)["answered"] == 1
