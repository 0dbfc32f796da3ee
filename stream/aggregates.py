"""Per-queue rolling-window aggregates of contact facts, and the KPI formulas over them.

Pure code: no Faust, no Prometheus. A :class:`QueueState` holds, for one queue and
channel, bucketed totals per window and the contacts waiting now.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from stream.contacts import Fact
from stream.windows import Window


@dataclass(frozen=True, slots=True)
class WaitRules:
    """The per-queue settings that decide how a completed wait is counted."""

    service_level_seconds: float
    short_abandon_seconds: float


@dataclass(slots=True)
class ContactTotals:
    """Sums over one bucket (or, merged, over a window)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_in_service_level: int = 0
    answered_wait_sum: float = 0.0
    wait_max: float | None = None
    handled: int = 0
    handle_sum: float = 0.0

    def add(self, fact: Fact, rules: WaitRules) -> None:
        if fact.kind == "offered":
            self.offered += 1
        elif fact.kind == "answered":
            self.answered += 1
            self.answered_wait_sum += fact.seconds
            if fact.seconds <= rules.service_level_seconds:
                self.answered_in_service_level += 1
            self._see_wait(fact.seconds)
        elif fact.kind == "abandoned":
            self.abandoned += 1
            if fact.seconds < rules.short_abandon_seconds:
                self.short_abandoned += 1
            self._see_wait(fact.seconds)
        elif fact.kind == "handled":
            self.handled += 1
            self.handle_sum += fact.seconds

    def _see_wait(self, seconds: float) -> None:
        if self.wait_max is None or seconds > self.wait_max:
            self.wait_max = seconds

    def merge(self, other: ContactTotals) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.wait_max is not None:
            self._see_wait(other.wait_max)

    def to_wire(self) -> list[Any]:
        return [getattr(self, name) for name in _FIELDS]

    @classmethod
    def from_wire(cls, row: list[Any]) -> ContactTotals:
        return cls(*row)


_FIELDS = tuple(f.name for f in fields(ContactTotals))
_SUMMED = tuple(name for name in _FIELDS if name != "wait_max")


def contact_kpis(totals: ContactTotals) -> dict[str, float | None]:
    """The call/chat KPIs of SPEC §4 over ``totals``; a ratio or mean without data is ``None``."""
    completed = totals.answered + totals.abandoned - totals.short_abandoned
    return {
        "contacts_offered": totals.offered,
        "contacts_answered": totals.answered,
        "contacts_abandoned": totals.abandoned,
        "average_wait_seconds": _ratio(totals.answered_wait_sum, totals.answered),
        "max_wait_seconds": totals.wait_max,
        "service_level_ratio": _ratio(totals.answered_in_service_level, completed),
        "abandon_ratio": _ratio(totals.abandoned - totals.short_abandoned, completed),
        "average_handle_seconds": _ratio(totals.handle_sum, totals.handled),
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(slots=True)
class QueueState:
    """Everything known about one queue and channel."""

    buckets: dict[str, dict[int, ContactTotals]] = field(default_factory=dict)
    waiting: dict[str, float] = field(default_factory=dict)
    #: Metrics whose alert is active (see stream.alerting), kept with the queue so a
    #: restarted or new owner neither repeats a breach nor misses its recovery.
    alerts: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.buckets or self.waiting or self.alerts)

    def to_wire(self) -> dict[str, Any]:
        return {
            "buckets": {
                window: {str(start): totals.to_wire() for start, totals in by_start.items()}
                for window, by_start in self.buckets.items()
            },
            "waiting": self.waiting,
            "alerts": sorted(self.alerts),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QueueState:
        return cls(
            buckets={
                window: {int(start): ContactTotals.from_wire(row) for start, row in by_start.items()}
                for window, by_start in data.get("buckets", {}).items()
            },
            waiting=dict(data.get("waiting", {})),
            alerts=frozenset(data.get("alerts", ())),
        )


@dataclass(frozen=True, slots=True)
class WindowSet:
    """The windows to keep and the time zone their calendar days are in."""

    windows: tuple[Window, ...]
    tz: ZoneInfo


def apply_facts(state: QueueState, facts: Iterable[Fact], rules: WaitRules, window_set: WindowSet, now: float) -> None:
    """Add ``facts`` to the buckets they fall in, and track who is waiting.

    A fact whose bucket is already outside a window at ``now`` does not count in that window.
    """
    oldest = {w.name: w.oldest_live_bucket(now, window_set.tz) for w in window_set.windows}
    for fact in facts:
        if fact.kind == "waiting":
            state.waiting[fact.contact_id] = fact.ts
            continue
        if fact.kind in ("answered", "abandoned"):
            state.waiting.pop(fact.contact_id, None)
        for window in window_set.windows:
            start = window.bucket_of(fact.ts, window_set.tz)
            if start < oldest[window.name]:
                continue
            by_start = state.buckets.setdefault(window.name, {})
            totals = by_start.get(start)
            if totals is None:
                totals = by_start[start] = ContactTotals()
            totals.add(fact, rules)


def prune(state: QueueState, window_set: WindowSet, now: float, waiting_ttl: float) -> bool:
    """Drop buckets that left their window and waits older than ``waiting_ttl``; True if anything went."""
    changed = False
    for name in set(state.buckets) - {w.name for w in window_set.windows}:
        del state.buckets[name]  # a window no longer configured
        changed = True
    for window in window_set.windows:
        by_start = state.buckets.get(window.name)
        if not by_start:
            continue
        oldest = window.oldest_live_bucket(now, window_set.tz)
        for start in [s for s in by_start if s < oldest]:
            del by_start[start]
            changed = True
        if not by_start:
            del state.buckets[window.name]
    # A contact still waiting after the TTL lost its answer or abandon event;
    # keeping it would pin 'oldest waiting' (and its alert) forever.
    for contact_id in [c for c, queued in state.waiting.items() if now - queued > waiting_ttl]:
        del state.waiting[contact_id]
        changed = True
    return changed


def window_totals(state: QueueState, window: Window, tz: ZoneInfo, now: float) -> ContactTotals:
    """Totals over the buckets of ``window`` that are live at ``now``.

    Buckets that start after ``now`` (events dated ahead, up to the day SPEC §3 allows)
    are kept and count once their time comes.
    """
    oldest = window.oldest_live_bucket(now, tz)
    merged = ContactTotals()
    for start, totals in state.buckets.get(window.name, {}).items():
        if oldest <= start <= now:
            merged.merge(totals)
    return merged


@dataclass(frozen=True, slots=True)
class WaitingNow:
    contacts_waiting: int
    oldest_waiting_seconds: float


def waiting_now(state: QueueState, now: float) -> WaitingNow:
    if not state.waiting:
        return WaitingNow(0, 0.0)
    return WaitingNow(len(state.waiting), max(0.0, now - min(state.waiting.values())))
