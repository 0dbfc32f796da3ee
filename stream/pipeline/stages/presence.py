"""The presence stage: agents' states per queue -> how many agents each queue has in each state,
and the queue's staffing told to the queue stage of each channel contacts wait in.

A queue's contacts are kept per channel under keys of their own, which the partitioner may place
on other workers than the queue's presence; the staffing facts carry the two numbers the staffing
KPIs need across (stream.kpi.staffing), with the origin of the presence message they follow from,
so a re-delivery is recognised as any fact's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faust

from stream.kpi.facts import Fact
from stream.kpi.presence import Presence, QueuePresence, agents_by_state, apply_presence
from stream.kpi.staffing import QUEUED_CHANNELS, staffing_now
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery, Origin, Outbox
from stream.pipeline.queue_limit import QueueLimit
from stream.serving.metrics import Metrics


@dataclass
class PresenceStage:
    presence: faust.TableT
    writes: HeldWrites
    queue_limit: QueueLimit
    clock: Callable[[], float]
    metrics: Metrics
    queue_facts: faust.TopicT
    partitions: int

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        now = self.clock()
        table = self.presence
        touched: dict[str, QueuePresence] = {}
        #: The origin of the latest message that changed each queue.
        origins: dict[str, Origin] = {}
        new_keys = 0  # written at the end of the batch, so counted against the limit as they come
        for row, origin in ((row, origin) for rows, origin in deliveries for row in rows):
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
                origins[presence.queue] = origin
                new_keys += is_new
        # Sent before the presence is written, as every stage's output (stream.pipeline.outbox).
        outbox = Outbox(self.partitions)
        for queue, state in touched.items():
            staffing = staffing_now(agents_by_state(state))
            for channel in QUEUED_CHANNELS:
                told = [
                    Fact("staffed", queue, channel, "", now, staffing.staffed),
                    Fact("available", queue, channel, "", now, staffing.available),
                ]
                outbox.add_facts(self.queue_facts, told, origins[queue])
        await outbox.send()
        for queue, state in touched.items():
            self.writes.put(table, queue, state)
