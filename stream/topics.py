"""The Kafka topics: input and output topics of SPEC §2 and the two internal repartition topics."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from schemas.events import CHAT, VOICE
from stream.settings import Settings


@dataclass(frozen=True)
class Topics:
    contact_inputs: dict[str, faust.TopicT]  # channel -> call or chat topic
    contact_events: faust.TopicT  # lifecycle events, partitioned by contact
    queue_facts: faust.TopicT  # measurements, partitioned by queue and channel
    deadletter: faust.TopicT
    alerts: faust.TopicT
    topic_of: dict[str, str]  # channel -> input topic name


def contact_topic_of(settings: Settings) -> dict[str, str]:
    """Channel -> the input topic that carries its contacts."""
    return {VOICE: settings.topic_calls, CHAT: settings.topic_chats}


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    topic_of = contact_topic_of(settings)
    partitions = settings.partitions
    return Topics(
        contact_inputs={
            channel: app.topic(name, key_serializer="raw", value_serializer="raw") for channel, name in topic_of.items()
        },
        # Each message on an internal topic is one batch (a JSON list), so the framework's
        # per-message cost is paid once per batch, not once per event.
        contact_events=app.topic(
            f"{settings.app_id}-contact-events", partitions=partitions, internal=True, value_serializer="json"
        ),
        queue_facts=app.topic(
            f"{settings.app_id}-queue-facts", partitions=partitions, internal=True, value_serializer="json"
        ),
        deadletter=app.topic(settings.topic_deadletter, key_serializer="raw", value_serializer="raw"),
        alerts=app.topic(settings.topic_alerts, key_serializer="raw", value_serializer="raw"),
        topic_of=topic_of,
    )


def partitioned_topics(settings: Settings) -> list[str]:
    """Internal and changelog topics: routed by key, so they must have KPI_PARTITIONS partitions."""
    internal = [f"{settings.app_id}-{name}" for name in ("contact-events", "queue-facts")]
    return internal + [f"{settings.app_id}-{table}-changelog" for table in ("contacts", "queues")]


def required_topics(settings: Settings) -> list[str]:
    """Every topic the worker reads or writes."""
    return partitioned_topics(settings) + [
        settings.topic_calls,
        settings.topic_chats,
        settings.topic_tickets,
        settings.topic_surveys,
        settings.topic_agents,
        settings.topic_deadletter,
        settings.topic_alerts,
    ]
