"""The customer stage: visits -> each customer's history -> FCR and repeat-contact facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import faust

from stream.kpi.customers import CustomerState, Visit, apply_visit
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery, Outbox


@dataclass
class CustomerStage:
    customers: faust.TableT
    writes: HeldWrites
    queue_facts: faust.TopicT
    partitions: int
    fcr_lookback_seconds: float

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        touched: dict[str, CustomerState] = {}
        outbox = Outbox(self.partitions)
        for rows, origin in deliveries:
            for row in rows:
                visit = Visit.from_wire(row)
                state = (
                    touched.get(visit.customer_id)
                    or self.writes.get(self.customers, visit.customer_id)
                    or CustomerState()
                )
                outbox.add_facts(self.queue_facts, apply_visit(state, visit, self.fcr_lookback_seconds), origin)
                touched[visit.customer_id] = state
        await outbox.send()
        for customer_id, state in touched.items():
            self.writes.put(self.customers, customer_id, state)
