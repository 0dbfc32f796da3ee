"""The three stream stages, the expiry timer and the alert timer.

1. ``ingest``: raw call/chat messages, in batches -> validated lifecycle events, one
   message per contact partition per batch; bad input goes to the dead-letter topic.
2. ``contacts``: lifecycle events -> per-contact state (table) -> facts, one message per
   queue partition per batch.
3. ``queues``: facts -> per-queue window aggregates (table) and histograms.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Sequence

import faust

from stream.aggregates import QueueState, apply_facts, prune
from stream.alerting import evaluate
from stream.contacts import ContactState, Fact, Lifecycle, apply_event, is_expired
from stream.decoding import Late, Rejected, decode_contact
from stream.partitioning import partition_for, queue_key

if TYPE_CHECKING:
    from stream.app import Pipeline

#: How often expired contacts, buckets and stale waits are dropped.
EXPIRY_INTERVAL_SECONDS = 5.0
#: How often thresholds are checked for breach and recovery (SPEC §4: live gauges refresh every second).
ALERT_INTERVAL_SECONDS = 1.0


def register_agents(p: Pipeline) -> None:
    app = p.app

    for channel, topic in p.topics.contact_inputs.items():
        app.agent(topic, name=f"ingest-{channel}")(_ingest(p, channel))

    @app.agent(p.topics.contact_events, name="contacts")
    async def contacts(stream: faust.StreamT[list[Any]]) -> None:
        async for rows in stream:
            await contacts_batch(p, rows)

    @app.agent(p.topics.queue_facts, name="queues")
    async def queues(stream: faust.StreamT[list[Any]]) -> None:
        async for rows in stream:
            queues_batch(p, rows)

    @app.timer(interval=EXPIRY_INTERVAL_SECONDS)
    async def expire() -> None:
        expire_state(p)

    @app.timer(interval=ALERT_INTERVAL_SECONDS)
    async def alert() -> None:
        await publish_alerts(p)

    @app.on_rebalance_complete.connect
    async def drop_revoked_series(sender: faust.App, **kwargs: Any) -> None:
        owns = p.owner_of_queues()
        p.metrics.keep_histograms_of(lambda queue, channel: owns(queue_key(queue, channel)))


def _ingest(p: Pipeline, channel: str) -> Callable[[faust.StreamT[bytes]], Coroutine[Any, Any, None]]:
    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(p.settings.batch_size, within=p.settings.batch_seconds):
            await ingest_batch(p, channel, events)

    return ingest


async def ingest_batch(p: Pipeline, channel: str, events: Sequence[faust.EventT]) -> None:
    now = p.clock()
    routed: dict[int, list[list[Any]]] = defaultdict(list)
    for event in events:
        message = event.message
        outcome = decode_contact(message.value, channel, now, p.settings.lateness_seconds)
        if isinstance(outcome, Lifecycle):
            p.metrics.processed.labels(message.topic).inc()
            routed[partition_for(outcome.contact_id, p.settings.partitions)].append(outcome.to_wire())
        elif isinstance(outcome, Late):
            p.metrics.processed.labels(message.topic).inc()
            p.metrics.late.labels(message.topic).inc()
        else:
            await dead_letter(p, message, outcome)
    for partition, rows in routed.items():
        await p.topics.contact_events.send(value=rows, partition=partition)


async def dead_letter(p: Pipeline, message: faust.types.Message, rejected: Rejected) -> None:
    p.metrics.invalid.labels(message.topic, rejected.reason).inc()
    p.log.warning(
        "dead-letter %s[%d]@%d: %s (%s)", message.topic, message.partition, message.offset, rejected.reason,
        rejected.detail,
    )  # fmt: skip
    headers = {
        "source_topic": message.topic.encode(),
        "source_partition": str(message.partition).encode(),
        "source_offset": str(message.offset).encode(),
        "reason": rejected.reason.encode(),
        "detail": rejected.detail.encode(),
    }
    await p.topics.deadletter.send(key=message.key, value=message.value, headers=list(headers.items()))


async def contacts_batch(p: Pipeline, rows: list[Any]) -> None:
    table = p.tables.contacts
    touched: dict[str, ContactState] = {}
    routed: dict[int, list[list[Any]]] = defaultdict(list)
    for row in rows:
        event = Lifecycle.from_wire(row)
        state = touched.get(event.contact_id) or table.get(event.contact_id)
        result = apply_event(state, event)
        if result is None:
            p.metrics.duplicate.labels(p.topics.topic_of[event.channel]).inc()
            continue
        touched[event.contact_id], facts = result
        for fact in facts:
            routed[partition_for(queue_key(fact.queue, fact.channel), p.settings.partitions)].append(fact.to_wire())
    for partition, facts_wire in routed.items():
        await p.topics.queue_facts.send(value=facts_wire, partition=partition)
    # One table (and changelog) write per contact per batch.
    for contact_id, state in touched.items():
        table[contact_id] = state


def queues_batch(p: Pipeline, rows: list[Any]) -> None:
    by_key: dict[str, list[Fact]] = defaultdict(list)
    for row in rows:
        fact = Fact.from_wire(row)
        by_key[queue_key(fact.queue, fact.channel)].append(fact)
    now = p.clock()
    table = p.tables.queues
    for key, facts in by_key.items():
        queue, channel = facts[0].queue, facts[0].channel
        state = table.get(key) or QueueState()
        apply_facts(state, facts, p.settings.queue_config.for_queue(queue).wait_rules, p.window_set, now)
        prune(state, p.window_set, now, p.settings.contact_ttl_seconds)
        table[key] = state
        for fact in facts:
            if fact.kind in ("answered", "abandoned"):
                p.metrics.observe_wait(queue, channel, fact.seconds)
            elif fact.kind == "handled":
                p.metrics.observe_handle(queue, channel, fact.seconds)


async def publish_alerts(p: Pipeline) -> None:
    """Evaluate every owned queue's thresholds; publish and remember breaches and recoveries."""
    if p.health_problem() is not None:
        return  # half-recovered tables would read as recoveries
    now = p.clock()
    queues = p.tables.queues
    for report in p.reports(now):
        key = queue_key(report.queue, report.channel)
        state = queues[key]
        active, events = evaluate(report, state.alerts, p.settings.alert_policy, now)
        if not events:
            continue
        for event in events:
            p.log.warning("alert %s: %s/%s %s=%s (threshold %s)", event.state, event.queue, event.channel,
                          event.metric, event.value, event.threshold)  # fmt: skip
            await p.topics.alerts.send(key=event.queue.encode(), value=event.to_json())
        state.alerts = active
        queues[key] = state


def expire_state(p: Pipeline) -> None:
    """Drop finished contacts, window buckets that left every window, and stale waits."""
    if p.health_problem() is not None:
        return  # tables may be half recovered during a rebalance; expire next time
    now = p.clock()
    settings = p.settings
    contacts, owns_contact = p.tables.contacts, p.owner_of_contacts()
    for contact_id, state in list(contacts.items()):
        if owns_contact(contact_id) and is_expired(state, now, settings.lateness_seconds, settings.contact_ttl_seconds):
            del contacts[contact_id]
    queues, owns_queue = p.tables.queues, p.owner_of_queues()
    for key, state in list(queues.items()):
        if not owns_queue(key) or not prune(state, p.window_set, now, settings.contact_ttl_seconds):
            continue
        if state.is_empty:
            del queues[key]
        else:
            queues[key] = state
