"""The three stages under Faust's ``test_context()``."""

from __future__ import annotations

import json
from typing import Any

from stream.aggregates import QueueState
from stream.app import Pipeline
from stream.contacts import Fact, Lifecycle
from stream.partitioning import partition_for
from tests.agents.conftest import NOW, RecordingProducer


def _agent(pipeline: Pipeline, name: str) -> Any:
    return pipeline.app.agents[name]


def _event(kind: str, contact_id: str, ts: float, **fields: Any) -> bytes:
    return json.dumps({"event_id": f"{contact_id}-{kind}", "type": kind, "ts": ts, "contact_id": contact_id, **fields}).encode()


async def test_ingest_routes_valid_events_by_contact_and_dead_letters_the_rest(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    calls = p.settings.topic_calls
    async with _agent(p, "ingest-voice").test_context() as agent:
        await agent.put(_event("contact.queued", "c1", NOW - 10, queue="sales"), key=b"whatever")
        await agent.put(_event("contact.queued", "c2", NOW - 5, queue="sales"))
        await agent.put(b"{not json")
        await agent.put(_event("contact.queued", "old", NOW - 3600, queue="sales"))  # older than 300 s lateness
    routed = [s for s in producer.sent if s.topic == p.topics.contact_events.get_topic_name()]
    by_contact = {row[2]: s.partition for s in routed for row in json.loads(s.value)}
    assert by_contact == {"c1": partition_for("c1", 4), "c2": partition_for("c2", 4)}
    [letter] = [s for s in producer.sent if s.topic == p.settings.topic_deadletter]
    assert letter.value == b"{not json"
    assert dict(letter.headers)["reason"] == b"not_json"
    registry = p.metrics.registry
    assert registry.get_sample_value("contact_centre_events_invalid_total", {"topic": calls, "reason": "not_json"}) == 1
    assert registry.get_sample_value("contact_centre_events_late_total", {"topic": calls}) == 1
    assert registry.get_sample_value("contact_centre_events_processed_total", {"topic": calls}) == 3


async def test_contacts_agent_applies_out_of_order_batch_once_and_emits_facts(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    queued = Lifecycle("queued", NOW - 60, "c1", "voice", queue="sales")
    answered = Lifecycle("answered", NOW - 50, "c1", "voice")
    async with _agent(p, "contacts").test_context() as agent:
        await agent.put([answered.to_wire(), queued.to_wire(), answered.to_wire()])
    state = p.tables.contacts["c1"]
    assert (state.queued, state.answered, state.queue) == (NOW - 60, NOW - 50, "sales")
    facts = [Fact.from_wire(row) for batch in producer.values_sent_to(p.topics.queue_facts.get_topic_name()) for row in batch]
    assert sorted((f.kind, f.seconds) for f in facts) == [("answered", 10.0), ("offered", 0.0)]
    assert p.metrics.registry.get_sample_value("contact_centre_events_duplicate_total", {"topic": p.settings.topic_calls}) == 1
    # The state's changelog write went to the partition the contact is routed to.
    [changelog] = [s for s in producer.sent if s.topic.endswith("-contacts-changelog")]
    assert changelog.key == b"c1"


async def test_queues_agent_aggregates_a_batch_of_facts(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    p, _ = pipeline
    facts = [
        Fact("offered", "sales", "voice", "c1", NOW - 100),
        Fact("answered", "sales", "voice", "c1", NOW - 90, 10.0),
        Fact("offered", "sales", "voice", "c2", NOW - 80),
        Fact("waiting", "sales", "voice", "c2", NOW - 80),
        Fact("handled", "sales", "voice", "c1", NOW - 30, 60.0),
    ]
    async with _agent(p, "queues").test_context() as agent:
        await agent.put([fact.to_wire() for fact in facts])
    assert isinstance(p.tables.queues["sales/voice"], QueueState)
    [report] = p.reports()
    assert report.waiting.contacts_waiting == 1
    assert report.waiting.oldest_waiting_seconds == 80.0
    kpis = report.windows["15m"]
    assert (kpis["contacts_offered"], kpis["average_wait_seconds"], kpis["average_handle_seconds"]) == (2, 10.0, 60.0)
    labels = {"queue": "sales", "channel": "voice"}
    assert p.metrics.registry.get_sample_value("contact_centre_wait_seconds_count", labels) == 1
    assert p.metrics.registry.get_sample_value("contact_centre_handle_seconds_sum", labels) == 60.0
