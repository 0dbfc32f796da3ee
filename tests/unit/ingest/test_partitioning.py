"""stream.ingest.partitioning: routing must match the Kafka producer's default partitioner exactly."""

from __future__ import annotations

import random
import string

import pytest
from aiokafka.partitioner import DefaultPartitioner

from stream.ingest.partitioning import partition_for
from stream.kpi.queue_keys import queue_key, split_queue_key


def kafka_partition(key: str, partitions: int) -> int:
    """What aiokafka's producer picks for ``key`` when every partition is available."""
    all_partitions = list(range(partitions))
    return DefaultPartitioner()(key.encode("utf-8"), all_partitions, all_partitions)


def random_key(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_./:@ " + "łóżźćęąńśéü€日本"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 70)))


@pytest.mark.parametrize("seed", range(10))
def test_matches_default_partitioner_for_random_keys(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        key = random_key(rng)
        partitions = rng.choice([1, 2, 3, 7, 8, 12, 16, 31, 64, 100, 1024, rng.randrange(1, 2000)])
        assert partition_for(key, partitions) == kafka_partition(key, partitions), (key, partitions)


@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 50, 64, 128, 1000, 1024])
def test_matches_default_partitioner_for_realistic_keys(partitions: int) -> None:
    keys = [f"v-{n:016x}" for n in range(0, 10**6, 7919)] + [
        queue_key(q, c) for q in ("sales", "support", "billing", "vip.eu-1") for c in ("voice", "chat", "ticket")
    ]
    for key in keys:
        assert partition_for(key, partitions) == kafka_partition(key, partitions), key


@pytest.mark.parametrize(
    ("key", "partitions", "expected"),
    [
        # Kafka's reference murmur2 values (org.apache.kafka.common.utils.UtilsTest):
        # "21" -> -973932308; & 0x7fffffff = 1173551340; % 8 = 4, % 100 = 40
        ("21", 8, 4),
        ("21", 100, 40),
        # "foobar" -> -790332482; positive part 1357151166; % 8 = 6, % 12 = 6, % 100 = 66
        ("foobar", 8, 6),
        ("foobar", 12, 6),
        ("foobar", 100, 66),
        # "a-little-bit-long-string" -> -985981536; positive part 1161502112; % 3 = 2, % 12 = 8
        ("a-little-bit-long-string", 3, 2),
        ("a-little-bit-long-string", 12, 8),
        # "a-little-bit-longer-string" -> -1486304829; positive part 661178819; % 8 = 3, % 12 = 11
        ("a-little-bit-longer-string", 8, 3),
        ("a-little-bit-longer-string", 12, 11),
        # "abc" -> 479470107 (already positive); % 8 = 3, % 100 = 7
        ("abc", 8, 3),
        ("abc", 100, 7),
        ("anything", 1, 0),
    ],
)
def test_reference_values(key: str, partitions: int, expected: int) -> None:
    assert partition_for(key, partitions) == expected


def test_result_is_in_range() -> None:
    rng = random.Random(99)
    for _ in range(1000):
        partitions = rng.randrange(1, 300)
        assert 0 <= partition_for(random_key(rng), partitions) < partitions


@pytest.mark.parametrize(
    ("queue", "channel", "key"),
    [
        ("sales", "voice", "sales/voice"),
        ("support", "chat", "support/chat"),
        ("billing.eu-2_x", "ticket", "billing.eu-2_x/ticket"),
        ("Q", "unknown", "Q/unknown"),
    ],
)
def test_queue_key_round_trip(queue: str, channel: str, key: str) -> None:
    assert queue_key(queue, channel) == key
    assert split_queue_key(key) == (queue, channel)


def test_split_queue_key_splits_on_the_first_slash() -> None:
    """Queue names cannot contain '/', so everything after the first one is the channel."""
    assert split_queue_key("sales/voice/extra") == ("sales", "voice/extra")


def test_split_queue_key_without_slash_fails() -> None:
    with pytest.raises(ValueError):
        split_queue_key("sales")
