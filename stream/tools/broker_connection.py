"""What every command does first: the broker it talks to (the embedded one when asked), reachable,
and the topics it needs created."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from stream.config.connection import KafkaConnection, connection_of
from stream.config.settings import Settings
from stream.pipeline.topics import partitioned_topics, required_topics, topic_configs
from stream.tools.admin import check_connection, create_topics

if TYPE_CHECKING:
    from stream.tools.embedded_broker import EmbeddedBroker

log = logging.getLogger("stream")


def with_embedded_broker(settings: Settings) -> tuple[Settings, EmbeddedBroker | None]:
    """Start the embedded broker when the settings ask for it (unset in ``demo``, or ``embedded``)."""
    from stream.tools.embedded_broker import start_embedded_broker

    if settings.broker is not None and not settings.embedded_broker:
        return settings, None
    broker = start_embedded_broker()
    log.info("embedded broker listening on %s", broker.url)
    return settings.model_copy(update={"broker": broker.url}), broker


def connect(settings: Settings, command: str) -> KafkaConnection:
    """The brokers' connection, checked, and the topics every command needs created."""
    connection = connection_of(settings)
    asyncio.run(check_connection(connection))
    log.info("%s: connected to %s (%s)", command, connection.bootstrap, connection.security_protocol)
    create_topics(
        connection,
        required_topics(settings),
        settings.partitions,
        settings.replication_factor,
        exact=frozenset(partitioned_topics(settings)),
        configs=topic_configs(settings),
    )
    return connection
