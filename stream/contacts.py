"""Per-contact lifecycle state for calls and chats, and the measurements it yields.

The state of a contact is the set of lifecycle timestamps seen so far. The facts a
state implies are derived from the state alone, and a new event emits only the facts
its new state implies that the old one did not. So the result does not depend on
arrival order, and an event delivered twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["queued", "answered", "abandoned", "ended", "wrapped"]
FactKind = Literal["offered", "waiting", "answered", "abandoned", "handled"]

_OUTCOMES: tuple[Kind, ...] = ("answered", "abandoned")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A validated call or chat event in the compact form passed between stages."""

    kind: Kind
    ts: float
    contact_id: str
    channel: str
    queue: str | None = None
    customer_id: str | None = None
    resolved: bool | None = None

    def to_wire(self) -> list[Any]:
        return [self.kind, self.ts, self.contact_id, self.channel, self.queue, self.customer_id, self.resolved]

    @classmethod
    def from_wire(cls, row: list[Any]) -> Lifecycle:
        kind, ts, contact_id, channel, queue, customer_id, resolved = row
        return cls(kind, ts, contact_id, channel, queue, customer_id, resolved)


@dataclass(frozen=True, slots=True)
class Fact:
    """One measurement for a queue: what happened, when (event time) and its value in seconds."""

    kind: FactKind
    queue: str
    channel: str
    contact_id: str
    ts: float
    seconds: float = 0.0

    def to_wire(self) -> list[Any]:
        return [self.kind, self.queue, self.channel, self.contact_id, self.ts, self.seconds]

    @classmethod
    def from_wire(cls, row: list[Any]) -> Fact:
        kind, queue, channel, contact_id, ts, seconds = row
        return cls(kind, queue, channel, contact_id, ts, seconds)


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

    def to_wire(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ContactState:
        return cls(**data)

    @property
    def is_complete(self) -> bool:
        """Nothing more can be measured: abandoned, or wrapped after an answer."""
        if self.queued is None:
            return False
        return self.abandoned is not None or (self.answered is not None and self.wrapped is not None)

    @property
    def last_ts(self) -> float:
        return max(ts for ts in (self.queued, self.answered, self.abandoned, self.ended, self.wrapped) if ts is not None)


def apply_event(state: ContactState | None, event: Lifecycle) -> tuple[ContactState, list[Fact]] | None:
    """Apply one event; ``None`` when it is a duplicate (its lifecycle step is already known)."""
    old = state if state is not None else ContactState(channel=event.channel)
    if getattr(old, event.kind) is not None:
        return None
    # A contact ends its wait once: a second, conflicting outcome is ignored like a
    # duplicate, since a measurement once emitted is never retracted.
    if event.kind in _OUTCOMES and any(getattr(old, kind) is not None for kind in _OUTCOMES):
        return None
    changes: dict[str, Any] = {event.kind: event.ts}
    if event.kind == "queued":
        changes["queue"] = event.queue
        changes["customer_id"] = event.customer_id
    elif event.kind == "wrapped":
        changes["resolved"] = event.resolved
    new = replace(old, **changes)
    before = derive_facts(old, event.contact_id) if state is not None else {}
    after = derive_facts(new, event.contact_id)
    return new, [fact for key, fact in after.items() if key not in before]


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
    return facts


def is_expired(state: ContactState, now: float, lateness: float, ttl: float) -> bool:
    """A complete contact is kept for twice ``lateness``, any other for ``ttl``.

    The lateness check happens at ingest; the margin covers the time an accepted event may
    still spend between stages, so a late duplicate still finds its contact.
    """
    age = now - state.last_ts
    return age > (2 * lateness if state.is_complete else ttl)
