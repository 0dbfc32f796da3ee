"""Hostile or broken input against a real worker: oversized poison messages are dead-lettered cut to
fit and the worker goes on; a flood of invented ids is bounded, counted and forgotten, and a real
queue that starts afterwards gets its KPIs."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from stream.kpi.presence import MAX_AGENTS_PER_QUEUE
from stream.kpi.queue_state import MAX_WAITING
from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import LOADED, Worker, read_topic, running_worker, wait_for
from tests.integration.events import make_agent_state, make_event
from tests.integration.scrape import series
from tests.integration.test_crash_recovery import warnings_in_log

pytestmark = pytest.mark.integration


#: Invented agents of one queue, and contacts waiting in one queue: twice what a worker keeps of each.
AGENTS, WAITING = 2 * MAX_AGENTS_PER_QUEUE, 2 * MAX_WAITING


def big_producer(broker: EmbeddedBroker) -> KafkaProducer:
    # Under the broker's limit, over the worker's producer's (1,000,000 bytes).
    return KafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=4 * 1024 * 1024, linger_ms=20)


def rss_mb(worker: Worker) -> float:
    for line in Path(f"/proc/{worker.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_oversized_poison_messages_are_dead_lettered_cut_to_fit(broker: EmbeddedBroker, tmp_path: Path) -> None:
    producer = big_producer(broker)
    with running_worker(broker, tmp_path) as worker:
        calls = worker.topics["calls"]
        now = time.time()
        huge = b'{"event_id": "' + b"x" * 1_040_000 + b'"'  # 1.04 MB, not JSON
        long_type = json.dumps({"event_id": "e-long", "type": "t" * 600_000, "ts": now, "contact_id": "c"}).encode()
        before = [
            make_event("contact.queued", "poison-1", now - 60, queue="it-poison"),
            make_event("contact.answered", "poison-1", now - 50, agent_id="a"),
        ]
        after = [
            make_event("contact.queued", "poison-2", now - 40, queue="it-poison"),
            make_event("contact.abandoned", "poison-2", now - 10),
        ]
        for event in before:
            producer.send(calls, key=b"poison-1", value=json.dumps(event).encode())
        producer.send(calls, key=b"huge", value=huge)
        producer.send(calls, key=b"long-type", value=long_type)
        for event in after:
            producer.send(calls, key=b"poison-2", value=json.dumps(event).encode())
        producer.flush()
        producer.close()

        offered = series("contact_centre_contacts_offered", queue="it-poison", channel="voice", window="15m")
        abandoned = series("contact_centre_contacts_abandoned", queue="it-poison", channel="voice", window="15m")
        answered = series("contact_centre_contacts_answered", queue="it-poison", channel="voice", window="15m")
        wait_for(lambda: worker.metrics().get(abandoned) == 1, timeout=60)
        metrics = worker.metrics()
        assert (metrics[offered], metrics[answered]) == (2, 1)
        assert worker.process.poll() is None and worker.get("/healthz")[0] == 200

        dead = read_topic(
            worker.bootstrap,
            worker.topics["deadletter"],
            lambda read: {b"huge", b"long-type"} <= {m.key for m in read},
            fetch_max_bytes=8 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        letters = {m.key: m for m in dead}
        for key, original in ((b"huge", huge), (b"long-type", long_type)):
            headers = {name: value.decode() for name, value in letters[key].headers}
            assert original.startswith(letters[key].value) and len(letters[key].value) < 1_000_000
            assert len(headers["detail"]) <= 300
            if len(original) > 1_000_000:
                assert headers["truncated"] == "true"
                assert headers["original_size"] == f"key {len(key)} bytes, value {len(original)} bytes"
        assert headers["reason"] == "unknown_type"
        long_lines = [line for line in warnings_in_log(worker) if len(line) > 1000]
        assert long_lines == []


@pytest.mark.machine("busy")  # a large input (tests/conftest.py)
def test_a_flood_of_invented_ids_is_bounded_counted_and_forgotten(broker: EmbeddedBroker, tmp_path: Path) -> None:
    producer = big_producer(broker)
    settings = {
        "KPI_MAX_QUEUES": "60",
        "KPI_IDLE_QUEUE_SECONDS": "5",
        "KPI_ORPHAN_TICKET_TTL_SECONDS": "5",
        "KPI_AGENT_TTL_SECONDS": "3600",
        **LOADED,
    }
    with running_worker(broker, tmp_path, **settings) as worker:
        topics = worker.topics
        now = time.time()
        run = uuid.uuid4().hex[:6]
        sent = 0

        def send(topic: str, event: dict[str, object], key: str | None) -> None:
            nonlocal sent
            producer.send(topics[topic], key=key.encode() if key else None, value=json.dumps(event).encode())
            sent += 1

        for n in range(AGENTS):  # invented agents, all in one queue (named in KPI_CONFIG: never idle)
            send(
                "agents", make_agent_state(f"{run}-agent-{n}", now - 30, "available", "it-support"), f"{run}-agent-{n}"
            )
            send("tickets", make_event("ticket.replied", f"{run}-orphan-{n}", now - 30, agent_id="a"), None)
        for n in range(WAITING):  # contacts all waiting in one queue (named in KPI_CONFIG: never idle)
            send("calls", make_event("contact.queued", f"{run}-wait-{n}", now - 30, queue="it-sales"), None)
        for n in range(2_000):  # invented queues
            send("chats", make_event("contact.queued", f"{run}-q-{n}", now - 30, queue=f"it-invented-{n}"), None)
        send(
            "agents",
            {**make_agent_state(f"{run}-many", now - 30, "busy"), "queues": [f"q{n}" for n in range(100_000)]},
            None,
        )
        producer.flush()

        processed_total = "contact_centre_events_processed_total"

        def accounted() -> bool:
            counts = worker.metrics()
            done = sum(
                v
                for (name, labels), v in counts.items()
                if name in (processed_total, "contact_centre_events_invalid_total")
                and dict(labels)["topic"] in topics.values()
            )
            return done >= sent

        wait_for(accounted, timeout=240, interval=2)
        # Beyond the bounds: contacts waiting in one queue, agents of one queue; the later stages
        # may still be working through them.
        expected_drops = {"queues": WAITING - MAX_WAITING, "presence": AGENTS - MAX_AGENTS_PER_QUEUE}
        dropped: dict[str, float] = {}

        def all_dropped() -> bool:
            dropped.update(
                {
                    dict(labels)["table"]: value
                    for (name, labels), value in worker.metrics().items()
                    if name == "contact_centre_state_limit_dropped_total"
                }
            )
            return dropped == expected_drops

        try:
            wait_for(all_dropped, timeout=120, interval=2)
        except BaseException:
            pytest.fail(f"dropped {dropped}, expected {expected_drops}")
        waiting = series("contact_centre_contacts_waiting", queue="it-sales", channel="voice")
        metrics = worker.metrics()
        assert metrics.get(waiting) == MAX_WAITING
        invalid = series("contact_centre_events_invalid_total", topic=topics["agents"], reason="invalid_field")
        assert metrics.get(invalid, 0) >= 1  # the state with 100,000 queues
        over_queues = metrics.get(series("contact_centre_queue_limit_dropped_total", table="queues"), 0)
        assert over_queues > 0

        def invented_forgotten() -> bool:
            return not any(
                dict(labels).get("queue", "").startswith("it-invented-")
                for (name, labels), _ in worker.metrics().items()
            )

        wait_for(invented_forgotten, timeout=90, interval=2)
        later = time.time()
        for kind, ts in (("contact.queued", later - 20), ("contact.answered", later - 5)):
            send("calls", make_event(kind, f"{run}-real", ts, queue="it-real-after", agent_id="a"), f"{run}-real")
        producer.flush()
        producer.close()
        answered = series("contact_centre_contacts_answered", queue="it-real-after", channel="voice", window="15m")
        wait_for(lambda: worker.metrics().get(answered) == 1, timeout=60)

        assert worker.process.poll() is None and worker.get("/healthz")[0] == 200
        errors = [line for line in warnings_in_log(worker) if "[ERROR]" in line or "[CRITICAL]" in line]
        assert errors == []
        rss = rss_mb(worker)
        print(f"flood: {sent} messages; worker RSS {rss:.0f} MB; dropped {dropped}")
        assert rss < 1024
