"""Threshold breaches of queue KPIs, with hysteresis, as events for the alerts topic.

Pure code. Given a queue's report and the alerts already active for it, :func:`evaluate`
says which alerts start (``breach``) or end (``recovery``) now. An alert starts when the
value crosses the threshold and ends only when the value is back past it by a margin
(the hysteresis), or has no data any more, so a value hovering at the threshold does not
produce a stream of breach/recovery pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from stream.kpi.targets import Direction

if TYPE_CHECKING:
    from stream.kpi.report import QueueReport

AlertState = Literal["breach", "recovery"]


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    #: The window whose service level is watched.
    window: str
    #: Fraction of the threshold a value must move back past before the alert recovers.
    hysteresis: float
    #: Completed waits needed in the window before the service level can breach.
    min_contacts: int


@dataclass(frozen=True, slots=True)
class Reading:
    """One watched value of a queue and the threshold it is held to."""

    metric: str
    window: str | None
    value: float | None
    threshold: float
    direction: Direction
    #: Enough data for a breach to mean something.
    significant: bool = True

    def breached(self) -> bool:
        if self.value is None or not self.significant:
            return False
        if self.direction is Direction.LOWER_IS_BETTER:
            return self.value > self.threshold
        return self.value < self.threshold

    def recovered(self, hysteresis: float) -> bool:
        if self.value is None:
            return True
        if self.direction is Direction.LOWER_IS_BETTER:
            return self.value <= _level(self.threshold * (1 - hysteresis))
        # A ratio cannot pass 1: for a high target, recovery is at most halfway from it to 100 %.
        return self.value >= _level(min(self.threshold * (1 + hysteresis), (self.threshold + 1) / 2))


def _level(value: float) -> float:
    # So that 0.8 x 1.1 is 0.88, as an operator reading the configuration expects.
    return round(value, 9)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A message on the alerts topic (SPEC §2), keyed by queue."""

    queue: str
    channel: str
    metric: str
    window: str | None
    value: float | None
    threshold: float
    state: AlertState
    ts: float

    def to_json(self) -> bytes:
        moment = datetime.fromtimestamp(self.ts, UTC)
        document = {
            "event_id": f"{self.queue}/{self.channel}/{self.metric}/{self.state}/{moment:%Y%m%dT%H%M%S.%fZ}",
            "queue": self.queue,
            "channel": self.channel,
            "metric": self.metric,
            "window": self.window,
            "value": self.value,
            "threshold": self.threshold,
            "state": self.state,
            "ts": moment.isoformat().replace("+00:00", "Z"),
        }
        return json.dumps(document, separators=(",", ":")).encode()


def readings(report: QueueReport, policy: AlertPolicy) -> list[Reading]:
    """The values of ``report`` that raise alerts: oldest waiting, and the service level."""
    kpis = report.windows.get(policy.window, {})
    # The waits the service level is computed over: short abandons are left out of it.
    completed = kpis.get("contacts_completed") or 0
    return [
        Reading(
            "oldest_waiting_seconds",
            None,
            report.waiting.oldest_waiting_seconds,
            report.targets.wait_alert_seconds,
            Direction.LOWER_IS_BETTER,
        ),
        Reading(
            "service_level_ratio",
            policy.window,
            kpis.get("service_level_ratio"),
            report.targets.service_level_target,
            Direction.HIGHER_IS_BETTER,
            significant=completed >= policy.min_contacts,
        ),
    ]


def evaluate(
    report: QueueReport, active: frozenset[str], policy: AlertPolicy, now: float
) -> tuple[frozenset[str], list[AlertEvent]]:
    """The metrics in breach after this evaluation, and the events that changed them."""
    events = []
    for reading in readings(report, policy):
        if reading.metric in active:
            state: AlertState | None = "recovery" if reading.recovered(policy.hysteresis) else None
        else:
            state = "breach" if reading.breached() else None
        if state is not None:
            events.append(
                AlertEvent(
                    report.queue,
                    report.channel,
                    reading.metric,
                    reading.window,
                    reading.value,
                    reading.threshold,
                    state,
                    now,
                )
            )
    return active ^ {event.metric for event in events}, events
