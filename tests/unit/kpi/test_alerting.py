"""stream.kpi.alerting: breach and recovery with hysteresis, and the alerts-topic message."""

from __future__ import annotations

import json

import pytest

from stream.kpi.alerting import AlertEvent, AlertPolicy, evaluate
from stream.kpi.queue_state import WaitingNow
from stream.kpi.report import QueueReport
from stream.kpi.targets import QueueTargets

#: 2026-11-22T10:00:00Z
NOW = 1795341600.0
POLICY = AlertPolicy(window="15m", hysteresis=0.1, min_contacts=10)
#: Wait threshold 60 s: breach above 60, recovery at or below 54. SL target 0.8: breach below 0.8,
#: recovery at or above 0.88.
TARGETS = QueueTargets(wait_alert_seconds=60, service_level_target=0.8)
WAIT, SL = "oldest_waiting_seconds", "service_level_ratio"


def report(
    oldest: float = 0.0, service_level: float | None = None, completed: int = 20, targets: QueueTargets = TARGETS
) -> QueueReport:
    kpis: dict[str, float | None] = {"contacts_completed": completed, "service_level_ratio": service_level}
    waiting = WaitingNow(1 if oldest else 0, oldest)
    return QueueReport("sales", "voice", targets, waiting, {"15m": kpis, "1h": {"service_level_ratio": 0.1}})


def states(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.metric, e.state) for e in events]


@pytest.mark.parametrize(
    ("oldest", "breaches"),
    [(59.9, False), (60.0, False), (60.01, True), (600.0, True)],
)
def test_wait_breaches_only_above_the_threshold(oldest: float, breaches: bool) -> None:
    active, events = evaluate(report(oldest=oldest), frozenset(), POLICY, NOW)
    assert (WAIT in active) is breaches
    assert states(events) == ([(WAIT, "breach")] if breaches else [])


@pytest.mark.parametrize(
    ("oldest", "recovers"),
    [(60.0, False), (54.01, False), (54.0, True), (0.0, True)],
)
def test_wait_recovers_only_past_the_hysteresis_band(oldest: float, recovers: bool) -> None:
    active, events = evaluate(report(oldest=oldest), frozenset({WAIT}), POLICY, NOW)
    assert (WAIT in active) is not recovers
    assert states(events) == ([(WAIT, "recovery")] if recovers else [])


def test_a_value_hovering_at_the_threshold_raises_one_breach() -> None:
    active: frozenset[str] = frozenset()
    published = []
    for oldest in (61, 59, 61, 58, 62, 55, 61, 54, 30):
        active, events = evaluate(report(oldest=oldest), active, POLICY, NOW)
        published += states(events)
    assert published == [(WAIT, "breach"), (WAIT, "recovery")]
    assert active == frozenset()


@pytest.mark.parametrize(
    ("service_level", "completed", "breaches"),
    [
        (0.79, 20, True),
        (0.8, 20, False),  # exactly on target
        (0.5, 10, True),  # exactly the minimum volume
        (0.5, 9, False),  # 9 completed waits (short abandons are not completed): too few to judge
        (None, 0, False),  # no data
    ],
)
def test_service_level_breaches_below_target_with_enough_contacts(
    service_level: float | None, completed: int, breaches: bool
) -> None:
    active, events = evaluate(report(service_level=service_level, completed=completed), frozenset(), POLICY, NOW)
    assert (SL in active) is breaches
    if breaches:
        assert events[0].window == "15m"
        assert events[0].value == service_level
        assert events[0].threshold == 0.8


@pytest.mark.parametrize(
    ("service_level", "recovers"),
    [(0.8, False), (0.879, False), (0.88, True), (None, True)],
)
def test_service_level_recovers_above_target_plus_hysteresis_or_without_data(
    service_level: float | None, recovers: bool
) -> None:
    # Falling below the minimum volume does not end the alert; only the value does.
    active, events = evaluate(report(service_level=service_level, completed=3), frozenset({SL}), POLICY, NOW)
    assert (SL in active) is not recovers
    assert states(events) == ([(SL, "recovery")] if recovers else [])


@pytest.mark.parametrize(
    ("target", "recovers_at", "still_breached_at"),
    [
        (0.95, 0.975, 0.974),  # 0.95 x 1.1 would be 1.045, out of reach: halfway to 100 % instead
        (1.0, 1.0, 0.999),
        (0.5, 0.55, 0.549),  # 0.5 x 1.1 = 0.55 is below halfway (0.75)
    ],
)
def test_a_high_service_level_target_can_recover(target: float, recovers_at: float, still_breached_at: float) -> None:
    targets = QueueTargets(wait_alert_seconds=60, service_level_target=target)
    active, _ = evaluate(report(service_level=still_breached_at, targets=targets), frozenset({SL}), POLICY, NOW)
    assert SL in active
    active, events = evaluate(report(service_level=recovers_at, targets=targets), frozenset({SL}), POLICY, NOW)
    assert states(events) == [(SL, "recovery")]


def test_both_alerts_are_independent() -> None:
    active, events = evaluate(report(oldest=90, service_level=0.5), frozenset(), POLICY, NOW)
    assert active == {WAIT, SL}
    active, events = evaluate(report(oldest=0, service_level=0.5), active, POLICY, NOW)
    assert active == {SL}
    assert states(events) == [(WAIT, "recovery")]


def test_zero_hysteresis_recovers_at_the_threshold() -> None:
    policy = AlertPolicy(window="15m", hysteresis=0.0, min_contacts=1)
    active, events = evaluate(report(oldest=60.0), frozenset({WAIT}), policy, NOW)
    assert active == frozenset()


def test_alert_event_json() -> None:
    event = AlertEvent("sales", "voice", WAIT, None, 75.5, 60.0, "breach", NOW + 0.25)
    assert json.loads(event.to_json()) == {
        "event_id": "sales/voice/oldest_waiting_seconds/breach/20261122T100000.250000Z",
        "queue": "sales",
        "channel": "voice",
        "metric": "oldest_waiting_seconds",
        "window": None,
        "value": 75.5,
        "threshold": 60.0,
        "state": "breach",
        "ts": "2026-11-22T10:00:00.250000Z",
    }
