"""The stages under Faust's ``test_context()``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.ingest.partitioning import partition_for
from stream.kpi.contacts import ContactState, Lifecycle
from stream.kpi.customers import Visit
from stream.kpi.facts import Fact
from stream.kpi.presence import AgentUpdate, Presence
from stream.kpi.queue_state import QueueState
from stream.kpi.staffing import Staffing
from stream.pipeline.app import Pipeline
from stream.pipeline.exits import EXIT_STAGE_FAILED
from stream.pipeline.expiry import SLICES, Expiry
from stream.pipeline.outbox import MESSAGE_BYTES, encode
from tests.agents.conftest import NOW, RecordingProducer


@asynccontextmanager
async def _running(pipeline: Pipeline, name: str) -> AsyncIterator[Any]:
    """A stage under test; on leaving, the table writes it held are written, as before a commit."""
    async with pipeline.app.agents[name].test_context() as agent:
        yield agent
    pipeline.writes.flush()


@asynccontextmanager
async def _ingesting(pipeline: Pipeline, topic: str) -> AsyncIterator[Any]:
    """The ingest agent under test, its messages read as if from input ``topic``."""
    async with _running(pipeline, "ingest") as agent:
        agent._get_strtopic = lambda channel: topic
        yield agent


def _facts_sent(pipeline: Pipeline, producer: RecordingProducer) -> list[Fact]:
    """Every fact sent to the queue stage, across messages and sections."""
    messages = producer.values_sent_to(pipeline.topics.queue_facts.get_topic_name())
    return [Fact.from_wire(row) for message in messages for section in message for row in section["facts"]]


def _event(kind: str, contact_id: str, ts: float, **fields: Any) -> bytes:
    return json.dumps(
        {"event_id": f"{contact_id}-{kind}", "type": kind, "ts": ts, "contact_id": contact_id, **fields}
    ).encode()


async def test_ingest_routes_valid_events_by_contact_and_dead_letters_the_rest(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    calls = p.settings.topic_calls
    async with _ingesting(p, calls) as agent:
        await agent.put(_event("contact.queued", "c1", NOW - 10, queue="sales"), key=b"whatever")
        await agent.put(_event("contact.queued", "c2", NOW - 5, queue="sales"))
        await agent.put(b"{not json")
        await agent.put(_event("contact.queued", "hour-old", NOW - 3600, queue="sales"))  # any delay is in time
    routed = [s for s in producer.sent if s.topic == p.topics.contact_events.get_topic_name()]
    by_contact = {row[2]: s.partition for s in routed for row in json.loads(s.value)}
    assert by_contact == {c: partition_for(c, 4) for c in ("c1", "c2", "hour-old")}
    [letter] = [s for s in producer.sent if s.topic == p.settings.topic_deadletter]
    assert letter.value == b"{not json"
    assert dict(letter.headers)["reason"] == b"not_json"
    registry = p.metrics.registry
    assert registry.get_sample_value("contact_centre_events_invalid_total", {"topic": calls, "reason": "not_json"}) == 1
    assert registry.get_sample_value("contact_centre_events_late_total", {"topic": calls}) is None
    assert registry.get_sample_value("contact_centre_events_processed_total", {"topic": calls}) == 3


#: Before every default window at NOW (15m, 1h, today): the day before.
BEFORE_EVERY_WINDOW = NOW - 86400


async def test_a_survey_answer_before_every_window_is_late_and_dead_lettered_unchanged(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    surveys = p.settings.topic_surveys
    old = json.dumps(
        {"event_id": "s-old", "type": "survey.csat", "ts": BEFORE_EVERY_WINDOW, "queue": "sales", "score": 5}
    ).encode()
    async with _ingesting(p, surveys) as agent:
        await agent.put(old, key=b"k-1")
        await agent.put(
            json.dumps(
                {"event_id": "s-new", "type": "survey.csat", "ts": NOW - 60, "queue": "sales", "score": 4}
            ).encode()
        )
    assert [f.contact_id for f in _facts_sent(p, producer)] == ["s-new"]
    [letter] = [s for s in producer.sent if s.topic == p.settings.topic_deadletter]
    headers = dict(letter.headers)
    assert (letter.key, letter.value, headers["reason"]) == (b"k-1", old, b"late")
    assert headers["source_topic"] == surveys.encode()
    assert b"before every kept window" in headers["detail"]
    registry = p.metrics.registry
    assert registry.get_sample_value("contact_centre_events_late_total", {"topic": surveys}) == 1
    invalid = {"topic": surveys, "reason": "late"}
    assert registry.get_sample_value("contact_centre_events_invalid_total", invalid) is None


async def test_a_large_late_event_travels_cut_and_is_dead_lettered_saying_so(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    """A valid 780 KB event (unknown fields are ignored) dated before every window goes to the
    contact stage within one internal message; not held there, it is dead-lettered cut."""
    p, producer = pipeline
    big = _event("contact.ended", "unknown", BEFORE_EVERY_WINDOW, padding="x" * 780_000)
    async with _ingesting(p, p.settings.topic_calls) as agent:
        await agent.put(big, key=b"unknown")
    [routed] = [s.value for s in producer.sent if s.topic == p.topics.contact_events.get_topic_name()]
    assert routed is not None and len(routed) <= MESSAGE_BYTES
    producer.sent.clear()
    async with _running(p, "contacts") as agent:
        await agent.put(routed)
    [letter] = [s for s in producer.sent if s.topic == p.settings.topic_deadletter]
    headers = dict(letter.headers)
    assert headers["reason"] == b"late" and headers["truncated"] == b"true"
    assert headers["original_size"] == f"key 7 bytes, value {len(big)} bytes".encode()
    assert letter.value is not None and big.startswith(letter.value)


async def test_a_contact_event_before_every_window_counts_only_for_a_held_contact(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    """Ingest sends it on with its message; the contact stage applies it to a held contact (its
    answer ends the wait) and dead-letters it, as late, for a contact it does not hold."""
    p, producer = pipeline
    calls = p.settings.topic_calls
    p.tables.contacts["held"] = ContactState("voice", "sales", queued=BEFORE_EVERY_WINDOW - 30, changed_at=NOW - 600)
    answered_held = _event("contact.answered", "held", BEFORE_EVERY_WINDOW, agent_id="a-1")
    answered_unknown = _event("contact.answered", "unknown", BEFORE_EVERY_WINDOW, agent_id="a-1")
    async with _ingesting(p, calls) as agent:
        await agent.put(answered_held, key=b"held")
        await agent.put(answered_unknown, key=b"unknown")
    assert [s for s in producer.sent if s.topic == p.settings.topic_deadletter] == []
    messages = [s.value for s in producer.sent if s.topic == p.topics.contact_events.get_topic_name()]
    producer.sent.clear()
    async with _running(p, "contacts") as agent:
        for message in messages:
            await agent.put(message)
    assert p.tables.contacts["held"].answered == BEFORE_EVERY_WINDOW
    assert p.tables.contacts["held"].changed_at == NOW
    assert "unknown" not in p.tables.contacts
    assert [(f.kind, f.contact_id, f.value) for f in _facts_sent(p, producer)] == [("answered", "held", 30.0)]
    [letter] = [s for s in producer.sent if s.topic == p.settings.topic_deadletter]
    headers = dict(letter.headers)
    assert (letter.key, letter.value, headers["reason"], headers["source_topic"]) == (
        b"unknown",
        answered_unknown,
        b"late",
        calls.encode(),
    )
    assert b"its contact or ticket is not held" in headers["detail"]
    assert p.metrics.registry.get_sample_value("contact_centre_events_late_total", {"topic": calls}) == 1


async def test_contacts_agent_applies_out_of_order_batch_once_and_emits_facts(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    queued = Lifecycle("queued", NOW - 60, "c1", "voice", queue="sales")
    answered = Lifecycle("answered", NOW - 50, "c1", "voice")
    async with _running(p, "contacts") as agent:
        await agent.put(encode([answered.to_wire(), queued.to_wire(), answered.to_wire()]))
    state = p.tables.contacts["c1"]
    assert (state.queued, state.answered, state.queue) == (NOW - 60, NOW - 50, "sales")
    facts = _facts_sent(p, producer)
    assert sorted((f.kind, f.value) for f in facts) == [("answered", 10.0), ("offered", 0.0)]
    assert (
        p.metrics.registry.get_sample_value("contact_centre_events_duplicate_total", {"topic": p.settings.topic_calls})
        == 1
    )
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
    async with _running(p, "queues") as agent:
        await agent.put(encode([{"origin": None, "facts": [fact.to_wire() for fact in facts]}]))
    assert isinstance(p.tables.queues["sales/voice"], QueueState)
    [report] = p.reporting.reports()
    assert report.waiting.contacts_waiting == 1
    assert report.waiting.oldest_waiting_seconds == 80.0
    kpis = report.windows["15m"]
    assert (kpis["contacts_offered"], kpis["average_wait_seconds"], kpis["average_handle_seconds"]) == (2, 10.0, 60.0)
    histograms = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(p.metrics.exposition([], []).decode())
        for sample in family.samples
    }
    labels = (("channel", "voice"), ("queue", "sales"))
    assert histograms["contact_centre_wait_seconds_count", labels] == 1
    assert histograms["contact_centre_handle_seconds_sum", labels] == 60.0
    # One message, its delay from being produced to the stage starting on it well under a minute.
    assert histograms["contact_centre_stage_delay_seconds_count", (("stage", "queues"),)] == 1
    assert 0 <= histograms["contact_centre_stage_delay_seconds_sum", (("stage", "queues"),)] < 60
    assert ("contact_centre_stage_delay_seconds_count", (("stage", "ingest"),)) not in histograms


async def test_contacts_agent_sends_ticket_facts_and_visits_by_customer(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    rows = [
        Lifecycle("created", NOW - 600, "t1", "ticket", queue="billing", customer_id="k1").to_wire(),
        Lifecycle("replied", NOW - 300, "t1", "ticket").to_wire(),
        Lifecycle("queued", NOW - 60, "c1", "voice", queue="sales", customer_id="k1").to_wire(),
    ]
    async with _running(p, "contacts") as agent:
        await agent.put(encode(rows))
    assert p.tables.tickets["t1"].replies == (NOW - 300,)
    facts = _facts_sent(p, producer)
    assert sorted((f.kind, f.channel, f.value) for f in facts) == [
        ("first_response", "ticket", 300.0),
        ("offered", "ticket", 0.0),
        ("offered", "voice", 0.0),
        ("waiting", "voice", 0.0),
    ]
    visits = [s for s in producer.sent if s.topic == p.topics.customer_visits.get_topic_name()]
    assert {s.partition for s in visits} == {partition_for("k1", 4)}
    assert sorted(Visit.from_wire(row).contact_id for s in visits for row in json.loads(s.value)) == ["c1", "t1"]


async def test_customers_agent_decides_first_contact_resolution(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    """c2 was wrapped resolved, but k1 had a ticket an hour earlier: not resolved on first contact."""
    p, producer = pipeline
    visits = [
        Visit("k1", "t1", "billing", "ticket", NOW - 3600),
        Visit("k1", "c2", "sales", "voice", NOW - 60, NOW - 10, True),
    ]
    async with _running(p, "customers") as agent:
        await agent.put(encode([visit.to_wire() for visit in visits]))
    facts = _facts_sent(p, producer)
    assert sorted((f.kind, f.contact_id, f.value) for f in facts) == [
        ("fcr", "c2", 0.0),
        ("repeat", "c2", 1.0),
        ("repeat", "t1", 0.0),
    ]
    assert set(p.tables.customers["k1"].visits) == {"t1", "c2"}


async def test_agent_presence_through_both_stages(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    p, producer = pipeline
    updates = [
        AgentUpdate("a1", NOW - 30, "busy", ("sales", "support")),
        AgentUpdate("a1", NOW - 60, "available", ("sales",)),
    ]
    async with _running(p, "agent-states") as agent:
        await agent.put(encode([u.to_wire() for u in updates]))
    assert p.tables.agents["a1"] == updates[0]  # the older update arrived later and changed nothing
    presence_rows = producer.values_sent_to(p.topics.queue_presence.get_topic_name())
    async with _running(p, "presence") as agent:
        for rows in presence_rows:
            await agent.put(encode(rows))
    assert [(r.queue, r.agents["busy"], r.agents["available"]) for r in p.reporting.presence_reports()] == [
        ("sales", 1, 0),
        ("support", 1, 0),
    ]
    # Each queue's staffing goes to the queue stage of its voice and chat, with the origin of the
    # presence message it follows from, so that a re-delivery is skipped there.
    told = producer.values_sent_to(p.topics.queue_facts.get_topic_name())
    sections = [section for message in told for section in message]
    assert {tuple(section["origin"]) for section in sections} == {(p.topics.queue_presence.get_topic_name() + "/0", 0)}
    facts = [Fact.from_wire(row) for section in sections for row in section["facts"]]
    assert sorted((f.kind, f.queue, f.channel, f.value) for f in facts) == [
        (kind, queue, channel, 1.0 if kind == "staffed" else 0.0)
        for kind in ("available", "staffed")
        for queue in ("sales", "support")
        for channel in ("chat", "voice")
    ]
    # Agents alone do not make a queue's channel; once it has contacts, they are its staffing.
    async with _running(p, "queues") as agent:
        for message in told:
            await agent.put(encode(message))
    assert p.reporting.reports() == []
    offered = Fact("offered", "sales", "voice", "c1", NOW - 10)
    async with _running(p, "queues") as agent:
        await agent.put(encode([{"origin": None, "facts": [offered.to_wire()]}]))
        for message in told:
            await agent.put(encode(message))
    [report] = p.reporting.reports()
    assert report.agents == Staffing(1, 0)


async def test_a_key_changed_by_several_batches_is_written_once_when_the_writes_are_flushed(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    available = AgentUpdate("a1", NOW - 60, "available", ("sales",))
    busy = AgentUpdate("a1", NOW - 30, "busy", ("sales",))

    def changelog() -> list[Any]:
        return [s for s in producer.sent if s.topic.endswith("-agents-changelog")]

    async with p.app.agents["agent-states"].test_context() as agent:
        await agent.put(encode([available.to_wire()]))
        await agent.put(encode([busy.to_wire()]))
    assert changelog() == [] and "a1" not in p.tables.agents
    assert p.writes.get(p.tables.agents, "a1") == busy  # what the next batch reads
    assert p.writes.flush() == 1
    [written] = changelog()
    assert written.key == b"a1" and p.tables.agents["a1"] == busy


async def test_ingest_routes_surveys_to_queues_and_agent_states_to_agents(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    p, producer = pipeline
    survey = json.dumps({"event_id": "s1", "type": "survey.csat", "ts": NOW - 5, "queue": "sales", "score": 5}).encode()
    state = json.dumps(
        {"event_id": "g1", "type": "agent.state", "ts": NOW - 5, "agent_id": "a7", "queues": ["sales"], "state": "away"}
    ).encode()
    async with _ingesting(p, p.settings.topic_surveys) as agent:
        await agent.put(survey)
    async with _ingesting(p, p.settings.topic_agents) as agent:
        agent.sent_offset = 41  # the offset of the next message put (Faust's test wrapper)
        await agent.put(state, partition=3)
    [fact_batch] = [s for s in producer.sent if s.topic == p.topics.queue_facts.get_topic_name()]
    assert fact_batch.partition == partition_for("sales/unknown", 4)
    [section] = json.loads(fact_batch.value)
    assert section["origin"] is None  # survey answers are deduplicated by event id
    assert [Fact.from_wire(row) for row in section["facts"]] == [Fact("csat", "sales", "unknown", "s1", NOW - 5, 5.0)]
    [agent_batch] = [s for s in producer.sent if s.topic == p.topics.agent_events.get_topic_name()]
    assert agent_batch.partition == partition_for("a7", 4)
    [row] = json.loads(agent_batch.value)
    update = AgentUpdate.from_wire(row)
    assert update == AgentUpdate("a7", NOW - 5, "away", ("sales",), (3, 41))  # its partition and offset in the input


async def test_queues_agent_counts_a_redelivered_origin_once(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    """The contact stage processed the same input message twice (a crash before its commit): the
    second copy of its facts carries the same origin and is skipped."""
    p, _ = pipeline
    section = {
        "origin": ["contact-events/2", 7],
        "facts": [
            Fact("offered", "sales", "voice", "c1", NOW - 100).to_wire(),
            Fact("answered", "sales", "voice", "c1", NOW - 90, 10.0).to_wire(),
        ],
    }
    later = {"origin": ["contact-events/2", 8], "facts": [Fact("offered", "sales", "voice", "c2", NOW - 50).to_wire()]}
    async with _running(p, "queues") as agent:
        # A batch of the contact stage carries a section per input message; replayed, it may be cut differently.
        for value in ([section], [section, later], [section]):
            await agent.put(encode(value))
    [report] = p.reporting.reports()
    assert (report.windows["15m"]["contacts_offered"], report.windows["15m"]["contacts_answered"]) == (2, 1)
    redelivered = p.metrics.registry.get_sample_value(
        "contact_centre_facts_redelivered_total", {"topic": p.topics.queue_facts.get_topic_name()}
    )
    assert redelivered == 4  # two facts, skipped twice


async def test_contacts_agent_tags_facts_with_the_input_message(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    p, producer = pipeline
    async with _running(p, "contacts") as agent:
        await agent.put(encode([Lifecycle("queued", NOW - 60, "c9", "voice", queue="sales").to_wire()]))
    [[section]] = producer.values_sent_to(p.topics.queue_facts.get_topic_name())
    topic, offset = section["origin"]
    assert topic.startswith(p.topics.contact_events.get_topic_name() + "/") and isinstance(offset, int)


@pytest.mark.parametrize("pipeline", [{"max_queues": 2}], indirect=True)
async def test_a_flood_of_queue_names_stops_at_the_limit(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    """With KPI_MAX_QUEUES=2 the third and later new keys are dropped and counted."""
    p, _ = pipeline
    facts = [Fact("offered", f"spam-{n}", "voice", f"c{n}", NOW - 10).to_wire() for n in range(5)]
    async with _running(p, "queues") as agent:
        for fact in facts:
            await agent.put(encode([{"origin": None, "facts": [fact]}]))
        # A queue already kept still takes new facts.
        await agent.put(
            encode([{"origin": None, "facts": [Fact("offered", "spam-0", "voice", "c9", NOW - 5).to_wire()]}])
        )
    assert sorted(r.queue for r in p.reporting.reports()) == ["spam-0", "spam-1"]
    assert p.reporting.reports()[0].windows["15m"]["contacts_offered"] == 2
    dropped = p.metrics.registry.get_sample_value("contact_centre_queue_limit_dropped_total", {"table": "queues"})
    assert dropped == 3


@pytest.mark.parametrize("pipeline", [{"max_queues": 2}], indirect=True)
async def test_standby_copies_of_other_workers_queues_do_not_count_toward_the_limit(
    pipeline: tuple[Pipeline, RecordingProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """This worker owns the partitions of queues named mine-*; it holds standby copies of three
    other queues. Two of its own still fit under KPI_MAX_QUEUES=2, a third does not."""
    p, _ = pipeline
    for n in range(3):
        p.tables.queues[f"standby-{n}/voice"] = QueueState(active_at=NOW)
    monkeypatch.setattr(p.ownership, "of", lambda topic: lambda key: key.startswith("mine-"))
    facts = [Fact("offered", f"mine-{n}", "voice", f"c{n}", NOW - 10).to_wire() for n in range(3)]
    async with _running(p, "queues") as agent:
        for fact in facts:
            await agent.put(encode([{"origin": None, "facts": [fact]}]))
    assert sorted(key for key in p.tables.queues.keys() if key.startswith("mine-")) == ["mine-0/voice", "mine-1/voice"]
    dropped = p.metrics.registry.get_sample_value("contact_centre_queue_limit_dropped_total", {"table": "queues"})
    assert dropped == 1


@pytest.mark.parametrize("pipeline", [{"max_queues": 2}], indirect=True)
async def test_agent_presence_stops_at_the_queue_limit_within_one_batch(
    pipeline: tuple[Pipeline, RecordingProducer],
) -> None:
    """Presence keys are written at the end of a batch; the limit still holds inside it."""
    p, _ = pipeline
    rows = [Presence(f"spam-{n}", "a1", "busy", NOW - 10).to_wire() for n in range(5)]
    async with _running(p, "presence") as agent:
        await agent.put(encode(rows))
    assert sorted(r.queue for r in p.reporting.presence_reports()) == ["spam-0", "spam-1"]
    dropped = p.metrics.registry.get_sample_value("contact_centre_queue_limit_dropped_total", {"table": "presence"})
    assert dropped == 3


async def test_a_backlog_batch_goes_out_in_messages_kafka_accepts(pipeline: tuple[Pipeline, RecordingProducer]) -> None:
    """A batch of a backlog yields more facts than one Kafka message may hold (about 1 MB): they
    leave in several messages under the limit, and the queue stage counts every contact once,
    even when all the messages are delivered twice."""
    p, producer = pipeline
    calls = 20_000
    rows = [
        row
        for n in range(calls)
        for row in (
            Lifecycle(
                "queued", NOW - 3000 + n * 0.1, f"contact-{n:05d}", "voice", queue=f"queue-{n % 40:02d}"
            ).to_wire(),
            Lifecycle("answered", NOW - 2990 + n * 0.1, f"contact-{n:05d}", "voice").to_wire(),
        )
    ]
    async with _running(p, "contacts") as agent:
        await agent.put(encode(rows))
    messages = [s for s in producer.sent if s.topic == p.topics.queue_facts.get_topic_name()]
    limit = p.app.conf.producer_max_request_size
    assert sum(len(message.value) for message in messages) > limit
    assert max(len(message.value) for message in messages) <= min(MESSAGE_BYTES, limit)
    async with _running(p, "queues") as agent:
        for message in messages * 2:
            await agent.put(message.value, partition=message.partition)
    reports = p.reporting.reports()
    assert len(reports) == 40
    assert sum(r.windows["1h"]["contacts_offered"] for r in reports) == calls
    assert sum(r.windows["1h"]["contacts_answered"] for r in reports) == calls


async def test_a_stage_that_fails_on_a_batch_exits_before_saving_it(
    pipeline: tuple[Pipeline, RecordingProducer], monkeypatch: pytest.MonkeyPatch, worker_exits: list[tuple[int, str]]
) -> None:
    """Faust would restart the agent and acknowledge the batch; the worker exits instead, with the
    state unsaved, so a restart processes the batch again."""
    p, producer = pipeline

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broker said no")

    monkeypatch.setattr(p.app.producer, "send", refused)
    async with _running(p, "contacts") as agent:
        await agent.put(encode([Lifecycle("queued", NOW - 60, "c1", "voice", queue="sales").to_wire()]))
    [(status, message)] = worker_exits
    worker_exits.clear()
    assert status == EXIT_STAGE_FAILED
    assert "stage contacts failed on a batch of 1 messages" in message and "broker said no" in message
    assert p.tables.contacts.get("c1") is None


#: A contact that ended long enough ago to expire.
#: Processed just over a day (KPI_DEDUPE_SECONDS) ago, two hours after it happened.
ENDED_LONG_AGO = ContactState("voice", "sales", queued=NOW - 93600, abandoned=NOW - 93500, changed_at=NOW - 86401)


@pytest.fixture()
def healthy(
    pipeline: tuple[Pipeline, RecordingProducer], monkeypatch: pytest.MonkeyPatch
) -> tuple[Pipeline, RecordingProducer]:
    """The pipeline, consuming as far as expiry can tell (it skips a worker that is not)."""
    monkeypatch.setattr(pipeline[0].health, "problem", lambda: None)
    return pipeline


def expiry_of(p: Pipeline) -> Expiry:
    return Expiry(p.tables, p.writes, p.retention, p.clock, p.owner_of, p.health.problem)


async def test_expiry_holds_its_deletions_and_sees_held_states(healthy: tuple[Pipeline, RecordingProducer]) -> None:
    p, producer = healthy
    contacts = p.tables.contacts
    contacts["old"] = ENDED_LONG_AGO
    # two days old, but read only a minute ago: a duplicate must still find it
    contacts["read-late"] = ContactState(
        "voice", "sales", queued=NOW - 172800, abandoned=NOW - 172790, changed_at=NOW - 60
    )
    p.writes.put(contacts, "held-old", ENDED_LONG_AGO)  # not written to the table yet
    producer.sent.clear()

    expiry = expiry_of(p)
    for _ in range(SLICES):  # a round
        expiry.tick()
    assert producer.sent == []  # nothing written at once: deletions are held like any write
    assert p.writes.get(contacts, "old") is None and p.writes.get(contacts, "held-old") is None
    assert [key for key, _ in p.writes.items(contacts, lambda key: True)] == ["read-late"]

    p.writes.flush()
    assert sorted(contacts.keys()) == ["read-late"]
    changelog = [s for s in producer.sent if s.topic == contacts.changelog_topic.get_topic_name()]
    assert [(s.key, s.value) for s in changelog] == [(b"old", None)]  # "held-old" never reached the table


async def test_expiry_visits_a_slice_of_the_keys_per_tick(healthy: tuple[Pipeline, RecordingProducer]) -> None:
    p, _ = healthy
    contacts = p.tables.contacts
    for n in range(3 * SLICES):
        contacts[f"c{n}"] = ENDED_LONG_AGO  # as recovered from the changelog at the start
    expiry = expiry_of(p)
    expiry.tick()
    assert len(p.writes.items(contacts, lambda key: True)) == 3 * SLICES - 3
    p.writes.put(contacts, "late-comer", ENDED_LONG_AGO)  # as a stage writes
    expiry.tick()  # a key a stage wrote is visited at the next tick, as well as the pass's slice
    assert len(p.writes.items(contacts, lambda key: True)) == 3 * SLICES - 6
    for _ in range(SLICES - 2):  # the rest of the pass
        expiry.tick()
    assert p.writes.items(contacts, lambda key: True) == []
