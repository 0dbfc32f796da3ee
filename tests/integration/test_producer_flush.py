"""stream.producer on the real broker: a flush waits for every record buffered before it, also
when records leave the buffer more slowly than Faust's flush is willing to wait (0.1 s each)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import faust
import pytest
from faust.transport.producer import ProducerBuffer

from stream.admin import create_topics
from stream.broker import EmbeddedBroker
from stream.producer import DrainingProducer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("drains", [True, False], ids=["stream.producer", "faust"])
async def test_a_flush_returns_after_every_buffered_record_is_on_the_broker(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, drains: bool
) -> None:
    topic_name = f"it-flush-{uuid.uuid4().hex[:8]}"
    create_topics(broker.bootstrap, [topic_name], 1)
    app = faust.App(f"it-flush-{uuid.uuid4().hex[:8]}", broker=broker.url)
    if drains:
        monkeypatch.setattr(app.transport, "Producer", DrainingProducer)
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    handed_over = ProducerBuffer._send_pending

    async def slowly(self: ProducerBuffer, fut: Any) -> None:
        # A batch holding the event loop, or a slow broker, between two records of the buffer.
        await asyncio.sleep(0.15)
        await handed_over(self, fut)

    monkeypatch.setattr(ProducerBuffer, "_send_pending", slowly)
    producer = app.producer
    await producer.start()
    try:
        records = [topic.send_soon(value=f"write-{n}".encode()) for n in range(5)]
        await producer.flush()
        delivered = [record.done() for record in records]
    finally:
        await producer.stop()
    if drains:
        assert delivered == [True] * 5
    else:
        # Faust's own flush gives up with records still buffered; if this ever fails, Faust has
        # fixed it and stream.producer can go.
        assert not all(delivered)
