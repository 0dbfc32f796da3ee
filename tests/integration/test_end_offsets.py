"""stream.faust_ext.endoffsets on the real broker: the end of a partition whose last record batch holds
several records is the offset after its last record, whatever the broker reports."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.config.connection import KafkaConnection
from stream.faust_ext.endoffsets import record_ends
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_the_end_is_after_the_last_record_of_the_last_batch(broker: EmbeddedBroker) -> None:
    topic = f"it-ends-{uuid.uuid4().hex[:8]}"
    create_topics(KafkaConnection(broker.bootstrap), [topic], 2)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20)
    await producer.start()
    try:
        # Two record batches on partition 0 (10 records, then 3), none on partition 1.
        for count in (10, 3):
            pending = [await producer.send(topic, b"v", partition=0) for _ in range(count)]
            offsets = [(await delivery).offset for delivery in pending]
    finally:
        await producer.stop()
    assert offsets == [10, 11, 12]
    full, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
    await consumer.start()
    try:
        reported = await consumer.end_offsets([full, empty])
    finally:
        await consumer.stop()
    print(f"broker reports {reported[full]} as the end of 13 records")
    assert await record_ends(broker.bootstrap, reported) == {full: 13, empty: 0}


async def test_an_end_with_no_record_before_it_is_kept_and_said(
    broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"it-ends-{uuid.uuid4().hex[:8]}"
    create_topics(KafkaConnection(broker.bootstrap), [topic], 1)
    nothing_there = TopicPartition(topic, 0)
    assert await record_ends(broker.bootstrap, {nothing_there: 5}, timeout=1.0) == {nothing_there: 5}
    assert f"keeping the reported end of {topic}[0]" in caplog.text
