"""Builds the worker: the Faust app, its topics and tables, and every stage, timer and view, each
given what it uses. The only place that assembles them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust

from stream.config.connection import bootstrap_of
from stream.config.settings import Settings
from stream.kpi.clock import EventClock
from stream.kpi.queue_keys import queue_key
from stream.kpi.windows import WindowSet
from stream.pipeline.alerts import AlertPublisher
from stream.pipeline.brokerwatch import BrokerGuard, BrokerWatch
from stream.pipeline.dead_letters import DeadLetters
from stream.pipeline.expiry import TICK_SECONDS as EXPIRY_TICK_SECONDS
from stream.pipeline.expiry import Expiry, Retention
from stream.pipeline.faust_app import create_app
from stream.pipeline.health import Health
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.loop_stalls import LoopStalls
from stream.pipeline.ownership import Ownership, Owns
from stream.pipeline.queue_limit import QueueLimit
from stream.pipeline.ratelimit import RateLimitedLog
from stream.pipeline.reporting import Reporting
from stream.pipeline.stages import register_ingest, register_stage
from stream.pipeline.stages.agent_states import AgentStateStage
from stream.pipeline.stages.contacts import ContactStage
from stream.pipeline.stages.customers import CustomerStage
from stream.pipeline.stages.ingest import IngestStage
from stream.pipeline.stages.presence import PresenceStage
from stream.pipeline.stages.queues import QueueStage
from stream.pipeline.tables import ROUTED_BY, Tables, declare_tables
from stream.pipeline.topics import Topics, declare_topics
from stream.serving.http_auth import BasicAuth
from stream.serving.metrics import Metrics
from stream.serving.web import ViewSettings, register_views

Clock = Callable[[], float]

#: How long a stage's table write is held (stream.pipeline.held_writes) before the timer writes it; a
#: commit writes every held one first.
HOLD_SECONDS = 0.5
#: How often the timer writes what has been held that long: a little at a time, so the event loop
#: is never held long.
WRITE_INTERVAL_SECONDS = 0.05
#: How often thresholds are checked for breach and recovery (SPEC §4: live gauges refresh every second).
ALERT_INTERVAL_SECONDS = 1.0
#: How often the broker's reachability is checked.
BROKER_CHECK_SECONDS = 2.0


@dataclass(repr=False)
class Pipeline:
    """The assembled worker: what tests and tools look at from outside."""

    app: faust.App
    settings: Settings
    topics: Topics
    tables: Tables
    metrics: Metrics
    clock: Clock
    window_set: WindowSet
    #: The stages' table writes, written at the latest before offsets are committed.
    writes: HeldWrites
    ownership: Ownership
    reporting: Reporting
    health: Health
    retention: Retention

    def owner_of(self, table: faust.TableT) -> Owns:
        """Whether this worker actively owns a key of ``table``, for the current assignment."""
        return self.ownership.of(getattr(self.topics, ROUTED_BY[table.name]))


def retention_of(settings: Settings, window_set: WindowSet) -> Retention:
    return Retention(
        dedupe_seconds=settings.dedupe_seconds,
        contact_ttl_seconds=settings.contact_ttl_seconds,
        ticket_ttl_seconds=settings.ticket_ttl_seconds,
        orphan_ticket_ttl_seconds=settings.orphan_ticket_ttl_seconds,
        fcr_lookback_seconds=settings.fcr_lookback_seconds,
        agent_ttl_seconds=settings.agent_ttl_seconds,
        idle_queue_seconds=settings.idle_queue_seconds,
        configured_queues=frozenset(settings.queue_config.queues),
        window_set=window_set,
    )


def create_pipeline(settings: Settings, clock: Clock | None = None) -> Pipeline:
    """The worker's pipeline; ``clock`` overrides what KPI_CLOCK chooses (for tests)."""
    event_clock = EventClock() if settings.clock == "event" and clock is None else None
    app = create_app(settings)
    window_set = WindowSet(settings.window_list, settings.tz)
    topics = declare_topics(app, settings)
    tables = declare_tables(app, settings.partitions)
    metrics = Metrics(settings.queue_config)
    writes = HeldWrites()
    ownership = Ownership(app, settings.partitions)
    broker_watch = BrokerWatch()
    health = Health(app, broker_watch)
    now = clock or event_clock or time.time
    p = Pipeline(
        app=app,
        settings=settings,
        topics=topics,
        tables=tables,
        metrics=metrics,
        clock=now,
        window_set=window_set,
        writes=writes,
        ownership=ownership,
        reporting=Reporting(
            tables.queues,
            tables.presence,
            tables.agents,
            writes,
            lambda table: p.owner_of(table),
            settings.queue_config.targets_of,
            window_set,
            settings.staffing_windows,
            now,
        ),
        health=health,
        retention=retention_of(settings, window_set),
    )
    app.before_commit.append(writes.flush)
    metrics.add_health(health.problem)
    register_stages(p, event_clock)
    register_timers(
        p,
        BrokerGuard(
            broker_watch,
            settings.broker or "",
            bootstrap_of(settings.broker or ""),
            settings.broker_outage_exit_seconds,
        ),
    )
    views = ViewSettings(
        auth=BasicAuth.of(settings),
        snapshot_seconds=settings.snapshot_seconds,
        peer_timeout_seconds=settings.peer_timeout_seconds,
        timezone=settings.timezone,
        windows=tuple(window.name for window in settings.window_list),
        groups=settings.queue_config.groups,
    )
    register_views(app, p.reporting, metrics, health.problem, ownership.peers, views)
    return p


def register_stages(p: Pipeline, event_clock: EventClock | None) -> None:
    s, topics, tables, metrics = p.settings, p.topics, p.tables, p.metrics
    flood_log = RateLimitedLog(logging.getLogger("stream"))
    dead_letters = DeadLetters(topics.deadletter, metrics.late, flood_log, p.app.conf.producer_max_request_size)
    queue_limit = QueueLimit(s.max_queues, frozenset(s.queue_config.queues), p.writes, p.owner_of, flood_log)
    batching = {"batch_size": s.batch_size, "batch_seconds": s.batch_seconds, "metrics": metrics}
    ingest = IngestStage(
        source_of=topics.source_of,
        contact_events=topics.contact_events,
        agent_events=topics.agent_events,
        queue_facts=topics.queue_facts,
        partitions=s.partitions,
        window_set=p.window_set,
        clock=p.clock,
        event_clock=event_clock,
        metrics=metrics,
        dead_letters=dead_letters,
        log=flood_log,
    )
    register_ingest(p.app, topics.inputs, ingest, **batching)
    stages: dict[str, tuple[faust.TopicT, Any]] = {
        "contacts": (
            topics.contact_events,
            ContactStage(
                contacts=tables.contacts,
                tickets=tables.tickets,
                writes=p.writes,
                queue_facts=topics.queue_facts,
                customer_visits=topics.customer_visits,
                partitions=s.partitions,
                window_set=p.window_set,
                clock=p.clock,
                topic_of=dict(topics.topic_of),
                metrics=metrics,
                dead_letters=dead_letters,
            ),
        ),
        "customers": (
            topics.customer_visits,
            CustomerStage(
                customers=tables.customers,
                writes=p.writes,
                queue_facts=topics.queue_facts,
                partitions=s.partitions,
                fcr_lookback_seconds=s.fcr_lookback_seconds,
            ),
        ),
        "agent-states": (
            topics.agent_events,
            AgentStateStage(
                agents=tables.agents,
                writes=p.writes,
                queue_presence=topics.queue_presence,
                partitions=s.partitions,
                agents_topic=s.topic_agents,
                metrics=metrics,
            ),
        ),
        "queues": (
            topics.queue_facts,
            QueueStage(
                queues=tables.queues,
                writes=p.writes,
                queue_limit=queue_limit,
                wait_rules_of=lambda queue: s.queue_config.for_queue(queue).wait_rules,
                window_set=p.window_set,
                clock=p.clock,
                contact_ttl_seconds=s.contact_ttl_seconds,
                dedupe_seconds=s.dedupe_seconds,
                facts_topic=topics.queue_facts.get_topic_name(),
                surveys_topic=s.topic_surveys,
                metrics=metrics,
            ),
        ),
        "presence": (
            topics.queue_presence,
            PresenceStage(
                presence=tables.presence,
                writes=p.writes,
                queue_limit=queue_limit,
                clock=p.clock,
                metrics=metrics,
                queue_facts=topics.queue_facts,
                partitions=s.partitions,
            ),
        ),
    }
    for name, (topic, stage) in stages.items():
        register_stage(p.app, topic, name, stage, **batching)


def register_timers(p: Pipeline, broker_guard: BrokerGuard) -> None:
    app = p.app
    expiry = Expiry(p.tables, p.writes, p.retention, p.clock, p.owner_of, p.health.problem)
    alerts = AlertPublisher(
        p.reporting, p.tables.queues, p.writes, p.topics.alerts, p.settings.alert_policy, p.health.problem
    )

    stalls = LoopStalls(p.metrics.loop_stall.observe)
    p.metrics.add_longest_stall(stalls.longest)

    @app.task
    async def watch_loop() -> None:
        await stalls.watch()

    @app.timer(interval=EXPIRY_TICK_SECONDS)
    async def expire() -> None:
        expiry.tick()

    @app.timer(interval=WRITE_INTERVAL_SECONDS)
    async def write_held() -> None:
        # While the Kafka client has not taken the last write-out, the states stay held (each
        # key's latest only) rather than queue up; a commit writes them all regardless.
        if not app.producer.handing_over():
            p.writes.flush(held_for=HOLD_SECONDS)

    @app.timer(interval=ALERT_INTERVAL_SECONDS)
    async def alert() -> None:
        await alerts.publish()

    @app.timer(interval=BROKER_CHECK_SECONDS)
    async def watch_broker() -> None:
        await broker_guard.check()

    @app.on_rebalance_complete.connect
    async def drop_revoked_series(sender: faust.App, **kwargs: Any) -> None:
        owns = p.owner_of(p.tables.queues)
        p.metrics.keep_histograms_of(lambda queue, channel: owns(queue_key(queue, channel)))
