"""stream.faust_ext.producer on the real broker: a flush waits for every record buffered before it, also
when records leave the buffer more slowly than Faust's flush is willing to wait (0.1 s each), and
for every record batch handed over (``send_batches_soon``)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aiokafka
import faust
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.transport.producer import ProducerBuffer
from faust.types import TP

from stream.config.connection import KafkaConnection
from stream.faust_ext.producer import DrainingProducer
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker

pytestmark = pytest.mark.integration


def _app_topic(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, drains: bool, partitions: int = 1, **settings: Any
) -> faust.TopicT:
    """A new topic of a new app (Faust ``settings``), whose producer is stream.faust_ext.producer's if ``drains``."""
    run = uuid.uuid4().hex[:8]
    create_topics(KafkaConnection(broker.bootstrap), [f"it-producer-{run}"], partitions)
    app = faust.App(f"it-producer-{run}", broker=broker.url, **settings)
    if drains:
        monkeypatch.setattr(app.transport, "Producer", DrainingProducer)
    return app.topic(f"it-producer-{run}", key_serializer="raw", value_serializer="raw")


@pytest.mark.parametrize("drains", [True, False], ids=["stream.faust_ext.producer", "faust"])
async def test_a_flush_returns_after_every_buffered_record_is_on_the_broker(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, drains: bool
) -> None:
    topic = _app_topic(broker, monkeypatch, drains)
    app = topic.app
    handed_over = ProducerBuffer._send_pending
    waits_for_records = ProducerBuffer.flush_atmost
    flush_gave_up = asyncio.Event()

    async def flush_atmost(self: ProducerBuffer, max_messages: int | None) -> int:
        flushed = await waits_for_records(self, max_messages)
        if self.size:  # no record left the buffer for 0.1 s: Faust's flush stops waiting
            flush_gave_up.set()
        return flushed

    async def slowly(self: ProducerBuffer, fut: Any) -> None:
        # A batch holding the event loop, or a slow broker: the first record leaves the buffer
        # only once Faust's flush has given up waiting for it.
        await flush_gave_up.wait()
        await handed_over(self, fut)

    monkeypatch.setattr(ProducerBuffer, "flush_atmost", flush_atmost)
    monkeypatch.setattr(ProducerBuffer, "_send_pending", slowly)
    producer = app.producer
    await producer.start()
    try:
        records = [topic.send_soon(value=f"write-{n}".encode()) for n in range(5)]
        await producer.flush()
        delivered = [record.done() for record in records]
    finally:
        await producer.stop()
    assert flush_gave_up.is_set()
    if drains:
        assert delivered == [True] * 5
    else:
        # Faust's own flush gives up with records still buffered; if this ever fails, Faust has
        # fixed it and stream.faust_ext.producer can go.
        assert not all(delivered)


@pytest.mark.parametrize("drains", [True, False], ids=["stream.faust_ext.producer", "faust"])
async def test_streams_waiting_for_a_full_buffer_are_logged_once_a_minute(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, drains: bool
) -> None:
    """Every input message waits while the send buffer holds over 100 records; Faust logs a
    warning for each wait, stream.faust_ext.producer one for all the waits of a minute."""
    topic = _app_topic(broker, monkeypatch, drains)
    producer = topic.app.producer
    await producer.start()
    try:
        records = [topic.send_soon(value=f"write-{n}".encode()) for n in range(450)]
        for _ in range(3):  # three input messages arrive while the burst is going out
            assert producer.buffer.size > producer.buffer.max_messages
            await producer.buffer.wait_until_ebb()
        await producer.flush()
        delivered = all(record.done() for record in records)
    finally:
        await producer.stop()
    # Only the producers' own warnings: the admin client's selector may warn of a slow task too.
    producer_logger = "stream.faust_ext.producer" if drains else "faust.transport.producer"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == producer_logger]
    if drains:
        assert delivered  # its flush waits for every record (the test above)
        assert warnings == [
            "waits of the streams for the producer's send buffer (over 100 records) to drain: 1 "
            "since the last such message"
        ]
    else:
        # Faust's own flush may return with records still buffered (the test above): only its
        # warnings are this case's to check.
        assert len(warnings) == 3 and all(w.startswith("producer buffer full") for w in warnings)


async def _read_back(broker: EmbeddedBroker, topic: str, expected: int) -> dict[int, list[tuple[bytes, bytes | None]]]:
    """Every record of ``topic`` (at least ``expected``), key and value, per partition in offset order."""
    consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    read: dict[int, list[tuple[bytes, bytes | None]]] = {}
    try:
        async with asyncio.timeout(20):
            while sum(map(len, read.values())) < expected:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    read.setdefault(tp.partition, []).extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return read


async def test_records_sent_in_batches_are_on_the_broker_in_order_when_a_flush_returns(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Table changes handed over a record batch per partition (stream.faust_ext.changelog): a flush waits for
    every one, each partition gets them in the order they were passed even when handing them over
    is slow, a record too large for a batch goes alone, and each batch's last offset is reported."""
    channel = _app_topic(broker, monkeypatch, True, partitions=2, producer_max_batch_size=1024)
    app, topic = channel.app, channel.get_topic_name()
    handed_over = aiokafka.AIOKafkaProducer.send_batch
    handing_over, flushing = asyncio.Event(), asyncio.Event()

    async def slowly(self: aiokafka.AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
        # The first batch is still being handed over when the flush starts.
        handing_over.set()
        await flushing.wait()
        return await handed_over(self, *args, **kwargs)

    monkeypatch.setattr(aiokafka.AIOKafkaProducer, "send_batch", slowly)
    last_offsets: dict[int, list[int]] = {0: [], 1: []}
    producer = app.producer
    await producer.start()
    try:
        producer.send_batches_soon(
            [
                (TP(topic, 0), [(b"c1", b"queued"), (b"c2", None)], last_offsets[0].append),
                (TP(topic, 1), [(b"q1", b"x" * 3000), (b"q2", b"small")], last_offsets[1].append),
            ]
        )
        producer.send_batches_soon([(TP(topic, 0), [(b"c1", b"answered")], last_offsets[0].append)])
        await asyncio.wait_for(handing_over.wait(), timeout=10)
        flush = asyncio.ensure_future(producer.flush())
        flushing.set()
        await flush
        # Every batch's offset is reported by the time the flush returns.
        assert last_offsets == {0: [1, 2], 1: [0, 1]}
    finally:
        await producer.stop()
    read = await _read_back(broker, topic, 5)
    assert read == {
        0: [(b"c1", b"queued"), (b"c2", None), (b"c1", b"answered")],
        1: [(b"q1", b"x" * 3000), (b"q2", b"small")],
    }


async def _refused(self: aiokafka.AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
    raise KafkaTimeoutError()


async def _taken_then_lost(self: aiokafka.AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.2, outcome.set_exception, KafkaTimeoutError())
    return outcome


@pytest.mark.parametrize("send_batch", [_refused, _taken_then_lost], ids=["refused", "taken-then-lost"])
async def test_a_flush_fails_once_a_batch_was_not_delivered(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, send_batch: Any
) -> None:
    """Offsets must not be committed for table changes that never reached their changelog: whether
    the client refused the batch or took it and could not deliver it (its future fails later)."""
    channel = _app_topic(broker, monkeypatch, True)
    app, topic = channel.app, channel.get_topic_name()
    producer = app.producer
    await producer.start()
    try:
        with monkeypatch.context() as patched:
            patched.setattr(aiokafka.AIOKafkaProducer, "send_batch", send_batch)
            producer.send_batches_soon([(TP(topic, 0), [(b"c1", b"queued")], lambda offset: None)])
            with pytest.raises(RuntimeError, match="not delivered to their changelogs"):
                await producer.flush()
        producer.send_batches_soon([(TP(topic, 0), [(b"c1", b"answered")], lambda offset: None)])
        with pytest.raises(RuntimeError, match="not delivered to their changelogs"):
            await producer.flush()  # a later batch that got through does not make up for it
    finally:
        await producer.stop()
