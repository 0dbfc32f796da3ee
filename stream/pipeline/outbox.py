"""Messages for the internal topics: a batch's rows grouped per destination partition, packed
into as few messages as fit under the broker's message size.

A stage sends one message per destination partition per batch, so the framework's per-message
cost is paid per batch. A large batch (a backlog) can hold more than Kafka accepts in one message
(``max.request.size`` and ``message.max.bytes``, about 1 MB by default), so rows are packed into
messages of at most :data:`MESSAGE_BYTES`; only a single row larger than that travels alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import faust
from pydantic_core import from_json, to_json

from stream.ingest.partitioning import partition_for
from stream.kpi.facts import Fact
from stream.kpi.queue_keys import queue_key

#: Where a message came from, "topic/partition" and offset: facts carry the origin of the message
#: that produced them, so the queue stage recognises facts it has already counted.
Origin = tuple[str, int]
#: A message of an internal topic, decoded: its rows and its origin.
Delivery = tuple[Any, Origin]

#: Messages are packed up to this size: a quarter of Kafka's default limit leaves room for the
#: facts a message of rows turns into at the next stage (each facts section must travel whole).
MESSAGE_BYTES = 256 * 1024


class Outbox:
    """Rows for internal topics, grouped by destination partition and sent together.

    Facts travel in sections, one per origin and queue: the queue stage counts a section once per
    queue (``QueueState.accept_origin``), so a section is never split across messages, while the
    sections of one origin may be.
    """

    def __init__(self, partitions: int, message_bytes: int = MESSAGE_BYTES) -> None:
        self._partitions = partitions
        self._message_bytes = message_bytes
        self._rows: dict[faust.TopicT, dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
        self._sections: dict[faust.TopicT, dict[int, dict[tuple[Origin | None, str], list[Any]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )

    def add(self, topic: faust.TopicT, key: str, row: Any) -> None:
        self._rows[topic][partition_for(key, self._partitions)].append(row)

    def add_facts(self, topic: faust.TopicT, facts: Sequence[Fact], origin: Origin | None = None) -> None:
        by_partition = self._sections[topic]
        for fact in facts:
            key = queue_key(fact.queue, fact.channel)
            by_partition[partition_for(key, self._partitions)][origin, key].append(fact.to_wire())

    async def send(self) -> None:
        """Send every message and wait until the broker has them all.

        A stage writes its own table only after this returns: if it crashes in between, the
        input is processed again and sends the same facts with the same origins, which the
        queue stage skips; the other way round, a state saved without its output would lose
        that output for good.
        """
        messages = [
            (topic, partition, pack(map(encode, rows), self._message_bytes))
            for topic, by_partition in self._rows.items()
            for partition, rows in by_partition.items()
        ]
        messages += [
            (topic, partition, pack(sectioned(sections), self._message_bytes))
            for topic, by_partition in self._sections.items()
            for partition, sections in by_partition.items()
        ]
        self._rows.clear()
        self._sections.clear()
        pending = [
            await topic.send(value=value, partition=partition)
            for topic, partition, values in messages
            for value in values
        ]
        for delivery in pending:
            await delivery


def sectioned(sections: dict[tuple[Origin | None, str], list[Any]]) -> Iterator[bytes]:
    """The encoded sections of a queue-facts message (origin ``None``: not deduplicated by origin)."""
    for (origin, _), facts in sections.items():
        yield encode({"origin": list(origin) if origin else None, "facts": facts})


def encode(unit: Any) -> bytes:
    return to_json(unit)


def unpack(message: bytes) -> list[Any]:
    """The units of one internal message."""
    units: list[Any] = from_json(message)
    return units


def pack(encoded: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """JSON lists of the encoded units, in order, each at most ``limit`` bytes unless one unit alone is larger."""
    chunk: list[bytes] = []
    size = 2  # the brackets
    for unit in encoded:
        if chunk and size + len(unit) + 1 > limit:
            yield b"[" + b",".join(chunk) + b"]"
            chunk, size = [], 2
        chunk.append(unit)
        size += len(unit) + 1
    if chunk:
        yield b"[" + b",".join(chunk) + b"]"
