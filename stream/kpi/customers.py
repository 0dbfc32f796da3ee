"""Per-customer contact history: first-contact resolution and repeat contacts (SPEC §4).

Whether a contact is a repeat, and whether a wrapped contact was resolved on *first*
contact, depends on the customer's other contacts within the lookback. Contacts arrive
keyed by contact; the contact stage forwards a :class:`Visit` per contact with a known
customer, repartitioned by customer, and this module derives the facts from all of a
customer's visits, so an earlier contact arriving late corrects a later one's facts.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.events import TICKET
from stream.kpi.facts import Fact, changed_facts
from stream.kpi.wire import Row

#: Visits kept per customer. A real customer has a handful within the lookback; a placeholder id
#: shared by many contacts ("anonymous") must not grow one table value without bound.
MAX_VISITS_PER_CUSTOMER = 200


@dataclass(frozen=True, slots=True)
class Visit:
    """One contact of a customer: a call or chat queued, or a ticket created."""

    customer_id: str
    contact_id: str
    queue: str
    channel: str
    started: float
    wrapped: float | None = None  # calls and chats only
    resolved: bool | None = None

    def to_wire(self) -> list[Any]:
        return _VISIT_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> Visit:
        return _VISIT_WIRE.from_wire(row)


_VISIT_WIRE = Row(Visit)


@dataclass(slots=True)
class CustomerState:
    """A customer's visits within the retention, by contact id."""

    visits: dict[str, Visit] = field(default_factory=dict)

    def to_wire(self) -> list[Any]:
        return [visit.to_wire() for visit in self.visits.values()]

    @classmethod
    def from_wire(cls, rows: list[Any]) -> CustomerState:
        visits = (Visit.from_wire(row) for row in rows)
        return cls({visit.contact_id: visit for visit in visits})


def apply_visit(state: CustomerState, visit: Visit, lookback: float) -> list[Fact]:
    """Record ``visit`` (new, or an update of a known one); return the facts that changed."""
    known = state.visits.get(visit.contact_id)
    if known is not None and known.wrapped is not None and visit.wrapped is None:
        # A visit only gains information; an older copy re-delivered late does not undo a wrap.
        visit = replace(visit, wrapped=known.wrapped, resolved=known.resolved)
    if known == visit:
        return []
    before = derive_facts(state, lookback)
    state.visits[visit.contact_id] = visit
    after = derive_facts(state, lookback)
    if len(state.visits) > MAX_VISITS_PER_CUSTOMER:
        # The oldest visit is forgotten, not retracted; facts are derived before it goes, so
        # the visits it made repeats stay as they were measured.
        oldest = min(state.visits.values(), key=lambda v: v.started).contact_id
        del state.visits[oldest]
        for facts in (before, after):
            facts.pop(f"{oldest}/repeat", None)
            facts.pop(f"{oldest}/fcr", None)
    return changed_facts(before, after)


def derive_facts(state: CustomerState, lookback: float) -> dict[str, Fact]:
    """For every visit: 'repeat' (1 when an earlier visit started within ``lookback`` before
    it, else 0) and, once a call or chat is wrapped, 'fcr' (1 when resolved and not a repeat)."""
    starts = sorted(visit.started for visit in state.visits.values())
    facts: dict[str, Fact] = {}
    for visit in state.visits.values():
        repeat = _has_earlier(starts, visit.started, lookback)
        key = visit.contact_id
        facts[f"{key}/repeat"] = Fact("repeat", visit.queue, visit.channel, key, visit.started, 1.0 if repeat else 0.0)
        if visit.wrapped is not None and visit.channel != TICKET:
            first_resolved = bool(visit.resolved) and not repeat
            facts[f"{key}/fcr"] = Fact(
                "fcr", visit.queue, visit.channel, key, visit.wrapped, 1.0 if first_resolved else 0.0
            )
    return facts


def _has_earlier(starts: list[float], started: float, lookback: float) -> bool:
    """Whether any of the sorted ``starts`` lies in [started - lookback, started)."""
    before = bisect_left(starts, started)
    return before > 0 and starts[before - 1] >= started - lookback


def expire_visits(state: CustomerState, now: float, retention: float) -> bool:
    """Forget visits that started more than ``retention`` ago; True if any went.

    Nothing is retracted: facts already sent stay as they were measured.
    """
    old = [contact_id for contact_id, visit in state.visits.items() if now - visit.started > retention]
    for contact_id in old:
        del state.visits[contact_id]
    return bool(old)
