"""The ingest stage: raw input messages validated and routed by the key of the stage that measures
them; what cannot be used goes to the dead-letter topic with the reason (SPEC §3)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import faust

from stream.ingest.deadletter import InputMessage, capped
from stream.ingest.decoding import Ignored, Rejected, Source, decode
from stream.kpi.clock import EventClock
from stream.kpi.contacts import Lifecycle
from stream.kpi.presence import AgentUpdate
from stream.kpi.windows import WindowSet
from stream.pipeline.dead_letters import DeadLetters
from stream.pipeline.outbox import MESSAGE_BYTES, Outbox
from stream.pipeline.ratelimit import RateLimitedLog
from stream.serving.metrics import Metrics

#: The most of an input message carried to the contact stage in case it is late: in base64 it must
#: fit, with its event, in one internal message (stream.pipeline.outbox.MESSAGE_BYTES).
CARRIED_BYTES = 3 * MESSAGE_BYTES // 4 - 4096


@dataclass
class IngestStage:
    source_of: dict[str, Source]
    contact_events: faust.TopicT
    agent_events: faust.TopicT
    queue_facts: faust.TopicT
    partitions: int
    window_set: WindowSet
    clock: Callable[[], float]
    #: Set when now is event time (KPI_CLOCK=event): ingest advances it.
    event_clock: EventClock | None
    metrics: Metrics
    dead_letters: DeadLetters
    log: RateLimitedLog

    async def __call__(self, events: Sequence[faust.EventT]) -> None:
        """Validate, then route each event by the key of the stage that measures it.

        Delivery delay is no reason to refuse an event (SPEC §3). A survey answer dated before every
        kept window can change nothing and is late at once; a contact or ticket event dated so still
        counts for a contact or ticket that is held, which only the contact stage knows, so it goes
        there with its message, to be dead-lettered there if its contact is not held.
        """
        kept_from = self.window_set.kept_from(self.clock())
        wall_now = time.time()
        outbox = Outbox(self.partitions)
        # Counted per batch: a labelled counter's ``labels()`` costs more than the event's own routing.
        processed: Counter[str] = Counter()
        late: list[InputMessage] = []
        for event in events:
            message = event.message
            outcome = decode(message.value, self.source_of[message.topic], wall_now)
            if isinstance(outcome, Rejected):
                self.metrics.invalid.labels(message.topic, outcome.reason).inc()
                self.log.warning(
                    outcome.reason,
                    "dead-letter %s[%d]@%d: %s (%s)",
                    message.topic,
                    message.partition,
                    message.offset,
                    outcome.reason,
                    capped(outcome.detail),
                )
                await self.dead_letters.send(input_message(message), outcome.reason, outcome.detail)
                continue
            processed[message.topic] += 1
            if isinstance(outcome, Ignored):
                continue
            if self.event_clock is not None:
                self.event_clock.observe(outcome.ts)
            if isinstance(outcome, Lifecycle):
                row: Any = outcome.to_wire()
                if outcome.ts < kept_from:
                    carried = input_message(message).fitted(CARRIED_BYTES)
                    row = {"event": row, "unless_held": carried.to_wire()}
                outbox.add(self.contact_events, outcome.contact_id, row)
            elif isinstance(outcome, AgentUpdate):
                # An agent's latest state counts whenever it is dated, so no agent state is late. Its
                # place in the input orders it against another state of the agent at the same instant.
                placed = replace(outcome, place=(message.partition, message.offset))
                outbox.add(self.agent_events, outcome.agent_id, placed.to_wire())
            elif outcome.ts < kept_from:  # a survey answer
                late.append(input_message(message))
            else:
                outbox.add_facts(self.queue_facts, [outcome])
        for topic, count in processed.items():
            self.metrics.processed.labels(topic).inc(count)
        await outbox.send()
        await self.dead_letters.send_late(late, kept_from, "")


def input_message(message: faust.types.Message) -> InputMessage:
    return InputMessage(message.topic, message.partition, message.offset, message.key, message.value)
