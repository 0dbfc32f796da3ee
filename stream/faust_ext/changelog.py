"""Table writes: into the table's store, and onto its changelog a record batch per partition.

Faust writes each change of a table as a message of its own through its producer's buffer: a
pending message, a coroutine that serialises and sends it, and the Kafka client's future and
callback for the one record (``Table.on_key_set`` to ``Topic.publish_message``). Live, with the
contacts and customers changing on nearly every event, that path was the largest single item of
the worker's CPU (docs/architecture.md). The stages change tables only through
``stream.pipeline.held_writes``, which writes many keys at once, so :func:`write_states` writes
them itself: into the store, as ``table[key] = state`` does, and onto the changelog as one record
batch per partition, handed to the Kafka client directly
(``stream.faust_ext.producer.DrainingProducer.send_batches_soon``). The records are the ones Faust
writes (the raw key, the value in the table's codec, a tombstone for a deletion, on the partition
the producer's partitioner gives the key), so recovery and standby replicas read them as before;
a RocksDB store records the offset of each partition's last change once it is on the broker, as
Faust does after each record.

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):
``table[key] = state`` is ``Table.on_key_set`` (the changelog record, and nothing else for a table
that is not windowed) followed by a write into ``Table.data``, the store, so writing the store and
sending the record here is the same write; the record Faust sends is the key and value in the
table's serializers (a tombstone for a deletion) on the partition the producer's partitioner
chooses; and ``Store.set_persisted_offset`` is what Faust calls once a record is on the broker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import TP

from stream.faust_ext.producer import Record
from stream.ingest.partitioning import partition_for

#: A state that deletes its key when written.
DELETED = None


def write_states(table: faust.TableT, states: Sequence[tuple[str, Any]]) -> None:
    """Write ``states`` (key, state; :data:`DELETED`: delete the key, nothing if the table does not
    have it) into ``table``'s store, and the changes onto its changelog."""
    store = table.data
    encode = codecs.get_codec(table.value_serializer).dumps
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for key, state in states:
        if state is not DELETED:
            store[key] = state
            value = encode(state)
        elif key in store:
            del store[key]
            value = None
        else:
            continue
        by_partition[partition_for(key, table.partitions)].append((key.encode(), value))
    topic = table.changelog_topic.get_topic_name()
    tps = {partition: TP(topic, partition) for partition in by_partition}
    table.app.producer.send_batches_soon(
        [
            (tps[partition], records, partial(store.set_persisted_offset, tps[partition]))
            for partition, records in by_partition.items()
        ]
    )
