"""Delivery delay and arrival order never change a KPI (SPEC §3): a backlog read after an
outage, a batch of minutes-old events, contact records sent when contacts end and a backlog re-read
after kill -9 all give the KPIs SPEC §4 computes from the events' own timestamps (late_scenario.Truth);
an event that nothing kept can hold any more is counted late and dead-lettered."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from stream.config.connection import KafkaConnection
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import LOADED, Worker, new_topics, running_worker, wait_for
from tests.integration.events import make_event
from tests.integration.late_scenario import (
    Message,
    Truth,
    build_scenario,
    in_time_order,
    record_order,
    seconds,
)
from tests.integration.test_crash_recovery import differences, processed, unread, warnings_in_log

pytestmark = pytest.mark.integration

INPUTS = ("calls", "chats", "tickets", "surveys", "agents")
#: Per key of the compared documents, the absolute tolerance when it is not 1e-9: the oldest wait is
#: recomputed from /api/kpis's ``generated_at``, which has microseconds.
TOLERANCE = {"oldest_waiting_seconds": 1e-3}
#: What a key missing from /api/kpis reads as, so it shows among the differences.
MISSING = "<missing from /api/kpis>"


def fresh_topics(broker: EmbeddedBroker) -> dict[str, str]:
    """Topics of one test, the inputs created as a worker would (4 partitions), so that messages
    produced before any worker runs are spread over partitions too."""
    topics = new_topics(f"late-{uuid.uuid4().hex[:8]}")
    create_topics(KafkaConnection(broker.bootstrap), [topics[name] for name in INPUTS], 4)
    return topics


def produce_all(producer: KafkaProducer, topics: dict[str, str], messages: Sequence[Message]) -> None:
    for message in messages:
        producer.send(topics[message.topic], key=message.key, value=message.value)
    producer.flush()


def observed(worker: Worker, queues: Collection[str]) -> tuple[float, dict[str, Any]]:
    """The instant /api/kpis was made at and, for ``queues``, what it says in Truth.view's form."""
    status, body = worker.get("/api/kpis")
    assert status == 200, body
    document = json.loads(body)
    view: dict[str, Any] = {}
    for entry in document["queues"]:
        if entry["queue"] in queues:
            windows = {name: window["kpis"] for name, window in entry["windows"].items()}
            view[f"{entry['queue']}/{entry['channel']}"] = {
                "contacts_waiting": entry["contacts_waiting"],
                "oldest_waiting_seconds": entry["oldest_waiting_seconds"],
                **windows,
            }
    for entry in document["agents"]:
        if entry["queue"] in queues:
            view[f"agents/{entry['queue']}"] = entry["states"]
    return seconds(document["generated_at"]), view


def mismatches(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Where ``actual`` differs from ``expected`` (numbers within tolerance are equal), as paths;
    a KPI that /api/kpis has and the truth does not compare is left out."""
    return differences(_like(actual, expected), expected)


def _like(actual: Any, expected: Any, key: str = "") -> Any:
    if isinstance(actual, dict) and isinstance(expected, dict):
        if expected and all(not isinstance(value, dict) for value in expected.values()):  # one window's KPIs
            return {name: _like(actual.get(name, MISSING), value, name) for name, value in expected.items()}
        return {name: _like(value, expected.get(name), name) for name, value in actual.items()}
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (actual, expected))
    if numbers and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=TOLERANCE.get(key, 1e-9)):
        return expected
    return actual


def settle(worker: Worker, truth: Truth, queues: Collection[str], what: str, timeout: float = 90) -> None:
    """Wait until /api/kpis for ``queues`` equals ``truth`` at the instant it was made; fail naming
    every KPI that still differs."""
    last: list[str] = []

    def equal() -> bool:
        now, view = observed(worker, queues)
        last[:] = mismatches(view, truth.view(now, queues))
        return not last

    try:
        wait_for(equal, timeout=timeout, interval=1)
    except pytest.fail.Exception:
        pytest.fail(
            "\n".join(
                [
                    f"{what}: /api/kpis differs from the KPIs of the events' own timestamps (path: worker != truth):",
                    *last[:40],
                    f"... {len(last)} differences in all",
                    "input not yet committed:",
                    *unread(worker),
                    "worker's warnings:",
                    *warnings_in_log(worker)[-20:],
                ]
            )
        )


def counted(worker: Worker, metric: str) -> dict[str, float]:
    """A per-topic counter's non-zero values, by topic."""
    return {
        dict(labels)["topic"]: value for (name, labels), value in worker.metrics().items() if name == metric and value
    }


def assert_nothing_late(worker: Worker) -> None:
    late = counted(worker, "contact_centre_events_late_total")
    assert not late, f"events of the last 12 minutes counted late: {late}"


def read_at_least(worker: Worker, count: float) -> float | None:
    """Input messages the worker has read, once they are ``count`` or more."""
    read = processed(worker)
    return read if read >= count else None


def read_dead_letters(worker: Worker, values: Collection[bytes], timeout: float = 30) -> list[ConsumerRecord]:
    """The dead-letter messages whose value is one of ``values``, once all are there (or ``timeout``)."""
    consumer = KafkaConsumer(
        worker.topics["deadletter"], bootstrap_servers=worker.bootstrap, auto_offset_reset="earliest"
    )
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(values) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found += [record for record in records if record.value in values]
    finally:
        consumer.close()
    return found


def test_a_backlog_after_an_outage_and_a_late_batch_count_as_if_on_time(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path: Path
) -> None:
    """1. Events of the last 12 minutes produced while no worker runs, then the worker starts.
    2. The running worker then gets a batch of events 30 s to 12 minutes old, in other queues."""
    topics = fresh_topics(broker)
    outage_queues, batch_queues = ("late-out-a", "late-out-b"), ("late-batch-a", "late-batch-b")
    outage = build_scenario(time.time(), outage_queues, seed=1)
    produce_all(producer, topics, in_time_order(outage))
    with running_worker(broker, tmp_path, topics=topics) as worker:
        settle(worker, Truth(outage), outage_queues, "backlog read after an outage of the worker")
        batch = build_scenario(time.time(), batch_queues, seed=2)
        produce_all(producer, topics, in_time_order(batch))
        settle(worker, Truth(batch), batch_queues, "a batch of minutes-old events to a running worker")
        settle(worker, Truth(outage), outage_queues, "the outage's queues, after the batch", timeout=5)
        assert_nothing_late(worker)
        # Agent states are left out: a state repeated is the agent's latest again, not told apart.
        sent_twice: Counter[str] = Counter()
        for message, copies in Counter(outage + batch).items():
            if message.topic != "agents":
                sent_twice[topics[message.topic]] += copies - 1
        assert counted(worker, "contact_centre_events_duplicate_total") == +sent_twice, "duplicates counted per topic"


def test_contact_records_sent_when_contacts_end_count_as_in_order(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path: Path
) -> None:
    """Each contact's (ticket's, agent's) events together once it ends, newest first or shuffled,
    contacts in the order they end: a queueing is up to 12 minutes behind newer events."""
    topics = fresh_topics(broker)
    queues = ("late-record-a", "late-record-b")
    with running_worker(broker, tmp_path, topics=topics) as worker:
        records = build_scenario(time.time(), queues, seed=3)
        produce_all(producer, topics, record_order(records))
        settle(worker, Truth(records), queues, "contact records sent when each contact ends")
        assert_nothing_late(worker)


def test_an_event_before_every_window_is_late_dead_lettered_and_changes_nothing(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path: Path
) -> None:
    """An answer of a contact the worker never held and a survey answer, both two days old, among
    events of the last 12 minutes (first on their partitions)."""
    topics = fresh_topics(broker)
    queues = ("late-old-a", "late-old-b")
    with running_worker(broker, tmp_path, topics=topics) as worker:
        scenario = build_scenario(time.time(), queues, seed=4)
        stale = time.time() - 2 * 86400
        answered = make_event("contact.answered", "late-old-ghost", stale, agent_id="late-old-agent")
        csat = make_event("survey.csat", "late-old-ghost-survey", stale, queue=queues[0], channel="voice", score=1)
        late = [
            Message("calls", b"late-old-ghost", json.dumps(answered).encode(), stale, "ghost"),
            Message("surveys", None, json.dumps(csat).encode(), stale, "ghost-survey"),
        ]
        produce_all(producer, topics, in_time_order([*late, *scenario]))
        settle(worker, Truth(scenario), queues, "events of the last 12 minutes among two from two days ago")
        late_counts = {topics["calls"]: 1, topics["surveys"]: 1}
        wait_for(lambda: counted(worker, "contact_centre_events_late_total") == late_counts, timeout=10)
        letters = read_dead_letters(worker, {message.value for message in late})
        assert sorted(letter.value for letter in letters) == sorted(message.value for message in late), (
            "each late message once in the dead-letter topic, unchanged"
        )
        for letter in letters:
            message = next(m for m in late if m.value == letter.value)
            headers = dict(letter.headers)
            assert headers["reason"] == b"late"
            assert headers["source_topic"] == topics[message.topic].encode()
            assert int(headers["source_partition"]) >= 0 and int(headers["source_offset"]) >= 0
            assert headers["detail"]
            assert letter.key == message.key
        settle(worker, Truth(scenario), queues, "after the late events were dead-lettered", timeout=5)


@pytest.mark.machine("busy")  # a large input (tests/conftest.py)
def test_kill_9_while_reading_a_backlog_then_restart_counts_each_event_once(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path: Path
) -> None:
    """A backlog of about 40,000 events of the last 12 minutes (with duplicates); the worker is
    killed -9 while reading it, and started again with the same app id, topics and directory.
    The backlog is large enough that a worker on a quiet machine is still reading it when the
    first fifth has been counted."""
    topics = fresh_topics(broker)
    queues = ("late-crash-a", "late-crash-b", "late-crash-c", "late-crash-d")
    backlog = build_scenario(time.time(), queues, seed=5, contacts=1200)
    produce_all(producer, topics, in_time_order(backlog))
    app_id = f"it-late-crash-{uuid.uuid4().hex[:8]}"
    with running_worker(broker, tmp_path, app_id=app_id, topics=topics, **LOADED) as crashing:
        progress = wait_for(lambda: read_at_least(crashing, 0.2 * len(backlog)), timeout=60, interval=0.05)
        crashing.kill()
    assert progress < len(backlog), f"the backlog of {len(backlog)} was read before the kill: nothing tested"
    with running_worker(broker, tmp_path, app_id=app_id, topics=topics, **LOADED) as restarted:
        settle(restarted, Truth(backlog), queues, f"restarted after kill -9 at {progress:.0f} of {len(backlog)} events")
        assert_nothing_late(restarted)
        print(
            f"killed after {progress:.0f} of {len(backlog)} input messages; the restarted worker read "
            f"{processed(restarted):.0f} again"
        )
