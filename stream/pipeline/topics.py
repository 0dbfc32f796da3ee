"""The Kafka topics: input and output topics of SPEC §2 and the internal repartition topics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import faust

from stream.config.settings import Settings
from stream.ingest.decoding import Source
from stream.pipeline.tables import TABLE_NAMES, changelog_topic_name

#: Internal topics, each routed by the key of the stage that reads it.
INTERNAL = {
    "contact_events": "contact-events",  # calls, chats and tickets, by contact id
    "customer_visits": "customer-visits",  # contacts of known customers, by customer id
    "agent_events": "agent-events",  # agent states, by agent id
    "queue_facts": "queue-facts",  # measurements, by queue and channel
    "queue_presence": "queue-presence",  # agents' states per queue, by queue
}


@dataclass(frozen=True)
class Topics:
    inputs: faust.TopicT  # every input topic
    contact_events: faust.TopicT
    customer_visits: faust.TopicT
    agent_events: faust.TopicT
    queue_facts: faust.TopicT
    queue_presence: faust.TopicT
    deadletter: faust.TopicT
    alerts: faust.TopicT
    topic_of: dict[Source, str]  # source -> input topic name

    @cached_property
    def source_of(self) -> dict[str, Source]:
        """Input topic name -> what it carries."""
        return {name: source for source, name in self.topic_of.items()}


def input_topic_of(settings: Settings) -> dict[Source, str]:
    """What each input topic carries -> its name."""
    return {
        "voice": settings.topic_calls,
        "chat": settings.topic_chats,
        "ticket": settings.topic_tickets,
        "survey": settings.topic_surveys,
        "agent": settings.topic_agents,
    }


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    topic_of = input_topic_of(settings)
    # Each message on an internal topic is a batch (a JSON list, stream.pipeline.outbox), so the
    # framework's per-message cost is paid once per batch, not once per event.
    internal = {
        field: app.topic(
            f"{settings.app_id}-{suffix}",
            partitions=settings.partitions,
            internal=True,
            key_serializer="raw",
            value_serializer="raw",
        )
        for field, suffix in INTERNAL.items()
    }
    return Topics(
        inputs=app.topic(*topic_of.values(), key_serializer="raw", value_serializer="raw"),
        deadletter=app.topic(settings.topic_deadletter, key_serializer="raw", value_serializer="raw"),
        alerts=app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw"),
        topic_of=topic_of,
        **internal,
    )


def partitioned_topics(settings: Settings) -> list[str]:
    """Internal and changelog topics: routed by key, so they must have KPI_PARTITIONS partitions."""
    internal = [f"{settings.app_id}-{suffix}" for suffix in INTERNAL.values()]
    return internal + [changelog_topic_name(settings.app_id, table) for table in TABLE_NAMES]


#: Changelog topics keep each key's latest state, not a stretch of time: with the broker's default
#: ``cleanup.policy=delete`` a record older than ``retention.ms`` (7 days by default) is deleted,
#: and a worker restarting on day 29 would lose the tickets it keeps for 30 days. Compaction also
#: bounds what a restart reads to about the live keys; a segment is compacted once it is closed,
#: so segments close after a day (Kafka's default, 7 days or 1 GB, would leave a week of
#: superseded states to read).
CHANGELOG_CONFIG = {"cleanup.policy": "compact", "segment.ms": str(24 * 3600 * 1000)}


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Topic -> the configuration it is created with (topics not named: the broker's defaults)."""
    return {changelog_topic_name(settings.app_id, table): CHANGELOG_CONFIG for table in TABLE_NAMES}


def required_topics(settings: Settings) -> list[str]:
    """Every topic the worker reads or writes."""
    return [
        *partitioned_topics(settings),
        *input_topic_of(settings).values(),
        settings.topic_deadletter,
        settings.topic_alerts,
    ]
