"""The Faust tables: per-contact, per-ticket, per-customer, per-agent and per-queue state."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from stream.config.settings import Settings
from stream.pipeline.codecs import register_codecs


@dataclass(frozen=True)
class Tables:
    contacts: faust.TableT  # contact_id -> ContactState (calls and chats)
    tickets: faust.TableT  # ticket id -> TicketState
    customers: faust.TableT  # customer_id -> CustomerState
    agents: faust.TableT  # agent_id -> AgentUpdate (the latest)
    queues: faust.TableT  # "queue/channel" -> QueueState
    presence: faust.TableT  # queue -> QueuePresence


def declare_tables(app: faust.App, settings: Settings) -> Tables:
    codecs = register_codecs()
    return Tables(**{name: _table(app, name, codec, settings.partitions) for name, codec in codecs.items()})


def _table(app: faust.App, name: str, value_codec: str, partitions: int) -> faust.TableT:
    # Raw UTF-8 keys (not JSON strings), so the producer's partitioner hashes the same bytes
    # as stream.ingest.partitioning; with use_partitioner the changelog partition of a key is then
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
