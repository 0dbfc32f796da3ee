"""The presence stage: agents' states per queue -> how many agents each queue has in each state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faust

from stream.kpi.presence import Presence, QueuePresence, apply_presence
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery
from stream.pipeline.queue_limit import QueueLimit
from stream.serving.metrics import Metrics


@dataclass
class PresenceStage:
    presence: faust.TableT
    writes: HeldWrites
    queue_limit: QueueLimit
    clock: Callable[[], float]
    metrics: Metrics

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        now = self.clock()
        table = self.presence
        touched: dict[str, QueuePresence] = {}
        new_keys = 0  # written at the end of the batch, so counted against the limit as they come
        for row in (row for rows, _ in deliveries for row in rows):
            presence = Presence.from_wire(row)
            state = touched.get(presence.queue) or self.writes.get(table, presence.queue)
            is_new = state is None
            if is_new:
                if not self.queue_limit.may_add(table, presence.queue, new_keys):
                    self.metrics.over_queue_limit.labels("presence").inc()
                    continue
                state = QueuePresence()
            if not state.has_room_for(presence.agent_id):
                self.metrics.over_state_limit.labels("presence").inc()
                continue
            if apply_presence(state, presence, now):
                touched[presence.queue] = state
                new_keys += is_new
        for queue, state in touched.items():
            self.writes.put(table, queue, state)
