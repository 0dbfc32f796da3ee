"""Per-queue rolling-window aggregates of contact facts, and the KPI formulas over them.

Pure code: no Faust, no Prometheus. A :class:`QueueState` holds, for one queue and
channel, bucketed totals per window and the contacts waiting now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from stream.kpi.facts import SURVEY_KINDS, Fact
from stream.kpi.ids import id_key
from stream.kpi.windows import Window

#: Bounds on one queue and channel's collections of ids, far above real use (a few hundred
#: contacts waiting, a few thousand in a crisis; hundreds of survey answers a day), so that
#: invented ids cannot grow its changelog record past what the broker accepts (1 MB by default):
#: an id digest and its time take about 34 bytes of JSON, so both full are about 550 KB, which
#: leaves room for the buckets (up to about 270 KB with the default windows, for facts dated up to
#: the day ahead that SPEC §3 allows).
MAX_WAITING = 8_000
MAX_ANSWER_IDS = 8_000


@dataclass(slots=True)
class Applied:
    """What :func:`apply_facts` did not count."""

    #: Survey answers already counted.
    duplicates: int = 0
    #: Contacts not kept as waiting, and answers counted without their id kept, because the
    #: collection was full.
    over_limit: int = 0


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
    # Appended fields keep older changelog rows readable (see from_wire).
    fcr_count: int = 0
    fcr_sum: float = 0.0
    repeat_count: int = 0
    repeat_sum: float = 0.0
    first_response_count: int = 0
    first_response_sum: float = 0.0
    resolution_count: int = 0
    resolution_sum: float = 0.0
    reopened: int = 0
    csat_count: int = 0
    csat_sum: float = 0.0
    csat_satisfied: int = 0
    nps_count: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    ces_count: int = 0
    ces_sum: float = 0.0
    esat_count: int = 0
    esat_promoters: int = 0
    esat_detractors: int = 0

    def add(self, fact: Fact, rules: WaitRules) -> None:
        """Count ``fact`` in, or out again if it is a retraction."""
        sign = -1 if fact.retraction else 1
        kind, value = fact.kind, fact.value
        if kind == "answered":
            self.answered += sign
            self.answered_wait_sum += sign * value
            if value <= rules.service_level_seconds:
                self.answered_in_service_level += sign
            self._see_wait(value)
        elif kind == "abandoned":
            self.abandoned += sign
            if value < rules.short_abandon_seconds:
                self.short_abandoned += sign
            self._see_wait(value)
        elif kind in _MEANS:
            count, total = _MEANS[kind]
            setattr(self, count, getattr(self, count) + sign)
            setattr(self, total, getattr(self, total) + sign * value)
            if kind == "csat" and value >= 4:
                self.csat_satisfied += sign
        elif kind in ("nps", "esat"):
            setattr(self, f"{kind}_count", getattr(self, f"{kind}_count") + sign)
            if value >= 9:
                setattr(self, f"{kind}_promoters", getattr(self, f"{kind}_promoters") + sign)
            elif value <= 6:
                setattr(self, f"{kind}_detractors", getattr(self, f"{kind}_detractors") + sign)
        elif kind in ("offered", "reopened"):
            setattr(self, kind, getattr(self, kind) + sign)

    def _see_wait(self, seconds: float) -> None:
        # Waits are never retracted, so the maximum only grows.
        if self.wait_max is None or seconds > self.wait_max:
            self.wait_max = seconds

    @classmethod
    def total(cls, parts: Sequence[ContactTotals]) -> ContactTotals:
        """The sums of ``parts``, and their longest wait (reports merge many buckets: column-wise in C)."""
        if not parts:
            return cls()
        merged = cls(**dict(zip(_SUMMED, map(sum, zip(*map(_summed_values, parts), strict=True)), strict=True)))
        waits = [part.wait_max for part in parts if part.wait_max is not None]
        merged.wait_max = max(waits) if waits else None
        return merged

    def to_wire(self) -> list[Any]:
        return list(_values(self))

    @classmethod
    def from_wire(cls, row: list[Any]) -> ContactTotals:
        return cls(*row)


#: Fact kinds summed as a (count, sum) pair of fields.
_MEANS = {
    "handled": ("handled", "handle_sum"),
    "fcr": ("fcr_count", "fcr_sum"),
    "repeat": ("repeat_count", "repeat_sum"),
    "first_response": ("first_response_count", "first_response_sum"),
    "resolution": ("resolution_count", "resolution_sum"),
    "csat": ("csat_count", "csat_sum"),
    "ces": ("ces_count", "ces_sum"),
}
_FIELDS = tuple(f.name for f in fields(ContactTotals))
_SUMMED = tuple(name for name in _FIELDS if name != "wait_max")
_values = attrgetter(*_FIELDS)
_summed_values = attrgetter(*_SUMMED)


def contact_kpis(totals: ContactTotals) -> dict[str, float | None]:
    """The windowed KPIs of SPEC §4 over ``totals``; a ratio or mean without data is ``None``."""
    completed = totals.answered + totals.abandoned - totals.short_abandoned
    return {
        "contacts_offered": totals.offered,
        "contacts_answered": totals.answered,
        "contacts_abandoned": totals.abandoned,
        "contacts_completed": completed,
        "average_wait_seconds": _ratio(totals.answered_wait_sum, totals.answered),
        "max_wait_seconds": totals.wait_max,
        "service_level_ratio": _ratio(totals.answered_in_service_level, completed),
        "abandon_ratio": _ratio(totals.abandoned - totals.short_abandoned, completed),
        "average_handle_seconds": _ratio(totals.handle_sum, totals.handled),
        "fcr_ratio": _ratio(totals.fcr_sum, totals.fcr_count),
        "repeat_contact_ratio": _ratio(totals.repeat_sum, totals.repeat_count),
        "average_first_response_seconds": _ratio(totals.first_response_sum, totals.first_response_count),
        "average_resolution_seconds": _ratio(totals.resolution_sum, totals.resolution_count),
        "tickets_reopened": totals.reopened,
        "csat_score": _ratio(totals.csat_sum, totals.csat_count),
        "csat_satisfied_ratio": _ratio(totals.csat_satisfied, totals.csat_count),
        "nps_score": _net_score(totals.nps_promoters, totals.nps_detractors, totals.nps_count),
        "ces_score": _ratio(totals.ces_sum, totals.ces_count),
        "employee_nps_score": _net_score(totals.esat_promoters, totals.esat_detractors, totals.esat_count),
        "csat_responses": totals.csat_count,
        "nps_responses": totals.nps_count,
        "ces_responses": totals.ces_count,
        "esat_responses": totals.esat_count,
    }


def _net_score(promoters: int, detractors: int, answers: int) -> float | None:
    """100 x (promoters - detractors) / answers: NPS and eNPS."""
    return _ratio(100.0 * (promoters - detractors), answers)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(slots=True)
class QueueState:
    """Everything known about one queue and channel."""

    buckets: dict[str, dict[int, ContactTotals]] = field(default_factory=dict)
    #: Contacts waiting now: id digest (stream.kpi.ids) -> queued at.
    waiting: dict[str, float] = field(default_factory=dict)
    #: Metrics whose alert is active (see stream.kpi.alerting), kept with the queue so a
    #: restarted or new owner neither repeats a breach nor misses its recovery.
    alerts: frozenset[str] = frozenset()
    #: Survey answers counted, by event id digest, to recognise a duplicate (answers have no
    #: lifecycle): the worker's clock when each was counted.
    answers: dict[str, float] = field(default_factory=dict)
    #: The highest offset counted per origin ("topic/partition" of the earlier stage's input).
    origins: dict[str, int] = field(default_factory=dict)
    #: The worker's clock when facts last came: a queue idle long enough is forgotten.
    active_at: float | None = None

    def accept_origin(self, origin: str, offset: int) -> bool:
        """Record that facts from ``origin`` up to ``offset`` are counted; False if they already were.

        Facts for one key from one origin partition arrive in offset order, so a message at or
        below the highest offset seen is a re-delivery.
        """
        if self.origins.get(origin, -1) >= offset:
            return False
        self.origins[origin] = offset
        return True

    @property
    def is_empty(self) -> bool:
        return not (self.buckets or self.waiting or self.alerts or self.answers)

    def to_wire(self) -> dict[str, Any]:
        return {
            "buckets": {
                window: {str(start): totals.to_wire() for start, totals in by_start.items()}
                for window, by_start in self.buckets.items()
            },
            "waiting": self.waiting,
            "alerts": sorted(self.alerts),
            "answers": self.answers,
            "origins": self.origins,
            "active_at": self.active_at,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QueueState:
        return cls(
            buckets={
                window: {int(start): ContactTotals.from_wire(row) for start, row in by_start.items()}
                for window, by_start in data.get("buckets", {}).items()
            },
            waiting={id_key(contact): ts for contact, ts in data.get("waiting", {}).items()},
            alerts=frozenset(data.get("alerts", ())),
            answers={id_key(answer): at for answer, at in data.get("answers", {}).items()},
            origins=dict(data.get("origins", {})),
            active_at=data.get("active_at"),
        )


@dataclass(frozen=True, slots=True)
class WindowSet:
    """The windows to keep and the time zone their calendar days are in."""

    windows: tuple[Window, ...]
    tz: ZoneInfo

    def kept_from(self, now: float) -> float:
        """The earliest instant some window still covers at ``now``: an event dated before it
        counts in no window (SPEC §3: unless its contact or ticket is held, it is late).

        Every window's oldest live bucket starts on a bucket edge, so an event counts in a window
        exactly when it is dated at or after that window's edge."""
        return min(w.oldest_live_bucket(now, self.tz) for w in self.windows)


def apply_facts(
    state: QueueState, facts: Iterable[Fact], rules: WaitRules, window_set: WindowSet, now: float
) -> Applied:
    """Add ``facts`` to the buckets they fall in (or take retractions out), and track who is
    waiting. Survey answers already counted are ignored.

    A fact whose bucket is already outside a window at ``now`` does not count in that window.
    """
    oldest = {w.name: w.oldest_live_bucket(now, window_set.tz) for w in window_set.windows}
    applied = Applied()
    state.active_at = now
    for fact in facts:
        if fact.kind == "waiting":
            key = id_key(fact.contact_id)
            if key in state.waiting or len(state.waiting) < MAX_WAITING:
                state.waiting[key] = fact.ts
            else:
                applied.over_limit += 1
            continue
        if fact.kind in SURVEY_KINDS:
            key = id_key(fact.contact_id)
            if key in state.answers:
                applied.duplicates += 1
                continue
            if len(state.answers) < MAX_ANSWER_IDS:
                state.answers[key] = now
            else:
                applied.over_limit += 1
        if fact.kind in ("answered", "abandoned"):
            state.waiting.pop(id_key(fact.contact_id), None)
        for window in window_set.windows:
            start = window.bucket_of(fact.ts, window_set.tz)
            if start < oldest[window.name]:
                continue
            by_start = state.buckets.setdefault(window.name, {})
            totals = by_start.get(start)
            if totals is None:
                if fact.retraction:
                    continue  # its bucket left the window: nothing to take back
                totals = by_start[start] = ContactTotals()
            totals.add(fact, rules)
    return applied


def prune(state: QueueState, window_set: WindowSet, now: float, waiting_ttl: float, dedupe: float) -> bool:
    """Drop buckets that left their window, waits older than ``waiting_ttl`` and survey ids
    counted more than ``dedupe`` seconds ago; True if anything went."""
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
    # A contact still waiting after the TTL lost its answer or abandon event; keeping it would pin
    # 'oldest waiting' (and its alert) forever. Event time: the TTL is about the contact's own
    # life, so one queued long ago and read only now is not waiting now.
    for contact_id in [c for c, queued in state.waiting.items() if now - queued > waiting_ttl]:
        del state.waiting[contact_id]
        changed = True
    # The worker's clock: a duplicate is recognised for as long after its original was counted,
    # whatever the delay of either.
    for event_id in [e for e, counted in state.answers.items() if now - counted > dedupe]:
        del state.answers[event_id]
        changed = True
    return changed


def window_totals(state: QueueState, window: Window, tz: ZoneInfo, now: float) -> ContactTotals:
    """Totals over the buckets of ``window`` that are live at ``now``.

    Buckets that start after ``now`` (events dated ahead, up to the day SPEC §3 allows)
    are kept and count once their time comes.
    """
    oldest = window.oldest_live_bucket(now, tz)
    return ContactTotals.total([totals for start, totals in state.buckets.get(window.name, {}).items()
                                if oldest <= start <= now])  # fmt: skip


@dataclass(frozen=True, slots=True)
class WaitingNow:
    contacts_waiting: int
    oldest_waiting_seconds: float


def waiting_now(state: QueueState, now: float) -> WaitingNow:
    if not state.waiting:
        return WaitingNow(0, 0.0)
    return WaitingNow(len(state.waiting), max(0.0, now - min(state.waiting.values())))
