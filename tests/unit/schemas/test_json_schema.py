"""schemas.json_schema: the JSON Schemas in docs/schemas are the ones generated from the event models,
and they agree with the models and with what ingest makes of an event (stream.ingest.decoding).

Schemas are checked as most validators check them, with ``format`` an annotation only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from referencing import Registry, Resource

from schemas import decode_event
from schemas.json_schema import ANY_EVENT, event_types, example, render
from stream.config.settings import Settings
from stream.ingest.decoding import Rejected, Source, decode
from stream.pipeline.topics import input_topic_of
from stream.tools.simulator import Simulation, SimulationConfig

SCHEMA_DIR = Path(__file__).parents[3] / "docs" / "schemas"
TYPES = {event_type.name: event_type for event_type in event_types()}
SCHEMAS = {name: json.loads((SCHEMA_DIR / f"{name}.json").read_text()) for name in TYPES}
ANY = json.loads((SCHEMA_DIR / ANY_EVENT).read_text())
REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in [*SCHEMAS.values(), ANY]
)
#: Default topic names: what each input topic carries.
SOURCE_OF: dict[str, Source] = {topic: source for source, topic in input_topic_of(Settings.model_construct()).items()}
#: The processor's clock in these tests: 2026-11-22 12:00 UTC, after every example's ts.
WALL_NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()


ANY_VALIDATOR = jsonschema.Draft202012Validator(ANY, registry=REGISTRY)
VALIDATORS = {name: jsonschema.Draft202012Validator(schema) for name, schema in SCHEMAS.items()}


def schema_errors(document: Any) -> list[str]:
    """Why the schema of any event refuses ``document`` (none: it accepts it)."""
    return [error.message for error in ANY_VALIDATOR.iter_errors(document)]


def source_of(document: Any) -> Source:
    """The input topic's content where ``document`` belongs (calls, for anything without a known type)."""
    event_type = TYPES.get(document.get("type")) if isinstance(document, dict) else None
    return SOURCE_OF[event_type.topics[0]] if event_type is not None else "voice"


def event(event_type: str, **changes: Any) -> dict[str, Any]:
    """The example event of ``event_type`` with ``changes``; a change to ``...`` removes the field."""
    document = example(event_type) | changes
    return {field: value for field, value in document.items() if value is not ...}


def raw(document: Any) -> bytes:
    return json.dumps(document).encode()


# --------------------------------------------------------------------------- the files


def test_the_committed_schemas_are_the_generated_ones() -> None:
    generated = render()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.iterdir()}
    assert sorted(committed) == sorted(generated), "run: python -m schemas.json_schema docs/schemas"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is out of date; run: python -m schemas.json_schema docs/schemas"


@pytest.mark.parametrize("schema", [*SCHEMAS.values(), ANY], ids=[*SCHEMAS, ANY_EVENT])
def test_each_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


def test_there_is_a_schema_for_every_event_type_and_the_union_names_them_all() -> None:
    assert set(ANY["properties"]["type"]["enum"]) == set(TYPES) == {schema["title"] for schema in SCHEMAS.values()}
    assert len(TYPES) == 14


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_example_is_valid_and_accepted_on_its_topics_only(name: str) -> None:
    (document,) = SCHEMAS[name]["examples"]
    VALIDATORS[name].validate(document)
    assert schema_errors(document) == []
    assert decode_event(raw(document)).type == name
    for topic, source in SOURCE_OF.items():
        outcome = decode(raw(document), source, WALL_NOW)
        if topic in TYPES[name].topics:
            assert not isinstance(outcome, Rejected), (topic, outcome)
        else:
            assert isinstance(outcome, Rejected) and outcome.reason == "wrong_topic", topic


# --------------------------------------------------------------------------- the simulator's events


def test_every_event_the_simulator_produces_is_valid_against_its_schema() -> None:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
    simulation = Simulation(SimulationConfig(), start=start, seed=20261204)
    emitted = [item for minute in range(1, 61) for item in simulation.advance(start + 60 * minute)]
    seen: set[str] = set()
    for source, document in emitted:
        name = document["type"]
        VALIDATORS[name].validate(document)
        if name not in seen:  # the union's schema once per type: it costs four times as much
            assert schema_errors(document) == []
            seen.add(name)
        assert source in {SOURCE_OF[topic] for topic in TYPES[name].topics}, (source, name)
    assert seen == set(TYPES), f"an hour of simulation lacks {sorted(set(TYPES) - seen)}"


# --------------------------------------------------------------------------- schemas and models agree

LONG = "x" * 129

#: (raw message, the dead-letter reason ingest gives): refused by the schema and by the models.
INVALID: dict[str, tuple[bytes, str]] = {
    # missing required fields
    "no event_id": (raw(event("contact.queued", event_id=...)), "missing_field"),
    "no ts": (raw(event("contact.answered", ts=...)), "missing_field"),
    "no type": (raw(event("contact.queued", type=...)), "missing_field"),
    "no contact_id": (raw(event("ticket.solved", contact_id=...)), "missing_field"),
    "no queue on contact.queued": (raw(event("contact.queued", queue=...)), "missing_field"),
    "no agent_id on contact.answered": (raw(event("contact.answered", agent_id=...)), "missing_field"),
    "no resolved": (raw(event("contact.wrapped", resolved=...)), "missing_field"),
    "no queue on a survey": (raw(event("survey.nps", queue=...)), "missing_field"),
    "no score": (raw(event("survey.csat", score=...)), "missing_field"),
    "no queues": (raw(event("agent.state", queues=...)), "missing_field"),
    # not an event at all
    "an array": (b'[{"type": "contact.queued"}]', "not_object"),
    "a number": (b"5", "not_object"),
    # unknown event type
    "unknown type": (raw(event("contact.queued", type="contact.transferred")), "unknown_type"),
    "type of another case": (raw(event("contact.queued", type="Contact.Queued")), "unknown_type"),
    # wrong types
    "event_id a number": (raw(event("contact.queued", event_id=42)), "invalid_field"),
    "contact_id a number": (raw(event("contact.abandoned", contact_id=43)), "invalid_field"),
    "queue null": (raw(event("contact.queued", queue=None)), "invalid_field"),
    "customer_id a number": (raw(event("ticket.created", customer_id=7)), "invalid_field"),
    "resolved a string": (raw(event("contact.wrapped", resolved="true")), "invalid_field"),
    "resolved a number": (raw(event("contact.wrapped", resolved=1)), "invalid_field"),
    "public null": (raw(event("ticket.replied", public=None)), "invalid_field"),
    "score a string": (raw(event("survey.csat", score="5")), "invalid_field"),
    "score a boolean": (raw(event("survey.ces", score=True)), "invalid_field"),
    "hold_seconds a word": (raw(event("contact.ended", hold_seconds="long")), "invalid_field"),
    "queues a string": (raw(event("agent.state", queues="sales")), "invalid_field"),
    "state unknown": (raw(event("agent.state", state="lunch")), "invalid_field"),
    "channel unknown": (raw(event("survey.ces", channel="email")), "invalid_field"),
    "ts a boolean": (raw(event("survey.nps", ts=True)), "invalid_field"),
    # out of range
    "csat 0": (raw(event("survey.csat", score=0)), "out_of_range"),
    "csat 6": (raw(event("survey.csat", score=6)), "out_of_range"),
    "nps -1": (raw(event("survey.nps", score=-1)), "out_of_range"),
    "nps 11": (raw(event("survey.nps", score=11)), "out_of_range"),
    "ces 0": (raw(event("survey.ces", score=0)), "out_of_range"),
    "ces 8": (raw(event("survey.ces", score=8)), "out_of_range"),
    "esat 11": (raw(event("survey.esat", score=11)), "out_of_range"),
    "hold_seconds negative": (raw(event("contact.ended", hold_seconds=-1)), "out_of_range"),
    "hold_seconds over a day": (raw(event("contact.ended", hold_seconds=86400.5)), "out_of_range"),
    # timestamps
    "ts without offset": (raw(event("contact.queued", ts="2026-11-22T10:15:03.120")), "no_timezone"),
    "ts a date": (raw(event("contact.queued", ts="2026-11-22")), "no_timezone"),
    "ts a word": (raw(event("contact.queued", ts="yesterday")), "invalid_field"),
    "ts offset of hours only": (raw(event("contact.queued", ts="2026-11-22T10:15:03+01")), "invalid_field"),
    "ts hour 24": (raw(event("contact.queued", ts="2026-11-22T24:00:00Z")), "invalid_field"),
    "ts too long": (raw(event("contact.queued", ts="2026-11-22T10:15:03." + "1" * 50 + "Z")), "invalid_field"),
    "ts infinite": (raw(event("contact.queued", ts=0)).replace(b'"ts": 0', b'"ts": 1e400'), "invalid_field"),
    "ts after year 9999": (raw(event("contact.queued", ts=253402300800000)), "invalid_field"),
    # bounds of strings and lists
    "event_id empty": (raw(event("contact.queued", event_id="")), "invalid_field"),
    "event_id too long": (raw(event("contact.queued", event_id=LONG)), "invalid_field"),
    "contact_id empty": (raw(event("contact.answered", contact_id="")), "invalid_field"),
    "customer_id too long": (raw(event("contact.queued", customer_id=LONG)), "invalid_field"),
    "queue with a space": (raw(event("contact.queued", queue="sales team")), "invalid_field"),
    "queue too long": (raw(event("ticket.created", queue="q" * 65)), "invalid_field"),
    "queue on a later event": (raw(event("contact.abandoned", queue="sales/uk")), "invalid_field"),
    "disposition too long": (raw(event("contact.wrapped", disposition="d" * 257)), "invalid_field"),
    "queues too many": (raw(event("agent.state", queues=[f"q{n}" for n in range(201)])), "invalid_field"),
    "queues with an empty name": (raw(event("agent.state", queues=["sales", ""])), "invalid_field"),
}


@pytest.mark.parametrize(("message", "reason"), INVALID.values(), ids=INVALID)
def test_what_a_schema_refuses_the_models_refuse(message: bytes, reason: str) -> None:
    assert schema_errors(json.loads(message))
    with pytest.raises(ValidationError):
        decode_event(message)
    outcome = decode(message, source_of(json.loads(message)), WALL_NOW)
    assert isinstance(outcome, Rejected) and outcome.reason == reason, outcome


#: Valid events at the edges of what the schemas allow: accepted by the schema and by ingest.
VALID: dict[str, dict[str, Any]] = {
    "an unknown field": event("contact.queued", channel_hint="ivr", priority=3),
    "a field of another type": event("ticket.solved", queue="support", resolved=True),
    "optional fields null": event("contact.queued", customer_id=None, previous_contact_id=None),
    "survey fields null": event("survey.csat", channel=None, contact_id=None, agent_id=None),
    "the lowest score": event("survey.nps", score=0),
    "the highest score": event("survey.ces", score=7),
    "hold_seconds zero": event("contact.ended", hold_seconds=0),
    "hold_seconds a day": event("contact.ended", hold_seconds=86400),
    "no queues": event("agent.state", queues=[]),
    "an empty disposition": event("contact.wrapped", disposition=""),
    "a queue of every allowed character": event("contact.queued", queue="Sales_UK-2.voice"),
    "ts with an offset": event("contact.queued", ts="2026-11-22T15:45:03.120+05:30"),
    "ts without a fraction": event("contact.queued", ts="2026-11-22T10:15:03-00:00"),
    "ts in nanoseconds": event("contact.queued", ts="2026-11-22T10:15:03.123456789Z"),
    "ts epoch seconds": event("contact.queued", ts=1795342503),
    "ts epoch seconds with a fraction": event("contact.queued", ts=1795342503.12),
    "ts epoch milliseconds": event("contact.queued", ts=1795342503120),
    "ts epoch in a string": event("contact.queued", ts="1795342503.12"),
    "ts the epoch": event("survey.esat", ts=0),
}


@pytest.mark.parametrize("document", VALID.values(), ids=VALID)
def test_what_a_schema_accepts_the_models_accept(document: dict[str, Any]) -> None:
    assert schema_errors(document) == []
    assert decode_event(raw(document)).type == document["type"]
    assert not isinstance(decode(raw(document), source_of(document), WALL_NOW), Rejected)


#: Refused by a schema and by ingest, though the models read them: ingest refuses dates before 1970.
BEFORE_1970 = {
    "ts a negative epoch": event("contact.queued", ts=-1),
    "ts in 1969": event("contact.queued", ts="1969-12-31T23:59:59Z"),
}


@pytest.mark.parametrize("document", BEFORE_1970.values(), ids=BEFORE_1970)
def test_dates_before_1970_are_refused_by_the_schemas_and_by_ingest(document: dict[str, Any]) -> None:
    assert schema_errors(document)
    decode_event(raw(document))
    outcome = decode(raw(document), source_of(document), WALL_NOW)
    assert isinstance(outcome, Rejected) and outcome.reason == "out_of_range"


#: What each schema's description says it does not express: accepted by the schema, refused by ingest.
NOT_EXPRESSED: dict[str, tuple[bytes, Source | None, str]] = {
    "a ts more than a day ahead": (raw(event("contact.queued", ts=WALL_NOW + 86400 + 1)), None, "future_timestamp"),
    "a date that does not exist": (raw(event("contact.queued", ts="2026-02-30T10:00:00Z")), None, "invalid_field"),
    "a key named twice": (
        b'{"event_id": "e-1", "type": "survey.nps", "ts": 1795342503, "queue": "a", "queue": "b", "score": 9}',
        None,
        "duplicate_key",
    ),
    "the wrong topic": (raw(event("contact.queued")), "survey", "wrong_topic"),
    "a score with a fraction": (raw(event("survey.csat", score=5.0)), None, "invalid_field"),
}


@pytest.mark.parametrize(("message", "source", "reason"), NOT_EXPRESSED.values(), ids=NOT_EXPRESSED)
def test_what_the_schemas_say_they_do_not_express(message: bytes, source: Source | None, reason: str) -> None:
    document = json.loads(message)
    assert schema_errors(document) == []
    outcome = decode(message, source or source_of(document), WALL_NOW)
    assert isinstance(outcome, Rejected) and outcome.reason == reason, outcome


#: What each schema's description says the processor also reads: refused by the schema, read by ingest.
ALSO_READ = {
    "ts with a space for T": event("contact.queued", ts="2026-11-22 10:15:03Z"),
    "ts in lower case": event("contact.queued", ts="2026-11-22t10:15:03z"),
    "ts with an offset of four digits": event("contact.queued", ts="2026-11-22T10:15:03+0100"),
    "ts with a comma": event("contact.queued", ts="2026-11-22T10:15:03,120Z"),
    "ts without seconds": event("contact.queued", ts="2026-11-22T10:15Z"),
    "ts an epoch string with an exponent": event("contact.queued", ts="1.795342503e9"),
    "ts an epoch string with a sign": event("contact.queued", ts="+1795342503"),
    "hold_seconds in a string": event("contact.ended", hold_seconds="30"),
}


@pytest.mark.parametrize("document", ALSO_READ.values(), ids=ALSO_READ)
def test_what_the_schemas_say_the_processor_also_reads(document: dict[str, Any]) -> None:
    assert schema_errors(document)
    assert not isinstance(decode(raw(document), source_of(document), WALL_NOW), Rejected)
