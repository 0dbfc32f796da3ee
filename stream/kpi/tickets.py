"""Per-ticket state and the measurements it yields (SPEC §4).

Like a call's lifecycle, a ticket's state is the set of timestamps seen so far and its
facts are derived from the state alone. Unlike a call, a ticket may be replied to, solved
and reopened many times:

- first response: the earliest *public* reply (private notes never reach this module);
- resolution: the first solve after the last reopen, so a reopen takes back the earlier
  resolution and the next solve is measured instead; each reopen counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from schemas.events import TICKET
from stream.kpi.contacts import Lifecycle
from stream.kpi.customers import Visit
from stream.kpi.facts import Fact, FactKind, changed_facts
from stream.kpi.wire import Sparse

_SERIES = {"replied": "replies", "solved": "solves", "reopened": "reopens"}
#: Replies, solves and reopens one ticket keeps of each, far above real use (a handful; a hundred
#: replies on a long case), so invented events cannot grow its changelog record without bound.
MAX_STEPS = 1_000


@dataclass(frozen=True, slots=True)
class TicketState:
    queue: str | None = None
    customer_id: str | None = None
    created: float | None = None
    replies: tuple[float, ...] = ()  # public replies, sorted
    solves: tuple[float, ...] = ()
    reopens: tuple[float, ...] = ()
    #: The worker's clock when this state last changed (see stream.kpi.contacts.ContactState).
    changed_at: float | None = None

    def to_wire(self) -> dict[str, Any]:
        return _TICKET_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TicketState:
        return _TICKET_WIRE.from_wire(data)

    @property
    def last_ts(self) -> float:
        return max((self.created or 0.0, *self.replies, *self.solves, *self.reopens))


_TICKET_WIRE = Sparse(TicketState, decode=dict.fromkeys(_SERIES.values(), tuple))


def apply_ticket_event(
    state: TicketState | None, event: Lifecycle, now: float
) -> tuple[TicketState, list[Fact]] | None:
    """Apply one ticket event, processed at ``now``; ``None`` when it repeats one already known
    (same step, same time)."""
    old = state if state is not None else TicketState()
    if event.kind == "created":
        if old.created is not None:
            return None
        new = replace(old, created=event.ts, queue=event.queue, customer_id=event.customer_id, changed_at=now)
    else:
        name = _SERIES[event.kind]
        known: tuple[float, ...] = getattr(old, name)
        if event.ts in known:
            return None
        new = replace(old, **{name: tuple(sorted((*known, event.ts))), "changed_at": now})
    before = derive_facts(old, event.contact_id) if state is not None else {}
    return new, changed_facts(before, derive_facts(new, event.contact_id))


def has_room(state: TicketState | None, event: Lifecycle) -> bool:
    """Whether the ticket can keep one more step of ``event``'s kind."""
    name = _SERIES.get(event.kind)
    return state is None or name is None or len(getattr(state, name)) < MAX_STEPS


def derive_facts(state: TicketState, ticket_id: str) -> dict[str, Fact]:
    if state.created is None or state.queue is None:
        return {}
    created, queue = state.created, state.queue

    def fact(kind: FactKind, ts: float, value: float = 0.0) -> Fact:
        return Fact(kind, queue, TICKET, ticket_id, ts, max(value, 0.0))

    facts = {"offered": fact("offered", created)}
    if state.replies:
        facts["first_response"] = fact("first_response", state.replies[0], state.replies[0] - created)
    last_reopen = state.reopens[-1] if state.reopens else None
    solve = next((ts for ts in state.solves if last_reopen is None or ts > last_reopen), None)
    if solve is not None:
        facts["resolution"] = fact("resolution", solve, solve - created)
    for reopen in state.reopens:
        facts[f"reopened/{reopen!r}"] = fact("reopened", reopen)
    return facts


def visit_of(state: TicketState, ticket_id: str) -> Visit | None:
    if state.customer_id is None or state.created is None or state.queue is None:
        return None
    return Visit(state.customer_id, ticket_id, state.queue, TICKET, state.created)


def is_expired(state: TicketState, now: float, dedupe: float, ttl: float, orphan_ttl: float) -> bool:
    """Whether the ticket may be forgotten at ``now``: ``dedupe`` seconds after the worker last
    changed it (so a duplicate is recognised, however late the original was read), and ``ttl``
    after its last event, by event time, since a ticket can be reopened long after it is solved.

    Events of a ticket whose ``created`` has not come are kept only ``orphan_ttl`` after the worker
    last changed them: a ``created`` delivered out of order comes soon after its ticket's other
    events are read, and invented ticket ids must not be kept for a month.
    """
    changed_at = state.last_ts if state.changed_at is None else state.changed_at
    if state.created is None:
        return now - changed_at > orphan_ttl
    return now - changed_at > dedupe and now - state.last_ts > ttl


def kept_until(state: TicketState, dedupe: float, ttl: float, orphan_ttl: float) -> float:
    """Until when the ticket is kept, unchanged: :func:`is_expired` is False at any ``now`` up to
    this time and True at any later one."""
    changed_at = state.last_ts if state.changed_at is None else state.changed_at
    if state.created is None:
        return changed_at + orphan_ttl
    return max(changed_at + dedupe, state.last_ts + ttl)
