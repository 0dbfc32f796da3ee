"""Per-contact lifecycle state for calls and chats, and the measurements it yields.

The state of a contact is the set of lifecycle timestamps seen so far. The facts a
state implies are derived from the state alone, and a new event emits only the facts
its new state implies that the old one did not. So the result does not depend on
arrival order, and an event delivered twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from stream.kpi.customers import Visit
from stream.kpi.facts import Fact, FactKind, changed_facts
from stream.kpi.wire import Row, Sparse

Kind = Literal["queued", "answered", "abandoned", "ended", "wrapped"]
#: Ticket events travel in the same form (see stream.kpi.tickets); private replies are not forwarded.
TicketKind = Literal["created", "replied", "solved", "reopened"]

_OUTCOMES: tuple[Kind, ...] = ("answered", "abandoned")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A validated call, chat or ticket event in the compact form passed between stages."""

    kind: Kind | TicketKind
    ts: float
    contact_id: str
    channel: str
    queue: str | None = None
    customer_id: str | None = None
    resolved: bool | None = None

    def to_wire(self) -> list[Any]:
        return _LIFECYCLE_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> Lifecycle:
        return _LIFECYCLE_WIRE.from_wire(row)


@dataclass(frozen=True, slots=True)
class ContactState:
    channel: str
    queue: str | None = None
    customer_id: str | None = None
    queued: float | None = None
    answered: float | None = None
    abandoned: float | None = None
    ended: float | None = None
    wrapped: float | None = None
    resolved: bool | None = None
    #: The worker's clock when this state last changed: how long ago its events were processed.
    changed_at: float | None = None

    def to_wire(self) -> dict[str, Any]:
        return _CONTACT_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ContactState:
        return _CONTACT_WIRE.from_wire(data)

    @property
    def is_complete(self) -> bool:
        """Nothing more can be measured: abandoned, or wrapped after an answer."""
        if self.queued is None:
            return False
        return self.abandoned is not None or (self.answered is not None and self.wrapped is not None)

    @property
    def last_ts(self) -> float:
        return max(
            ts for ts in (self.queued, self.answered, self.abandoned, self.ended, self.wrapped) if ts is not None
        )


_LIFECYCLE_WIRE = Row(Lifecycle)
_CONTACT_WIRE = Sparse(ContactState)


def apply_event(state: ContactState | None, event: Lifecycle, now: float) -> tuple[ContactState, list[Fact]] | None:
    """Apply one event, processed at ``now``; ``None`` when it is a duplicate (its lifecycle step
    is already known)."""
    old = state if state is not None else ContactState(channel=event.channel)
    if getattr(old, event.kind) is not None:
        return None
    # A contact ends its wait once: a second, conflicting outcome is ignored like a
    # duplicate, since a measurement once emitted is never retracted.
    if event.kind in _OUTCOMES and any(getattr(old, kind) is not None for kind in _OUTCOMES):
        return None
    changes: dict[str, Any] = {event.kind: event.ts, "changed_at": now}
    if event.kind == "queued":
        changes["queue"] = event.queue
        changes["customer_id"] = event.customer_id
    elif event.kind == "wrapped":
        changes["resolved"] = event.resolved
    new = replace(old, **changes)
    before = derive_facts(old, event.contact_id) if state is not None else {}
    return new, changed_facts(before, derive_facts(new, event.contact_id))


def derive_facts(state: ContactState, contact_id: str) -> dict[str, Fact]:
    """Every fact a contact state implies, keyed by what it measures."""
    if state.queued is None or state.queue is None:
        return {}

    def fact(kind: FactKind, ts: float, seconds: float = 0.0) -> Fact:
        # Clock skew between producers can make a duration negative; it is at least zero.
        return Fact(kind, state.queue or "", state.channel, contact_id, ts, max(seconds, 0.0))

    facts = {"offered": fact("offered", state.queued)}
    if state.answered is not None:
        facts["wait"] = fact("answered", state.answered, state.answered - state.queued)
        if state.wrapped is not None:
            facts["handle"] = fact("handled", state.wrapped, state.wrapped - state.answered)
    elif state.abandoned is not None:
        facts["wait"] = fact("abandoned", state.abandoned, state.abandoned - state.queued)
    else:
        facts["waiting"] = fact("waiting", state.queued)
    # A contact without a customer is a first contact (SPEC §4); for a known customer the
    # customer stage decides, from the customer's other contacts.
    if state.wrapped is not None and state.customer_id is None:
        facts["fcr"] = fact("fcr", state.wrapped, 1.0 if state.resolved else 0.0)
    return facts


def visit_of(state: ContactState, contact_id: str) -> Visit | None:
    """What the customer stage needs to know of this contact, once its customer is known."""
    if state.customer_id is None or state.queued is None or state.queue is None:
        return None
    return Visit(state.customer_id, contact_id, state.queue, state.channel, state.queued, state.wrapped, state.resolved)


def is_expired(state: ContactState, now: float, dedupe: float, ttl: float) -> bool:
    """Whether the contact may be forgotten at ``now``.

    Its steps are what recognises a duplicate, so every contact is kept ``dedupe`` seconds after
    the worker last changed it, by the worker's clock: a backlog read after an outage is as
    protected as live input. A contact still unfinished after that is also kept until ``ttl``
    after its last event, by event time, since the TTL is about the contact (its remaining
    events are lost) and not about its delivery.
    """
    changed_at = state.last_ts if state.changed_at is None else state.changed_at
    if now - changed_at <= dedupe:
        return False
    return state.is_complete or now - state.last_ts > ttl


def kept_until(state: ContactState, dedupe: float, ttl: float) -> float:
    """Until when the contact is kept, unchanged: :func:`is_expired` is False at any ``now`` up to
    this time and True at any later one."""
    changed_at = state.last_ts if state.changed_at is None else state.changed_at
    deduped = changed_at + dedupe
    return deduped if state.is_complete else max(deduped, state.last_ts + ttl)
