"""Agents under Faust's ``test_context()``, with the producer replaced by an in-memory recorder.

These tests exercise the agents' stream iteration and table writes without a broker; the
pipeline over a real broker is covered in tests/integration.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.structs import RecordMetadata
from faust.types import TP

from stream.config.settings import Settings
from stream.faust_ext.producer import PartitionRecords
from stream.ingest.partitioning import partition_for
from stream.pipeline.app import Pipeline, create_pipeline

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None
    headers: Any


@dataclass
class RecordingProducer:
    """Stands in for the Kafka producer: partitions keys like Kafka and keeps what was sent."""

    partitions: int
    sent: list[Sent] = field(default_factory=list)

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, partition_for(key.decode(), self.partitions))

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        **_: Any,
    ) -> asyncio.Future[RecordMetadata]:
        self.sent.append(Sent(topic, key, value, partition, headers))
        done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        tp = TP(topic, partition or 0)
        done.set_result(RecordMetadata(topic, tp.partition, tp, len(self.sent), -1, 0, 0))
        return done

    def send_soon(self, fut: Any) -> None:
        message = fut.message
        self.sent.append(Sent(message.channel.get_topic_name(), message.key, message.value, message.partition, None))

    def send_batches_soon(self, records: Sequence[PartitionRecords]) -> None:
        for tp, rows, on_delivered in records:
            self.sent += [Sent(tp.topic, key, value, tp.partition, None) for key, value in rows]
            on_delivered(len(self.sent))

    def values_sent_to(self, topic: str) -> list[Any]:
        return [json.loads(s.value) for s in self.sent if s.topic == topic and s.value is not None]


@pytest.fixture()
def pipeline(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Pipeline, RecordingProducer]]:
    """A pipeline on a 4-partition layout; parametrize indirectly with a dict of extra settings."""
    extra = getattr(request, "param", {})
    built = create_pipeline(Settings(broker="kafka://127.0.0.1:9", partitions=4, **extra), clock=lambda: NOW)
    built.app.finalize()
    built.app.conf.store = "memory://"
    built.app.flow_control.resume()
    recorder = RecordingProducer(built.settings.partitions)
    producer = built.app.producer
    for name in ("key_partition", "send", "send_soon", "send_batches_soon"):
        monkeypatch.setattr(producer, name, getattr(recorder, name))

    async def started_producer() -> Any:
        return producer

    monkeypatch.setattr(built.app, "maybe_start_producer", started_producer)
    # Every partition is this worker's, as for a single worker in the group.
    internal = (
        built.topics.contact_events,
        built.topics.customer_visits,
        built.topics.agent_events,
        built.topics.queue_facts,
        built.topics.queue_presence,
    )
    actives = {TP(t.get_topic_name(), p) for t in internal for p in range(4)}
    monkeypatch.setattr(built.app.assignor, "assigned_actives", lambda: actives)
    yield built, recorder


@pytest.fixture(autouse=True)
def worker_exits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, str]]]:
    """Exits a stage asks for (status, message), recorded instead of ending the test run; a test
    that expects one takes it out of the list, any other fails the test."""
    exits: list[tuple[int, str]] = []
    monkeypatch.setattr("stream.pipeline.exits.exit_worker", lambda status, message: exits.append((status, message)))
    yield exits
    assert not exits, f"the worker would have exited: {exits}"
