"""Key-to-partition routing, identical to the Kafka producer's default partitioner.

Tables use ``use_partitioner=True``, so their changelog partition for a key is chosen by
the producer's partitioner. Routing internal topics with the same function keeps each
key's events and its table changelog on the same partition number.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=16_384)  # queue, agent and open contacts' keys recur batch after batch
def partition_for(key: str, partitions: int) -> int:
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def queue_key(queue: str, channel: str) -> str:
    # '/' cannot occur in a queue name (SPEC §3), so the key splits back unambiguously.
    return f"{queue}/{channel}"


def split_queue_key(key: str) -> tuple[str, str]:
    queue, channel = key.split("/", 1)
    return queue, channel
