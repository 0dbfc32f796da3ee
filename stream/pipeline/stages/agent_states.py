"""The agent-state stage: each agent's latest state -> the agent's presence in every queue it serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import faust

from stream.kpi.presence import AgentUpdate, apply_agent_update, kept_update
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery, Outbox
from stream.serving.metrics import Metrics


@dataclass
class AgentStateStage:
    agents: faust.TableT
    writes: HeldWrites
    queue_presence: faust.TopicT
    partitions: int
    #: The input topic of agent states, which duplicates are counted against.
    agents_topic: str
    metrics: Metrics

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        touched: dict[str, AgentUpdate] = {}
        outbox = Outbox(self.partitions)
        for row in (row for rows, _ in deliveries for row in rows):
            update = AgentUpdate.from_wire(row)
            latest = touched.get(update.agent_id) or self.writes.get(self.agents, update.agent_id)
            presences = apply_agent_update(latest, update)
            if presences is None:
                if latest == update:
                    self.metrics.duplicate.labels(self.agents_topic).inc()
                continue
            touched[update.agent_id] = kept_update(latest, update)
            for presence in presences:
                outbox.add(self.queue_presence, presence.queue, presence.to_wire())
        await outbox.send()
        for agent_id, update in touched.items():
            self.writes.put(self.agents, agent_id, update)
