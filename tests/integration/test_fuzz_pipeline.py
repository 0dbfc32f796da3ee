"""Thousands of random and damaged messages into the running worker, mixed with valid ones: the
worker keeps consuming, and every message is either processed or dead-lettered with a reason."""

from __future__ import annotations

import json
import random
import time

import pytest
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from stream.tools.embedded_broker import EmbeddedBroker
from tests.fuzz_events import mutate, valid_event
from tests.integration.conftest import Worker, read_topic, running_worker, wait_for

pytestmark = pytest.mark.integration

TOPICS = {"voice": "calls", "ticket": "tickets", "survey": "surveys", "agent": "agents"}


def counted(worker: Worker, topics: set[str], what: str = "invalid") -> tuple[float, float]:
    """(processed, ``what``: invalid or late) summed over ``topics``."""
    processed = other = 0.0
    for (name, labels), value in worker.metrics().items():
        if dict(labels).get("topic") in topics:
            if name == "contact_centre_events_processed_total":
                processed += value
            elif name == f"contact_centre_events_{what}_total":
                other += value
    return processed, other


def test_produced_equals_processed_plus_invalid(worker: Worker, producer: KafkaProducer) -> None:
    rng = random.Random(20261123)
    topics = {worker.topics[name] for name in TOPICS.values()}
    processed_before, invalid_before = counted(worker, topics)
    damaged: set[bytes] = set()
    produced = 0
    for n in range(4000):
        origin = rng.choice(sorted(TOPICS))
        topic = worker.topics[TOPICS[rng.choice(sorted(TOPICS)) if n % 10 == 0 else origin]]  # some on the wrong topic
        kind = n % 3
        if kind == 0:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
        elif kind == 1:
            raw = mutate(rng, valid_event(rng, origin, time.time() - rng.uniform(0, 200)))
        else:
            raw = json.dumps(valid_event(rng, origin, time.time() - rng.uniform(0, 200))).encode()
        if kind != 2:
            damaged.add(raw)
        key = rng.choice([None, b"", bytes(rng.randrange(256) for _ in range(8))])
        producer.send(topic, key=key, value=raw)
        produced += 1
    producer.flush()

    def all_accounted() -> tuple[float, float] | None:
        processed, invalid = counted(worker, topics)
        done = (processed - processed_before) + (invalid - invalid_before) == produced
        return (processed - processed_before, invalid - invalid_before) if done else None

    processed, invalid = wait_for(all_accounted, timeout=120, interval=1)
    assert processed > 1000 and invalid > 1000  # both paths taken, thousands of times
    assert worker.get("/healthz")[0] == 200
    assert worker.process.poll() is None

    # Every invalid message on these topics (this test's and any other's) is in the dead-letter
    # topic, with its origin and a reason, and so is every late one (processed, and dated before
    # every window).
    _, invalid_ever = counted(worker, topics)
    _, late_ever = counted(worker, topics, "late")

    def ours(records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        return [m for m in records if dict(m.headers)["source_topic"].decode() in topics]

    # Up to the ends of the dead-letter topic once there are as many as counted: any more would be there too.
    dead = read_topic(
        worker.bootstrap, worker.topics["deadletter"], lambda read: len(ours(read)) >= invalid_ever + late_ever
    )
    letters = ours(dead)
    late = [letter for letter in letters if dict(letter.headers)["reason"] == b"late"]
    assert (len(letters) - len(late), len(late)) == (invalid_ever, late_ever)
    assert sum(letter.value in damaged for letter in letters) > 1000
    for letter in letters:
        headers = dict(letter.headers)
        assert headers["reason"] and headers["detail"] and int(headers["source_offset"]) >= 0


def test_a_flood_of_queue_names_is_capped(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """KPI_MAX_QUEUES=5: 200 made-up queue names leave at most 5 queue keys (plus those named in
    KPI_CONFIG) on /metrics; the rest is counted as dropped."""
    with running_worker(broker, tmp_path_factory.mktemp("capped"), KPI_MAX_QUEUES="5") as capped:
        for n in range(200):
            event = valid_event(random.Random(n), "voice", time.time() - 10)
            event.update(type="contact.queued", queue=f"flood-{n}")
            producer.send(capped.topics["calls"], value=json.dumps(event).encode())
        producer.flush()
        dropped = ("contact_centre_queue_limit_dropped_total", frozenset({("table", "queues")}))
        wait_for(lambda: capped.metrics().get(dropped, 0.0) >= 195 * 2, timeout=60)  # offered and waiting facts
        queues = {
            dict(labels)["queue"]
            for (name, labels), _ in capped.metrics().items()
            if name == "contact_centre_contacts_waiting"
        }
        assert len(queues) == 5 and all(q.startswith("flood-") for q in queues)
