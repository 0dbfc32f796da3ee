"""The Faust app, configured from the settings: the only place Faust's own options are chosen."""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from stream.config.connection import KafkaConnection, connection_of
from stream.config.settings import Settings
from stream.faust_ext.stores import KpiTable, store_url
from stream.faust_ext.transport import KpiApp

#: The largest record batch the producer builds: a quarter of Kafka's default message size limit.
CHANGELOG_BATCH_BYTES = 256 * 1024


def faust_credentials(connection: KafkaConnection) -> CredentialsT | None:
    if connection.sasl_mechanism is not None:
        return faust.SASLCredentials(
            username=connection.username,
            password=connection.password,
            ssl_context=connection.ssl_context,
            mechanism=connection.sasl_mechanism,
        )
    if connection.ssl_context is not None:
        return faust.SSLCredentials(connection.ssl_context)
    return None


def create_app(settings: Settings) -> KpiApp:
    connection = connection_of(settings)
    return KpiApp(
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
        # What the other workers of the group are told to ask for this worker's queues (/api/kpis).
        canonical_url=settings.web_url,
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
        # Each commit first writes every held table state (stream.pipeline.held_writes), holding the
        # event loop; at Faust's default interval that was the most frequent pause
        # (docs/decisions/0009). Re-processing after a crash is idempotent, so committing less
        # often costs only a little more of it.
        broker_commit_interval=settings.commit_interval_seconds,
        # Table changes go out a record batch per changelog partition (stream.faust_ext.changelog); Faust's
        # 16 KiB would split a write-out of busy queues' states (several KB each) into a batch
        # per state or two, each a produce request of its own.
        producer_max_batch_size=CHANGELOG_BATCH_BYTES,
        fetch_wait_ms=settings.fetch_wait_ms,
    )
