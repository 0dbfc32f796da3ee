"""The stream stages, the expiry timer and the alert timer.

1. ``ingest`` (:mod:`stream.pipeline.ingest_stage`): raw messages of every input topic, in batches ->
   validated events, one message per destination partition per batch (more if it would be too large,
   ``stream.pipeline.outbox``); bad input goes to the dead-letter topic.
2. ``contacts``: call, chat and ticket events -> per-contact and per-ticket state (tables)
   -> facts for the queues, and visits for the customers.
3. ``customers``: visits -> per-customer history (table) -> FCR and repeat-contact facts.
4. ``agent-states``: agent events -> each agent's latest state (table) -> presence per queue.
5. ``queues``: facts -> per-queue window aggregates (table) and histograms.
6. ``presence``: presence -> agents per queue (table).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import faust

from schemas.events import TICKET
from stream.config.connection import bootstrap_of
from stream.faust_ext.batching import batches
from stream.ingest.deadletter import InputMessage
from stream.ingest.partitioning import queue_key
from stream.kpi.aggregates import QueueState, apply_facts, prune
from stream.kpi.alerting import evaluate
from stream.kpi.contacts import Lifecycle, apply_event
from stream.kpi.contacts import visit_of as contact_visit
from stream.kpi.customers import CustomerState, Visit, apply_visit
from stream.kpi.facts import Fact
from stream.kpi.presence import AgentUpdate, Presence, QueuePresence, apply_agent_update, apply_presence
from stream.kpi.tickets import apply_ticket_event
from stream.kpi.tickets import has_room as ticket_has_room
from stream.kpi.tickets import visit_of as ticket_visit
from stream.pipeline.brokerwatch import reachable
from stream.pipeline.expiry import TICK_SECONDS as EXPIRY_TICK_SECONDS
from stream.pipeline.expiry import Expiry
from stream.pipeline.ingest_stage import dead_letter_late, ingest_batch
from stream.pipeline.outbox import Delivery, Origin, Outbox, unpack

if TYPE_CHECKING:
    from stream.pipeline.app import Pipeline

#: How long a stage's table write is held (stream.pipeline.held_writes) before the timer writes it; a commit
#: writes every held one first.
HOLD_SECONDS = 0.5
#: How often the timer writes what has been held that long: a little at a time, so the event loop
#: is never held long.
WRITE_INTERVAL_SECONDS = 0.05
#: How often thresholds are checked for breach and recovery (SPEC §4: live gauges refresh every second).
ALERT_INTERVAL_SECONDS = 1.0
#: How often the broker's reachability is checked.
BROKER_CHECK_SECONDS = 2.0
#: Exit status of a worker that gave up on an unreachable broker.
EXIT_BROKER_UNREACHABLE = 3
#: Exit status of a worker whose stage failed on a batch.
EXIT_STAGE_FAILED = 4


def origin_of(event: faust.EventT) -> Origin:
    message = event.message
    return f"{message.topic}/{message.partition}", message.offset


def register_agents(p: Pipeline) -> None:
    app = p.app
    topics = p.topics

    @app.agent(topics.inputs, name="ingest")
    async def ingest(stream: faust.StreamT[bytes]) -> None:
        # One agent over all input topics: a batch mixes sources, so at low rates a batch's
        # messages to the next stages are not multiplied by the number of input topics.
        async for events in batches(stream, p.settings.batch_size, p.settings.batch_seconds):
            await run_batch(p, "ingest", ingest_batch, events)

    def stage(topic: faust.TopicT, name: str,
              handle: Callable[[Pipeline, Sequence[Delivery]], Awaitable[None]]) -> None:  # fmt: skip
        async def handle_events(p: Pipeline, events: Sequence[faust.EventT]) -> None:
            await handle(p, [(unpack(event.value), origin_of(event)) for event in events])

        async def run(stream: faust.StreamT[bytes]) -> None:
            # A batch is looked up and written per key, not per message
            # (stream.faust_ext.batching, stream.pipeline.held_writes).
            async for events in batches(stream, p.settings.batch_size, p.settings.batch_seconds):
                await run_batch(p, name, handle_events, events)

        app.agent(topic, name=name)(run)

    stage(topics.contact_events, "contacts", contacts_batch)
    stage(topics.customer_visits, "customers", customers_batch)
    stage(topics.agent_events, "agent-states", agent_states_batch)
    stage(topics.queue_facts, "queues", queues_batch)
    stage(topics.queue_presence, "presence", presence_batch)

    expiry = Expiry(p)

    @app.timer(interval=EXPIRY_TICK_SECONDS)
    async def expire() -> None:
        expiry.tick()

    @app.timer(interval=WRITE_INTERVAL_SECONDS)
    async def write_held() -> None:
        # While the Kafka client has not taken the last write-out, the states stay held (each
        # key's latest only) rather than queue up; a commit writes them all regardless.
        if not p.app.producer.handing_over():
            p.writes.flush(held_for=HOLD_SECONDS)

    @app.timer(interval=ALERT_INTERVAL_SECONDS)
    async def alert() -> None:
        await publish_alerts(p)

    @app.timer(interval=BROKER_CHECK_SECONDS)
    async def watch_broker() -> None:
        await check_broker(p)

    @app.on_rebalance_complete.connect
    async def drop_revoked_series(sender: faust.App, **kwargs: Any) -> None:
        owns = p.owner_of_queues()
        p.metrics.keep_histograms_of(lambda queue, channel: owns(queue_key(queue, channel)))


#: Per table of the contact stage: apply an event, and the visit a state implies.
_LIFECYCLES: dict[str, tuple[Callable[[Any, Lifecycle, float], Any], Callable[[Any, str], Visit | None]]] = {
    "contacts": (apply_event, contact_visit),
    "tickets": (apply_ticket_event, ticket_visit),
}


async def contacts_batch(p: Pipeline, deliveries: Sequence[Delivery]) -> None:
    """Calls and chats update the contacts table, tickets the tickets table; both yield facts
    for the queues and, for a known customer, a visit for the customer stage. An event dated
    before every kept window counts only for a contact or ticket held; otherwise it is late."""
    now = p.clock()
    tables = {"contacts": p.tables.contacts, "tickets": p.tables.tickets}
    touched: dict[str, dict[str, Any]] = {name: {} for name in tables}
    outbox = Outbox(p.settings.partitions)
    late: list[InputMessage] = []
    for rows, origin in deliveries:
        for row in rows:
            unless_held = None
            if isinstance(row, dict):
                row, unless_held = row["event"], InputMessage.from_wire(row["unless_held"])
            event = Lifecycle.from_wire(row)
            name = "tickets" if event.channel == TICKET else "contacts"
            apply, visit_of = _LIFECYCLES[name]
            state = touched[name].get(event.contact_id) or p.writes.get(tables[name], event.contact_id)
            if state is None and unless_held is not None:
                late.append(unless_held)
                continue
            if name == "tickets" and not ticket_has_room(state, event):
                p.metrics.over_state_limit.labels("tickets").inc()
                continue
            result = apply(state, event, now)
            if result is None:
                p.metrics.duplicate.labels(p.topics.topic_of[event.channel]).inc()  # type: ignore[index]
                continue
            new, facts = result
            touched[name][event.contact_id] = new
            outbox.add_facts(p.topics.queue_facts, facts, origin)
            visit = visit_of(new, event.contact_id)
            if visit is not None and (state is None or visit != visit_of(state, event.contact_id)):
                outbox.add(p.topics.customer_visits, visit.customer_id, visit.to_wire())
    await outbox.send()
    await dead_letter_late(p, late, p.window_set.kept_from(now), ", and its contact or ticket is not held")
    # States are put after the output they imply is sent (stream.pipeline.held_writes).
    for name, states in touched.items():
        for key, state in states.items():
            p.writes.put(tables[name], key, state)


async def customers_batch(p: Pipeline, deliveries: Sequence[Delivery]) -> None:
    table = p.tables.customers
    touched: dict[str, CustomerState] = {}
    outbox = Outbox(p.settings.partitions)
    for rows, origin in deliveries:
        for row in rows:
            visit = Visit.from_wire(row)
            state = touched.get(visit.customer_id) or p.writes.get(table, visit.customer_id) or CustomerState()
            outbox.add_facts(p.topics.queue_facts, apply_visit(state, visit, p.settings.fcr_lookback_seconds), origin)
            touched[visit.customer_id] = state
    await outbox.send()
    for customer_id, state in touched.items():
        p.writes.put(table, customer_id, state)


async def agent_states_batch(p: Pipeline, deliveries: Sequence[Delivery]) -> None:
    table = p.tables.agents
    touched: dict[str, AgentUpdate] = {}
    outbox = Outbox(p.settings.partitions)
    for row in (row for rows, _ in deliveries for row in rows):
        update = AgentUpdate.from_wire(row)
        latest = touched.get(update.agent_id) or p.writes.get(table, update.agent_id)
        presences = apply_agent_update(latest, update)
        if presences is None:
            if latest == update:
                p.metrics.duplicate.labels(p.settings.topic_agents).inc()
            continue
        touched[update.agent_id] = update
        for presence in presences:
            outbox.add(p.topics.queue_presence, presence.queue, presence.to_wire())
    await outbox.send()
    for agent_id, update in touched.items():
        p.writes.put(table, agent_id, update)


async def queues_batch(p: Pipeline, deliveries: Sequence[Delivery]) -> None:
    """Apply messages of facts. A section of facts whose origin was already counted for a key (the
    same input of an earlier stage, processed again after a crash or rebalance) is skipped."""
    table = p.tables.queues
    settings = p.settings
    now = p.clock()
    touched: dict[str, QueueState] = {}
    new_keys = 0
    measured: list[Fact] = []
    for sections, _ in deliveries:
        for section in sections:
            source = section["origin"]
            by_key: dict[str, list[Fact]] = defaultdict(list)
            for row in section["facts"]:
                fact = Fact.from_wire(row)
                by_key[queue_key(fact.queue, fact.channel)].append(fact)
            for key, facts in by_key.items():
                queue = facts[0].queue
                state = touched.get(key) or p.writes.get(table, key)
                if state is None:
                    if not p.may_add_queue(table, queue, new_keys):
                        p.metrics.over_queue_limit.labels("queues").inc(len(facts))
                        continue
                    state, new_keys = QueueState(), new_keys + 1
                if source is not None and not state.accept_origin(source[0], source[1]):
                    p.metrics.redelivered.labels(p.topics.queue_facts.get_topic_name()).inc(len(facts))
                    continue
                touched[key] = state
                wait_rules = settings.queue_config.for_queue(queue).wait_rules
                applied = apply_facts(state, facts, wait_rules, p.window_set, now)
                if applied.duplicates:
                    p.metrics.duplicate.labels(settings.topic_surveys).inc(applied.duplicates)
                if applied.over_limit:
                    p.metrics.over_state_limit.labels("queues").inc(applied.over_limit)
                measured += facts
    for key, state in touched.items():
        prune(state, p.window_set, now, settings.contact_ttl_seconds, settings.dedupe_seconds)
        p.writes.put(table, key, state)
    for fact in measured:
        if fact.retraction:
            continue
        if fact.kind in ("answered", "abandoned"):
            p.metrics.observe_wait(fact.queue, fact.channel, fact.value)
        elif fact.kind == "handled":
            p.metrics.observe_handle(fact.queue, fact.channel, fact.value)


async def presence_batch(p: Pipeline, deliveries: Sequence[Delivery]) -> None:
    now = p.clock()
    table = p.tables.presence
    touched: dict[str, QueuePresence] = {}
    new_keys = 0  # written at the end of the batch, so counted against the limit as they come
    for row in (row for rows, _ in deliveries for row in rows):
        presence = Presence.from_wire(row)
        state = touched.get(presence.queue) or p.writes.get(table, presence.queue)
        is_new = state is None
        if is_new:
            if not p.may_add_queue(table, presence.queue, new_keys):
                p.metrics.over_queue_limit.labels("presence").inc()
                continue
            state = QueuePresence()
        if not state.has_room_for(presence.agent_id):
            p.metrics.over_state_limit.labels("presence").inc()
            continue
        if apply_presence(state, presence, now):
            touched[presence.queue] = state
            new_keys += is_new
    for queue, state in touched.items():
        p.writes.put(table, queue, state)


async def publish_alerts(p: Pipeline) -> None:
    """Evaluate every owned queue's thresholds; remember and publish breaches and recoveries."""
    if p.health_problem() is not None:
        return  # half-recovered tables would read as recoveries
    now = p.clock()
    queues = p.tables.queues
    published = []
    # Table state is updated before the first await, while this worker surely owns the keys.
    for report in p.reports(now, windows=(p.settings.alert_policy.window,)):
        key = queue_key(report.queue, report.channel)
        state = p.writes.get(queues, key)
        active, events = evaluate(report, state.alerts, p.settings.alert_policy, now)
        if events:
            state.alerts = active
            p.writes.put(queues, key, state)
            published += events
    for event in published:
        p.log.warning("alert %s: %s/%s %s=%s (threshold %s)", event.state, event.queue, event.channel,
                      event.metric, event.value, event.threshold)  # fmt: skip
        await p.topics.alerts.send(key=event.queue.encode(), value=event.to_json())


async def check_broker(p: Pipeline) -> None:
    """Track the broker's reachability; exit non-zero once it has been gone too long.

    Nothing can be committed without a broker, so exiting loses nothing that a restart (which
    recovers the tables from their changelogs) does not bring back.
    """
    watch = p.broker_watch
    was_down = watch.down_since is not None
    watch.record(await reachable(bootstrap_of(p.settings.broker or "")), time.monotonic())
    down_for = watch.down_for(time.monotonic())
    if watch.down_since is not None and not was_down:
        p.log.error("broker %s unreachable; /healthz reports it", p.settings.broker)
    elif watch.down_since is None and was_down:
        p.log.warning("broker %s reachable again", p.settings.broker)
    if down_for > p.settings.broker_outage_exit_seconds:
        message = (f"broker {p.settings.broker} unreachable for {down_for:.0f} s (KPI_BROKER_OUTAGE_EXIT_SECONDS="
                   f"{p.settings.broker_outage_exit_seconds:g}); exiting with status {EXIT_BROKER_UNREACHABLE} so a "
                   "supervisor restarts the worker")  # fmt: skip
        exit_worker(p, EXIT_BROKER_UNREACHABLE, message)


async def run_batch(p: Pipeline, stage: str, handle: Callable[[Pipeline, Sequence[faust.EventT]], Awaitable[None]],
                    batch: Sequence[faust.EventT]) -> None:  # fmt: skip
    """Run a stage on a batch; if it fails, exit before the batch's offsets are committed.

    Faust would restart the agent and acknowledge the batch, losing it. Exiting instead is the
    crash every table is built to survive: a restart processes the batch again, exactly once.
    """
    started = time.time()
    for event in batch:  # how long each message waited for its stage, since it was produced
        p.metrics.stage_delay.observe((stage,), started - event.message.timestamp)
    try:
        await handle(p, batch)
    except Exception as exc:
        p.log.exception("stage %s failed on a batch of %d messages", stage, len(batch))
        exit_worker(p, EXIT_STAGE_FAILED, f"stage {stage} failed on a batch of {len(batch)} messages ({exc!r}); "
                    f"exiting with status {EXIT_STAGE_FAILED} before they are committed, so a restart processes them "
                    "again")  # fmt: skip


def exit_worker(p: Pipeline, status: int, message: str) -> NoReturn:
    """Log ``message`` and end the process at once: nothing more is committed or written."""
    p.log.critical(message)
    print(f"python -m stream worker: error: {message}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(status)
