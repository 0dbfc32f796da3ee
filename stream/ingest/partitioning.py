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
