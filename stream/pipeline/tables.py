"""The Faust tables, one registry: each table's name, the class of its values, and the internal topic
whose partitions its keys follow. Codecs, changelog topics, ownership and expiry all read it here."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import faust

from stream.kpi.contacts import ContactState
from stream.kpi.customers import CustomerState
from stream.kpi.presence import AgentUpdate, QueuePresence
from stream.kpi.queue_state import QueueState
from stream.kpi.tickets import TicketState
from stream.pipeline.codecs import register_codec


def _table(value: type, routed_by: str) -> Any:
    return field(metadata={"value": value, "routed_by": routed_by})


@dataclass(frozen=True)
class Tables:
    contacts: faust.TableT = _table(ContactState, "contact_events")  # contact_id (calls and chats)
    tickets: faust.TableT = _table(TicketState, "contact_events")  # ticket id
    customers: faust.TableT = _table(CustomerState, "customer_visits")  # customer_id
    agents: faust.TableT = _table(AgentUpdate, "agent_events")  # agent_id -> the latest state
    queues: faust.TableT = _table(QueueState, "queue_facts")  # "queue/channel"
    presence: faust.TableT = _table(QueuePresence, "queue_presence")  # queue

    def all(self) -> list[faust.TableT]:
        return [getattr(self, name) for name in TABLE_NAMES]


#: Every table's name, in the order expiry visits them.
TABLE_NAMES = tuple(f.name for f in fields(Tables))
#: Table name -> the internal topic (a field of stream.pipeline.topics.Topics) partitioned like it.
ROUTED_BY: dict[str, str] = {f.name: f.metadata["routed_by"] for f in fields(Tables)}


def changelog_topic_name(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"


def declare_tables(app: faust.App, partitions: int) -> Tables:
    return Tables(
        **{
            f.name: _declare(app, f.name, register_codec(f.name, f.metadata["value"]), partitions)
            for f in fields(Tables)
        }
    )


def _declare(app: faust.App, name: str, value_codec: str, partitions: int) -> faust.TableT:
    # Raw UTF-8 keys (not JSON strings), so the producer's partitioner hashes the same bytes
    # as stream.ingest.partitioning; with use_partitioner the changelog partition of a key is then
    # the partition its events are routed to, and batches and timers may write any owned key.
    changelog = app.topic(
        changelog_topic_name(app.conf.id, name),
        key_type=str,
        key_serializer="raw",
        value_serializer=value_codec,
        partitions=partitions,
        compacting=True,
        internal=True,
        acks=False,
        maxsize=131_072,
        allow_empty=True,
    )
    table = app.Table(name, key_type=str, partitions=partitions, use_partitioner=True, changelog_topic=changelog)
    # The table passes its own serializers with every changelog write.
    table.key_serializer = "raw"
    table.value_serializer = value_codec
    return table
