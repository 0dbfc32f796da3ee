"""The Faust tables: per-contact lifecycle state and per-queue window aggregates."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from stream.codecs import CONTACT_STATE, QUEUE_STATE, register_codecs
from stream.settings import Settings


@dataclass(frozen=True)
class Tables:
    contacts: faust.TableT  # contact_id -> ContactState
    queues: faust.TableT  # "queue/channel" -> QueueState


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    register_codecs()
    return Tables(
        contacts=_table(app, "contacts", CONTACT_STATE, settings.partitions),
        queues=_table(app, "queues", QUEUE_STATE, settings.partitions),
    )


def _table(app: faust.App, name: str, value_codec: str, partitions: int) -> faust.TableT:
    # Raw UTF-8 keys (not JSON strings), so the producer's partitioner hashes the same bytes
    # as stream.partitioning; with use_partitioner the changelog partition of a key is then
    # the partition its events are routed to, and batches and timers may write any owned key.
    changelog = app.topic(
        f"{app.conf.id}-{name}-changelog", key_type=str, key_serializer="raw", value_serializer=value_codec,
        partitions=partitions, compacting=True, internal=True, acks=False, maxsize=131_072, allow_empty=True,
    )  # fmt: skip
    table = app.Table(name, key_type=str, partitions=partitions, use_partitioner=True, changelog_topic=changelog)
    # The table passes its own serializers with every changelog write.
    table.key_serializer = "raw"
    table.value_serializer = value_codec
    return table
