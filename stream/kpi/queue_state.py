"""What is kept per queue and channel: bucketed totals per window, the contacts waiting now, and
what recognises a fact already counted.

The totals of a bucket are a row of :mod:`stream.kpi.aggregators`; the KPIs over a window are
those of its live buckets' totals (:func:`window_totals`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from stream.kpi.aggregators import Totals, WaitRules
from stream.kpi.facts import STAFFING_KINDS, SURVEY_KINDS, Fact
from stream.kpi.ids import id_key
from stream.kpi.staffing import Staffing
from stream.kpi.windows import Window, WindowSet

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


@dataclass(slots=True)
class QueueState:
    """Everything known about one queue and channel."""

    buckets: dict[str, dict[int, Totals]] = field(default_factory=dict)
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
    #: The queue's agents now, as the presence stage last told (the queue's presence may be on
    #: another worker): not a reason to keep the state, as it says nothing of contacts.
    staffing: Staffing | None = None
    #: Counts the calls of apply_facts (not written to the changelog), so reports can reuse the
    #: window KPIs of a state no fact has reached since (stream.kpi.window_cache). Expiry drops
    #: only buckets already outside their window, which no window's KPIs include.
    revision: int = field(default=0, compare=False)

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
            "staffing": None if self.staffing is None else [self.staffing.staffed, self.staffing.available],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QueueState:
        return cls(
            buckets={
                window: {int(start): Totals.from_wire(row) for start, row in by_start.items()}
                for window, by_start in data.get("buckets", {}).items()
            },
            waiting={id_key(contact): ts for contact, ts in data.get("waiting", {}).items()},
            alerts=frozenset(data.get("alerts", ())),
            answers={id_key(answer): at for answer, at in data.get("answers", {}).items()},
            origins=dict(data.get("origins", {})),
            active_at=data.get("active_at"),
            staffing=Staffing(*data["staffing"]) if data.get("staffing") else None,
        )


def split_staffing(facts: Iterable[Fact]) -> tuple[list[Fact], list[Fact]]:
    """The facts that measure contacts, and those that tell the queue its agents."""
    measures: list[Fact] = []
    staffing: list[Fact] = []
    for fact in facts:
        (staffing if fact.kind in STAFFING_KINDS else measures).append(fact)
    return measures, staffing


def apply_staffing(state: QueueState, facts: Iterable[Fact]) -> None:
    """Keep the agents told by ``facts``: one "staffed" and one "available" fact, from the partition
    of the queue's presence, which sends them in order (a re-delivery is recognised by its origin)."""
    told = {fact.kind: fact for fact in facts}
    if set(told) == STAFFING_KINDS:
        state.staffing = Staffing(int(told["staffed"].value), int(told["available"].value))


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
    state.revision += 1
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
                totals = by_start[start] = Totals()
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


def window_totals(state: QueueState, window: Window, tz: ZoneInfo, now: float) -> Totals:
    """Totals over the buckets of ``window`` that are live at ``now``.

    Buckets that start after ``now`` (events dated ahead, up to the day SPEC §3 allows)
    are kept and count once their time comes.
    """
    oldest = window.oldest_live_bucket(now, tz)
    return Totals.total(
        [totals for start, totals in state.buckets.get(window.name, {}).items() if oldest <= start <= now]
    )


@dataclass(frozen=True, slots=True)
class WaitingNow:
    contacts_waiting: int
    oldest_waiting_seconds: float


def waiting_now(state: QueueState, now: float) -> WaitingNow:
    if not state.waiting:
        return WaitingNow(0, 0.0)
    return WaitingNow(len(state.waiting), max(0.0, now - min(state.waiting.values())))
