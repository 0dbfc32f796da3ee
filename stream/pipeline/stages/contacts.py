"""The contact stage: calls and chats update the contacts table, tickets the tickets table; both
yield facts for the queues and, for a known customer, a visit for the customer stage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from schemas.events import TICKET
from stream.ingest.deadletter import InputMessage
from stream.kpi.contacts import Lifecycle, apply_event
from stream.kpi.contacts import visit_of as contact_visit
from stream.kpi.customers import Visit
from stream.kpi.tickets import apply_ticket_event
from stream.kpi.tickets import has_room as ticket_has_room
from stream.kpi.tickets import visit_of as ticket_visit
from stream.kpi.windows import WindowSet
from stream.pipeline.dead_letters import DeadLetters
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery, Outbox
from stream.serving.metrics import Metrics

#: Per table of the stage: apply an event, and the visit a state implies.
_LIFECYCLES: dict[str, tuple[Callable[[Any, Lifecycle, float], Any], Callable[[Any, str], Visit | None]]] = {
    "contacts": (apply_event, contact_visit),
    "tickets": (apply_ticket_event, ticket_visit),
}


@dataclass
class ContactStage:
    contacts: faust.TableT
    tickets: faust.TableT
    writes: HeldWrites
    queue_facts: faust.TopicT
    customer_visits: faust.TopicT
    partitions: int
    window_set: WindowSet
    clock: Callable[[], float]
    #: Channel -> the input topic its events come from (duplicates are counted per input topic).
    topic_of: dict[str, str]
    metrics: Metrics
    dead_letters: DeadLetters

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        """Apply each event to its contact or ticket. An event dated before every kept window counts
        only for a contact or ticket held; otherwise it is late."""
        now = self.clock()
        tables = {"contacts": self.contacts, "tickets": self.tickets}
        touched: dict[str, dict[str, Any]] = {name: {} for name in tables}
        outbox = Outbox(self.partitions)
        late: list[InputMessage] = []
        for rows, origin in deliveries:
            for row in rows:
                unless_held = None
                if isinstance(row, dict):
                    row, unless_held = row["event"], InputMessage.from_wire(row["unless_held"])
                event = Lifecycle.from_wire(row)
                name = "tickets" if event.channel == TICKET else "contacts"
                apply, visit_of = _LIFECYCLES[name]
                state = touched[name].get(event.contact_id) or self.writes.get(tables[name], event.contact_id)
                if state is None and unless_held is not None:
                    late.append(unless_held)
                    continue
                if name == "tickets" and not ticket_has_room(state, event):
                    self.metrics.over_state_limit.labels("tickets").inc()
                    continue
                result = apply(state, event, now)
                if result is None:
                    self.metrics.duplicate.labels(self.topic_of[event.channel]).inc()
                    continue
                new, facts = result
                touched[name][event.contact_id] = new
                outbox.add_facts(self.queue_facts, facts, origin)
                visit = visit_of(new, event.contact_id)
                if visit is not None and (state is None or visit != visit_of(state, event.contact_id)):
                    outbox.add(self.customer_visits, visit.customer_id, visit.to_wire())
        await outbox.send()
        await self.dead_letters.send_late(
            late, self.window_set.kept_from(now), ", and its contact or ticket is not held"
        )
        # States are put after the output they imply is sent (stream.pipeline.held_writes).
        for name, states in touched.items():
            for key, state in states.items():
                self.writes.put(tables[name], key, state)
