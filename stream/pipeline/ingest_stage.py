"""The ingest stage: raw input messages validated and routed by the key of the stage that measures
them; what cannot be used goes to the dead-letter topic with the reason (SPEC §3)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust

from stream.ingest.deadletter import InputMessage, capped
from stream.ingest.decoding import Ignored, Rejected, decode
from stream.kpi.contacts import Lifecycle
from stream.kpi.presence import AgentUpdate
from stream.pipeline.outbox import MESSAGE_BYTES, Outbox

if TYPE_CHECKING:
    from stream.pipeline.app import Pipeline

#: The most of an input message carried to the contact stage in case it is late: in base64 it must
#: fit, with its event, in one internal message (stream.pipeline.outbox.MESSAGE_BYTES).
CARRIED_BYTES = 3 * MESSAGE_BYTES // 4 - 4096


async def ingest_batch(p: Pipeline, events: Sequence[faust.EventT]) -> None:
    """Validate, then route each event by the key of the stage that measures it.

    Delivery delay is no reason to refuse an event (SPEC §3). A survey answer dated before every
    kept window can change nothing and is late at once; a contact or ticket event dated so still
    counts for a contact or ticket that is held, which only the contact stage knows, so it goes
    there with its message, to be dead-lettered there if its contact is not held.
    """
    kept_from = p.window_set.kept_from(p.clock())
    wall_now = time.time()
    topics = p.topics
    source_of = topics.source_of
    outbox = Outbox(p.settings.partitions)
    # Counted per batch: a labelled counter's ``labels()`` costs more than the event's own routing.
    processed: Counter[str] = Counter()
    late: list[InputMessage] = []
    for event in events:
        message = event.message
        outcome = decode(message.value, source_of[message.topic], wall_now)
        if isinstance(outcome, Rejected):
            p.metrics.invalid.labels(message.topic, outcome.reason).inc()
            p.flood_log.warning(outcome.reason, "dead-letter %s[%d]@%d: %s (%s)", message.topic,
                                message.partition, message.offset, outcome.reason, capped(outcome.detail))  # fmt: skip
            await dead_letter(p, input_message(message), outcome.reason, outcome.detail)
            continue
        processed[message.topic] += 1
        if isinstance(outcome, Ignored):
            continue
        if p.event_clock is not None:
            p.event_clock.observe(outcome.ts)
        if isinstance(outcome, Lifecycle):
            row: Any = outcome.to_wire()
            if outcome.ts < kept_from:
                carried = input_message(message).fitted(CARRIED_BYTES)
                row = {"event": row, "unless_held": carried.to_wire()}
            outbox.add(topics.contact_events, outcome.contact_id, row)
        elif isinstance(outcome, AgentUpdate):
            # An agent's latest state counts whenever it is dated, so no agent state is late.
            # Its place in the input orders it against another state of the agent at the same instant.
            placed = replace(outcome, place=(message.partition, message.offset))
            outbox.add(topics.agent_events, outcome.agent_id, placed.to_wire())
        elif outcome.ts < kept_from:  # a survey answer
            late.append(input_message(message))
        else:
            outbox.add_facts(topics.queue_facts, [outcome])
    for topic, count in processed.items():
        p.metrics.processed.labels(topic).inc(count)
    await outbox.send()
    await dead_letter_late(p, late, kept_from, "")


def input_message(message: faust.types.Message) -> InputMessage:
    return InputMessage(message.topic, message.partition, message.offset, message.key, message.value)


async def dead_letter(p: Pipeline, message: InputMessage, reason: str, detail: str) -> None:
    """Send ``message`` unchanged to the dead-letter topic, with where it was read and why it was
    not used; cut to fit, and saying so, if it is too large to go whole."""
    fitted = message.fitted(p.app.conf.producer_max_request_size)
    await p.topics.deadletter.send(key=fitted.key, value=fitted.value, headers=fitted.headers(reason, detail))


async def dead_letter_late(p: Pipeline, messages: Sequence[InputMessage], kept_from: float, unheld: str) -> None:
    """Count and dead-letter events that can change nothing any more (SPEC §3), with one log line
    per batch at most once a minute: a backlog after a long outage may hold many."""
    if not messages:
        return
    kept = datetime.fromtimestamp(kept_from, UTC).isoformat()
    detail = f"dated before every kept window (the earliest starts at {kept}){unheld}"
    for message in messages:
        p.metrics.late.labels(message.topic).inc()
        await dead_letter(p, message, "late", detail)
    p.flood_log.warning("late", "dead-letter: %d late events (%s), e.g. %s[%d]@%d", len(messages), detail,
                        messages[0].topic, messages[0].partition, messages[0].offset)  # fmt: skip
