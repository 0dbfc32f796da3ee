"""Builds the Faust app and everything attached to it: the only place that does."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from math import inf
from typing import Any

import faust
from faust.types import TransportT
from faust.types.auth import CredentialsT

from stream.config.connection import KafkaConnection, connection_of
from stream.config.settings import Settings
from stream.faust_ext.stores import KpiTable, store_url
from stream.faust_ext.transport import transport_class
from stream.ingest.partitioning import partition_for, split_queue_key
from stream.kpi.aggregates import WindowSet
from stream.kpi.clock import EventClock
from stream.kpi.report import PresenceReport, QueueReport, build_presence_reports, build_reports
from stream.pipeline.brokerwatch import BrokerWatch
from stream.pipeline.held_writes import DeferredWrites
from stream.pipeline.ratelimit import RateLimitedLog
from stream.pipeline.stages import register_agents
from stream.pipeline.tables import Tables, declare_tables
from stream.pipeline.topics import Topics, declare_topics
from stream.serving.metrics import Metrics
from stream.serving.web import register_views

Clock = Callable[[], float]

#: The largest record batch the producer builds: a quarter of Kafka's default message size limit.
CHANGELOG_BATCH_BYTES = 256 * 1024


@dataclass
class Pipeline:
    """The Faust app with its topics, tables and metrics, and the questions asked of them."""

    app: faust.App
    settings: Settings
    topics: Topics
    tables: Tables
    metrics: Metrics
    clock: Clock
    window_set: WindowSet
    #: Set when now is event time (KPI_CLOCK=event); ingest advances it.
    event_clock: EventClock | None = None
    broker_watch: BrokerWatch = field(default_factory=BrokerWatch)
    #: The stages' table writes, written at the latest before offsets are committed.
    writes: DeferredWrites = field(default_factory=DeferredWrites)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("stream"))
    #: What a flood of bad input would repeat (dead letters, dropped queues): per kind at most once a minute.
    flood_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(logging.getLogger("stream")))
    #: Per table: when its actively owned keys were last counted, and how many there were.
    _owned_keys: dict[str, tuple[float, int]] = field(default_factory=dict)

    def may_add_queue(self, table: faust.TableT, queue: str, pending: int = 0) -> bool:
        """Whether a new key for ``queue`` may be added to ``table``, which gets ``pending`` new keys
        besides those held in :attr:`writes`: always for a queue named in KPI_CONFIG, otherwise
        while this worker actively owns fewer than KPI_MAX_QUEUES of its keys (standby copies of
        other workers' keys do not count). A flood of made-up queue names thus cannot grow state
        or label sets without bound; idle ones are forgotten (stream.pipeline.expiry)."""
        limit = self.settings.max_queues
        new = self.writes.new_keys(table) + pending
        if queue in self.settings.queue_config.queues or len(table) + new < limit:
            return True
        if self._owned_key_count(table) + new < limit:
            return True
        self.flood_log.warning("queue-limit", "queue %r dropped: this worker already keeps %d queues "
                               "(KPI_MAX_QUEUES); see contact_centre_queue_limit_dropped_total",
                               queue, limit)  # fmt: skip
        return False

    def _owned_key_count(self, table: faust.TableT) -> int:
        """Keys of ``table`` this worker actively owns, counted at most once a second: a flood of
        new queue names asks for every one of them."""
        counted_at, count = self._owned_keys.get(table.name, (-inf, 0))
        if time.monotonic() - counted_at > 1.0:
            owns = self.owner(self.topics.queue_facts if table is self.tables.queues else self.topics.queue_presence)
            count = sum(1 for key in table.keys() if owns(key))
            self._owned_keys[table.name] = (time.monotonic(), count)
        return count

    def owner_of_queues(self) -> Callable[[str], bool]:
        return self.owner(self.topics.queue_facts)

    def owner(self, topic: faust.TopicT) -> Callable[[str], bool]:
        """A test of whether this worker actively owns a key, for the current assignment.

        Tables also hold standby copies of other workers' partitions; only the active
        owner exports or expires a key, so workers never double count.
        """
        name = topic.get_topic_name()
        owned = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == name}
        partitions = self.settings.partitions
        if len(owned) == partitions:
            return lambda key: True  # the only worker: no hash per key (a sweep tests every key)
        return lambda key: partition_for(key, partitions) in owned

    def reports(self, now: float | None = None, queue: str | None = None,
                windows: Collection[str] | None = None) -> list[QueueReport]:  # fmt: skip
        """Reports of the owned queues (or of ``queue``'s channels only), over every window (or ``windows``)."""
        owns = self.owner_of_queues()
        owned = self.writes.items(self.tables.queues,
                                  lambda key: owns(key) and (queue is None or split_queue_key(key)[0] == queue))
        now = self.clock() if now is None else now
        return build_reports(owned, self.settings.queue_config, self.window_set, now, windows)

    def presence_reports(self, queue: str | None = None) -> list[PresenceReport]:
        owns = self.owner(self.topics.queue_presence)
        owned = self.writes.items(self.tables.presence, lambda name: owns(name) and (queue is None or name == queue))
        return build_presence_reports(owned)

    def health_problem(self) -> str | None:
        """``None`` when the worker is consuming, else why not."""
        down_for = self.broker_watch.down_for(time.monotonic())
        if down_for > 0:
            return f"broker unreachable for {down_for:.0f} s"
        if not self.app.consumer.started or self.app.should_stop:
            return "consumer not running"
        if self.app.rebalancing:
            return "rebalancing"
        if not self.app.tables.recovery.completed.is_set():
            return "recovering tables"
        return None


class KpiApp(faust.App):
    """A Faust app whose consumer is :mod:`stream.faust_ext.consumer`'s."""

    def __init__(self, *args: Any, fetch_wait_ms: int, **kwargs: Any) -> None:
        self._transport_class = transport_class(fetch_wait_ms)
        #: Called, synchronously, right before the consumer chooses the offsets to commit.
        self.before_commit: list[Callable[[], object]] = []
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        return self._transport_class(self.conf.broker_consumer, self)


def faust_credentials(connection: KafkaConnection) -> CredentialsT | None:
    if connection.sasl_mechanism is not None:
        return faust.SASLCredentials(username=connection.username, password=connection.password,
                                     ssl_context=connection.ssl_context,
                                     mechanism=connection.sasl_mechanism)  # fmt: skip
    if connection.ssl_context is not None:
        return faust.SSLCredentials(connection.ssl_context)
    return None


def create_pipeline(settings: Settings, clock: Clock | None = None) -> Pipeline:
    """The worker's pipeline; ``clock`` overrides what KPI_CLOCK chooses (for tests)."""
    event_clock = EventClock() if settings.clock == "event" and clock is None else None
    connection = connection_of(settings)
    app = KpiApp(
        settings.app_id,
        # KPI_* variables are the only configuration: Faust's own (BROKER_URL, WEB_PORT, ...) would
        # silently override what is passed here.
        env={},
        broker=connection.url,
        broker_credentials=faust_credentials(connection),
        store=store_url(settings.store),
        Table=KpiTable,
        # Faust compares a RocksDB table's persisted changelog offset with the broker's high
        # watermark; the embedded broker reports the last record batch's base offset + 1 as the
        # end, so a complete table reads as "ahead of its changelog" and the worker would not start.
        recovery_consistency_check=False,
        datadir=str(settings.data_dir),
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_enabled=True,
        # Faust's own views answer, to anyone, whether a customer, contact or agent id is in a table
        # (/table), where each key lives and which workers exist (/router), and how the worker is
        # built (/graph, /stats, /performance). Nothing here uses them (no @table_route): off.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_compression_type=None if settings.compression == "none" else settings.compression,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        broker_request_timeout=max(90.0, settings.session_timeout_seconds * 2),
        # Each commit first writes every held table state (stream.pipeline.held_writes), holding the event
        # loop 25-50 ms; Faust's 2.8 s made that the most frequent pause. Re-processing after a
        # crash is idempotent, so committing less often costs only a little more of it.
        broker_commit_interval=settings.commit_interval_seconds,
        # Table changes go out a record batch per changelog partition (stream.faust_ext.changelog); Faust's
        # 16 KiB would split a write-out of busy queues' states (several KB each) into a batch
        # per state or two, each a produce request of its own.
        producer_max_batch_size=CHANGELOG_BATCH_BYTES,
        fetch_wait_ms=settings.fetch_wait_ms,
    )
    pipeline = Pipeline(
        app=app,
        settings=settings,
        topics=declare_topics(app, settings),
        tables=declare_tables(app, settings),
        metrics=Metrics(settings.queue_config),
        clock=clock or event_clock or time.time,
        window_set=WindowSet(settings.window_list, settings.tz),
        event_clock=event_clock,
    )
    app.before_commit.append(pipeline.writes.flush)
    pipeline.metrics.add_health(pipeline.health_problem)
    register_agents(pipeline)
    register_views(pipeline)
    return pipeline
