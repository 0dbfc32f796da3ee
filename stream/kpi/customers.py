"""Per-customer contact history: first-contact resolution and repeat contacts (SPEC §4).

Whether a contact is a repeat, and whether a wrapped contact was resolved on *first*
contact, depends on the customer's other contacts within the lookback. Contacts arrive
keyed by contact; the contact stage forwards a :class:`Visit` per contact with a known
customer, repartitioned by customer, and this module derives the facts from all of a
customer's visits, so an earlier contact arriving late corrects a later one's facts.

A visit is a repeat when the latest visit that started strictly before it started within the
lookback before it. So a visit added, moved or removed at time ``s`` can change only its own facts
and those of the visits at the next later start after ``s``: any visit later than those still has
one of them as its latest earlier visit. :func:`apply_visit` derives just those, from the
customer's history kept in start order, however many visits the customer has.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from schemas.events import TICKET
from stream.kpi.facts import Fact, changed_facts
from stream.kpi.wire import Row

#: Visits kept per customer. A real customer has a handful within the lookback; a placeholder id
#: shared by many contacts ("anonymous") must not grow one table value without bound.
MAX_VISITS_PER_CUSTOMER = 200


@dataclass(frozen=True, slots=True)
class Visit:
    """One contact of a customer: a call or chat queued, or a ticket created.

    Also the message the contact stage sends the customer stage, so its wire form is fixed.
    """

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


@dataclass(frozen=True, slots=True)
class KeptVisit:
    """A visit as a customer's history keeps it: without the customer id, which is the table key."""

    contact_id: str
    queue: str
    channel: str
    started: float
    wrapped: float | None = None
    resolved: bool | None = None

    @classmethod
    def of(cls, visit: Visit) -> KeptVisit:
        # Millions of visits are kept and a centre has a few hundred queues: interned, each name is
        # one string however many visits carry it.
        queue, channel = sys.intern(visit.queue), sys.intern(visit.channel)
        return cls(visit.contact_id, queue, channel, visit.started, visit.wrapped, visit.resolved)


# An interned string is freed once nothing refers to it (CPython 3.11, which the worker runs), so
# queue names invented by bad input do not pile up. A row leaves out wrapped and resolved while
# unset (tickets, open calls).
_KEPT_WIRE = Row(KeptVisit, decode={"queue": sys.intern, "channel": sys.intern}, optional=("wrapped", "resolved"))
_started = attrgetter("started")


@dataclass(slots=True)
class CustomerState:
    """A customer's visits within the retention, in start order.

    Visits that started at the same time stay in the order they were first seen at that time, which
    decides which of them :data:`MAX_VISITS_PER_CUSTOMER` forgets first. One list and no index by
    contact id: a dict would cost more than the visits of most customers.
    """

    history: list[KeptVisit] = field(default_factory=list)

    @property
    def visits(self) -> dict[str, KeptVisit]:
        """The visits by contact id, built on each call (the stage itself searches the history)."""
        return {visit.contact_id: visit for visit in self.history}

    def to_wire(self) -> dict[str, Any]:
        return {"history": [_KEPT_WIRE.to_wire(visit) for visit in self.history]}

    @classmethod
    def from_wire(cls, data: dict[str, Any] | list[Any]) -> CustomerState:
        if isinstance(data, dict):
            return cls([_KEPT_WIRE.from_wire(row) for row in data["history"]])
        # The first form, still in changelogs: a Visit row per visit, customer id and all, in the
        # order first seen, which a stable sort keeps among visits that started at the same time.
        return cls(sorted((KeptVisit.of(Visit.from_wire(row)) for row in data), key=_started))


def apply_visit(state: CustomerState, visit: Visit, lookback: float) -> list[Fact]:
    """Record ``visit`` (new, or an update of a known one); return the facts that changed."""
    history = state.history
    new = KeptVisit.of(visit)
    at = _find(history, new.contact_id)
    known = history[at] if at is not None else None
    if known is not None and known.wrapped is not None and new.wrapped is None:
        # A visit only gains information; an older copy re-delivered late does not undo a wrap.
        new = replace(new, wrapped=known.wrapped, resolved=known.resolved)
    if known == new:
        return []
    # Besides the visit itself, only the visits at the next start after its old and new start
    # can change (the module's docstring says why).
    neighbours = _next_after(history, new.started, new.contact_id)
    if known is not None:
        neighbours += _next_after(history, known.started, new.contact_id)
    before = _derive(history, neighbours if known is None else [*neighbours, known], lookback)
    if at is None:
        insort_right(history, new, key=_started)
    elif history[at].started == new.started:
        history[at] = new  # where it was among visits that started at the same time
    else:
        del history[at]
        insort_right(history, new, key=_started)
    after = _derive(history, [*neighbours, new], lookback)
    if len(history) > MAX_VISITS_PER_CUSTOMER:
        # The oldest visit is forgotten, not retracted; facts are derived before it goes, so
        # the visits it made repeats stay as they were measured.
        oldest = history.pop(0).contact_id
        for facts in (before, after):
            facts.pop(f"{oldest}/repeat", None)
            facts.pop(f"{oldest}/fcr", None)
    return changed_facts(before, after)


def _find(history: list[KeptVisit], contact_id: str) -> int | None:
    """Where ``contact_id`` is in ``history``.

    A scan: comparing ids is cheap next to deriving facts, and an index would cost more memory
    than most customers' visits.
    """
    for at, visit in enumerate(history):
        if visit.contact_id == contact_id:
            return at
    return None


def _next_after(history: list[KeptVisit], started: float, contact_id: str) -> list[KeptVisit]:
    """The visits other than ``contact_id`` at the earliest start later than ``started``."""
    found: list[KeptVisit] = []
    for visit in history[bisect_right(history, started, key=_started) :]:
        if visit.contact_id == contact_id:
            continue
        if found and visit.started != found[0].started:
            break
        found.append(visit)
    return found


def _derive(history: list[KeptVisit], visits: Iterable[KeptVisit], lookback: float) -> dict[str, Fact]:
    """For each of ``visits``: 'repeat' (1 when an earlier visit started within ``lookback``
    before it, else 0) and, once a call or chat is wrapped, 'fcr' (1 when resolved and not a repeat)."""
    facts: dict[str, Fact] = {}
    for visit in visits:
        earlier = bisect_left(history, visit.started, key=_started)
        repeat = earlier > 0 and history[earlier - 1].started >= visit.started - lookback
        key = visit.contact_id
        facts[f"{key}/repeat"] = Fact("repeat", visit.queue, visit.channel, key, visit.started, 1.0 if repeat else 0.0)
        if visit.wrapped is not None and visit.channel != TICKET:
            first_resolved = bool(visit.resolved) and not repeat
            facts[f"{key}/fcr"] = Fact(
                "fcr", visit.queue, visit.channel, key, visit.wrapped, 1.0 if first_resolved else 0.0
            )
    return facts


def expire_visits(state: CustomerState, now: float, retention: float) -> bool:
    """Forget visits that started more than ``retention`` ago; True if any went.

    Nothing is retracted: facts already sent stay as they were measured.
    """
    history = state.history
    old = 0
    while old < len(history) and now - history[old].started > retention:
        old += 1
    del history[:old]
    return old > 0


def next_expiry(state: CustomerState, retention: float) -> float | None:
    """The earliest ``started + retention`` of the visits (None without visits): when
    :func:`expire_visits` can next forget one."""
    return state.history[0].started + retention if state.history else None
