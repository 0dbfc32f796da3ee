"""A scripted call and chat scenario through the real broker and worker, read back from /metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.integration.conftest import Worker, read_topic, wait_for
from tests.integration.events import make_event, produce
from tests.integration.scrape import series

pytestmark = pytest.mark.integration


def test_call_and_chat_kpis_match_hand_computed_values(worker: Worker, producer: KafkaProducer) -> None:
    queue = "it-sales"  # service level 30 s, short abandon 5 s, wait alert 45 s (see conftest)
    calls, chats = worker.topics["calls"], worker.topics["chats"]
    base = time.time() - 120
    duplicates_before = worker.metrics().get(series("contact_centre_events_duplicate_total", topic=calls), 0.0)

    c1 = [  # waits 10 s (within 30 s), handle 80 - 10 = 70 s
        make_event("contact.queued", "c1", base, queue=queue, customer_id="k1"),
        make_event("contact.answered", "c1", base + 10, agent_id="a1"),
        make_event("contact.ended", "c1", base + 70),
        make_event("contact.wrapped", "c1", base + 80, resolved=True),
    ]
    # Waits 40 s (outside 30 s), handle 100 - 40 = 60 s; delivered out of order.
    c2_queued = make_event("contact.queued", "c2", base, queue=queue)
    c2_answered = make_event("contact.answered", "c2", base + 40, agent_id="a2")
    c2_ended = make_event("contact.ended", "c2", base + 90)
    c2_wrapped = make_event("contact.wrapped", "c2", base + 100, resolved=False)
    c3 = [  # short
        make_event("contact.queued", "c3", base + 5, queue=queue),
        make_event("contact.abandoned", "c3", base + 8),
    ]
    c4 = [make_event("contact.queued", "c4", base + 5, queue=queue), make_event("contact.abandoned", "c4", base + 25)]
    c5 = [make_event("contact.queued", "c5", base + 50, queue=queue)]  # still waiting
    chat = [
        make_event("contact.queued", "h1", base, queue=queue),
        make_event("contact.answered", "h1", base + 6, agent_id="a3"),
    ]

    for event in c1 + c3 + c4 + c5:
        produce(producer, calls, event, event["contact_id"].encode())
    produce(producer, calls, c1[1], b"c1")  # the same event again: a duplicate
    # Keyed arbitrarily (or not at all): the worker must repartition by contact itself.
    for event in (c2_wrapped, c2_answered, c2_queued, c2_ended):
        produce(producer, calls, event, uuid.uuid4().bytes if event is not c2_queued else None)
    for event in chat:
        produce(producer, chats, event, None)
    producer.flush()

    voice = {"queue": queue, "channel": "voice"}

    def settled() -> dict[Any, float] | None:
        # Contacts travel through different partitions: wait until every one has arrived.
        metrics = worker.metrics()
        arrived = {
            series("contact_centre_contacts_offered", **voice, window="15m"): 5,
            series("contact_centre_wait_seconds_count", **voice): 4,
            series("contact_centre_handle_seconds_count", **voice): 2,
            series("contact_centre_contacts_waiting", **voice): 1,
            series("contact_centre_contacts_answered", queue=queue, channel="chat", window="15m"): 1,
        }
        return metrics if all(metrics.get(key) == count for key, count in arrived.items()) else None

    metrics = wait_for(settled, timeout=60)
    for window in ("15m", "1h"):
        expected = {
            "contact_centre_contacts_offered": 5,
            "contact_centre_contacts_answered": 2,
            "contact_centre_contacts_abandoned": 2,  # c3 (short) and c4
            "contact_centre_average_wait_seconds": 25.0,  # (10 + 40) / 2
            "contact_centre_max_wait_seconds": 40.0,
            "contact_centre_service_level_ratio": 1 / 3,  # c1 / (2 answered + 2 abandoned - 1 short)
            "contact_centre_abandon_ratio": 1 / 3,  # (2 abandoned - 1 short) / 3
            "contact_centre_average_handle_seconds": 65.0,  # (70 + 60) / 2
        }
        for name, value in expected.items():
            assert metrics[series(name, **voice, window=window)] == pytest.approx(value, abs=1e-6), (name, window)

    chat_labels = {"queue": queue, "channel": "chat", "window": "15m"}
    assert metrics[series("contact_centre_average_wait_seconds", **chat_labels)] == pytest.approx(6.0)
    assert metrics[series("contact_centre_service_level_ratio", **chat_labels)] == 1.0
    assert metrics[series("contact_centre_abandon_ratio", **chat_labels)] == 0.0
    # No chat was wrapped: a mean without data is absent, not 0.
    assert series("contact_centre_average_handle_seconds", **chat_labels) not in metrics

    assert metrics[series("contact_centre_contacts_waiting", **voice)] == 1
    oldest = metrics[series("contact_centre_oldest_waiting_seconds", **voice)]
    assert 70 <= oldest < 70 + (time.time() - (base + 120)) + 1  # c5 queued at base + 50

    assert metrics[series("contact_centre_wait_threshold_seconds", **voice)] == 45
    assert metrics[series("contact_centre_service_level_target_ratio", **voice)] == 0.8
    assert metrics[series("contact_centre_kpi_target", **voice, kpi="abandon_ratio")] == 0.25
    assert metrics[series("contact_centre_kpi_target_met", **voice, window="15m", kpi="abandon_ratio")] == 0.0
    assert metrics[series("contact_centre_kpi_target_met", **voice, window="15m", kpi="average_wait_seconds")] == 1.0

    assert metrics[series("contact_centre_wait_seconds_count", **voice)] == 4
    assert metrics[series("contact_centre_wait_seconds_sum", **voice)] == pytest.approx(10 + 40 + 3 + 20, abs=0.01)
    assert metrics[series("contact_centre_wait_seconds_bucket", **voice, le="30.0")] == 3  # 10, 3 and 20
    assert metrics[series("contact_centre_handle_seconds_count", **voice)] == 2
    duplicates = metrics[series("contact_centre_events_duplicate_total", topic=calls)] - duplicates_before
    assert duplicates == 1


def test_quiet_queue_decays_as_the_waiting_contact_ages(worker: Worker, producer: KafkaProducer) -> None:
    queue = "it-quiet"
    produce(producer, worker.topics["calls"], make_event("contact.queued", "q1", time.time() - 30, queue=queue), b"q1")
    producer.flush()
    labels = {"queue": queue, "channel": "voice"}
    oldest = series("contact_centre_oldest_waiting_seconds", **labels)
    first = wait_for(lambda: worker.metrics().get(oldest))
    # No new events, yet the gauge moves with the clock.
    wait_for(lambda: worker.metrics()[oldest] >= first + 2, timeout=10)
    assert series("contact_centre_average_wait_seconds", **labels, window="15m") not in worker.metrics()


def test_invalid_message_goes_to_dead_letter_with_reason(worker: Worker, producer: KafkaProducer) -> None:
    calls = worker.topics["calls"]
    reason = series("contact_centre_events_invalid_total", topic=calls, reason="no_timezone")
    before = worker.metrics().get(reason, 0.0)
    bad = json.dumps(
        {"event_id": "x1", "type": "contact.queued", "ts": "2026-11-22T10:15:03", "contact_id": "x1", "queue": "q"}
    ).encode()
    producer.send(calls, key=b"x1", value=bad)
    producer.flush()
    wait_for(lambda: worker.metrics().get(reason, 0.0) == before + 1)

    dead = read_topic(worker.bootstrap, worker.topics["deadletter"], lambda read: any(m.value == bad for m in read))
    letters = [m for m in dead if m.value == bad]
    assert len(letters) == 1
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["source_topic"] == calls
    assert headers["reason"] == "no_timezone"
    assert "timezone" in headers["detail"]
    assert letters[0].key == b"x1"


def test_worker_refuses_a_partition_count_that_differs_from_its_topics(worker: Worker, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    app_id = worker.topics["calls"].split(".")[0]  # the session worker's KPI_APP_ID, topics made with 4 partitions
    env.update(
        KPI_BROKER="kafka://" + worker.bootstrap, KPI_APP_ID=app_id, KPI_PARTITIONS="6", KPI_DATA_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [sys.executable, "-m", "stream", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"topic {app_id}-contact-events has 4 partitions but KPI_PARTITIONS is 6" in result.stderr


def test_a_delayed_event_counts_and_one_before_every_window_is_late(worker: Worker, producer: KafkaProducer) -> None:
    """Ten minutes' delay changes nothing: the contact counts in the 15m window. A contact dated two
    days ago (before every window, never seen) is counted in ..._late_total and measured nowhere."""
    calls = worker.topics["calls"]
    late = series("contact_centre_events_late_total", topic=calls)
    before = worker.metrics().get(late, 0.0)
    now = time.time()
    for kind, ts in (("contact.queued", now - 600), ("contact.abandoned", now - 590)):
        produce(producer, calls, make_event(kind, "delayed-1", ts, queue="it-delayed"), b"delayed-1")
    produce(producer, calls, make_event("contact.queued", "late-1", now - 2 * 86400, queue="it-late"), b"late-1")
    producer.flush()
    abandoned = series("contact_centre_contacts_abandoned", queue="it-delayed", channel="voice", window="15m")
    wait_for(lambda: worker.metrics().get(abandoned) == 1)
    wait_for(lambda: worker.metrics().get(late, 0.0) == before + 1)
    metrics = worker.metrics()
    assert not [key for key in metrics if ("queue", "it-late") in key[1]]
