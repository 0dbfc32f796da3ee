"""schemas.events.decode_event: one model per event type of SPEC §3, validated straight from bytes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    AgentState,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactQueued,
    ContactWrapped,
    SurveyCes,
    SurveyCsat,
    SurveyEsat,
    SurveyNps,
    TicketCreated,
    TicketReopened,
    TicketReplied,
    TicketSolved,
    decode_event,
)

TS = "2026-11-22T10:15:03.120Z"
#: The same instant as TS.
TS_VALUE = datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=timezone.utc)


def encode(**fields: Any) -> bytes:
    return json.dumps({"event_id": "e-1", "ts": TS, **fields}).encode()


# --------------------------------------------------------------------------- one valid example per type


@pytest.mark.parametrize(
    ("fields", "model", "expected"),
    [
        (
            {"type": "contact.queued", "contact_id": "v-1", "queue": "sales", "customer_id": "cust-1"},
            ContactQueued,
            {"contact_id": "v-1", "queue": "sales", "customer_id": "cust-1"},
        ),
        ({"type": "contact.queued", "contact_id": "v-1", "queue": "sales"}, ContactQueued, {"customer_id": None}),
        (
            {"type": "contact.answered", "contact_id": "v-1", "agent_id": "agent-7"},
            ContactAnswered,
            {"agent_id": "agent-7", "queue": None},
        ),
        ({"type": "contact.abandoned", "contact_id": "v-1"}, ContactAbandoned, {"contact_id": "v-1"}),
        (
            {"type": "contact.ended", "contact_id": "v-1", "hold_seconds": 42.5},
            ContactEnded,
            {"hold_seconds": 42.5},
        ),
        ({"type": "contact.ended", "contact_id": "v-1"}, ContactEnded, {"hold_seconds": None}),
        (
            {"type": "contact.wrapped", "contact_id": "v-1", "resolved": True, "disposition": "sale"},
            ContactWrapped,
            {"resolved": True, "disposition": "sale"},
        ),
        (
            {"type": "ticket.created", "contact_id": "t-1", "queue": "support", "customer_id": "cust-2"},
            TicketCreated,
            {"queue": "support", "customer_id": "cust-2"},
        ),
        (
            {"type": "ticket.replied", "contact_id": "t-1", "agent_id": "agent-3"},
            TicketReplied,
            {"agent_id": "agent-3", "public": True},  # public defaults to true
        ),
        (
            {"type": "ticket.replied", "contact_id": "t-1", "agent_id": "agent-3", "public": False},
            TicketReplied,
            {"public": False},
        ),
        ({"type": "ticket.solved", "contact_id": "t-1"}, TicketSolved, {"contact_id": "t-1"}),
        ({"type": "ticket.reopened", "contact_id": "t-1"}, TicketReopened, {"contact_id": "t-1"}),
        (
            {"type": "survey.csat", "score": 4, "queue": "sales", "channel": "voice", "contact_id": "v-1",
             "agent_id": "agent-7"},  # fmt: skip
            SurveyCsat,
            {"score": 4, "queue": "sales", "channel": "voice", "contact_id": "v-1", "agent_id": "agent-7"},
        ),
        (
            {"type": "survey.nps", "score": 9, "queue": "sales", "channel": "chat"},
            SurveyNps,
            {"score": 9, "channel": "chat"},
        ),
        (
            {"type": "survey.ces", "score": 7, "queue": "support", "channel": "ticket"},
            SurveyCes,
            {"score": 7, "channel": "ticket"},
        ),
        ({"type": "survey.ces", "score": 3, "queue": "support"}, SurveyCes, {"channel": None}),
        (
            {"type": "survey.esat", "score": 8, "queue": "support", "agent_id": "agent-3"},
            SurveyEsat,
            {"score": 8, "agent_id": "agent-3"},
        ),
        (
            {"type": "agent.state", "agent_id": "agent-3", "queues": ["sales", "support"], "state": "available"},
            AgentState,
            {"agent_id": "agent-3", "queues": ["sales", "support"], "state": "available"},
        ),
    ],
)
def test_valid_event_of_every_type(fields: dict[str, Any], model: type, expected: dict[str, Any]) -> None:
    event = decode_event(encode(**fields))
    assert type(event) is model
    assert event.event_id == "e-1"
    assert event.type == fields["type"]
    assert event.ts == TS_VALUE
    for name, value in expected.items():
        assert getattr(event, name) == value, name


@pytest.mark.parametrize("state", ["available", "busy", "wrapup", "away", "offline"])
def test_every_agent_state(state: str) -> None:
    event = decode_event(encode(type="agent.state", agent_id="a", queues=[], state=state))
    assert isinstance(event, AgentState) and event.state == state


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "agent.state", "agent_id": "a", "queues": ["sales"], "state": "lunch"},
        {"type": "agent.state", "agent_id": "a", "queues": "sales", "state": "busy"},
        {"type": "agent.state", "agent_id": "a", "queues": ["bad queue"], "state": "busy"},
        {"type": "agent.state", "queues": ["sales"], "state": "busy"},
        {"type": "survey.csat", "score": 5, "queue": "sales", "channel": "email"},  # channel voice|chat|ticket
        {"type": "survey.csat", "score": 5},  # queue required on surveys
        {"type": "survey.nps", "queue": "sales"},  # score required
        {"type": "ticket.created", "contact_id": "t-1"},  # queue required on ticket.created
        {"type": "ticket.replied", "contact_id": "t-1", "agent_id": "a", "public": "no"},
        {"type": "ticket.solved"},  # contact_id required
        {"type": "contact.wrapped", "contact_id": "v-1", "resolved": "true"},  # a string is not a bool
        {"type": "contact.ended", "contact_id": "v-1", "hold_seconds": -0.1},
    ],
)
def test_invalid_events(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        decode_event(encode(**fields))


# --------------------------------------------------------------------------- score ranges


@pytest.mark.parametrize(
    ("survey", "score", "valid"),
    [
        # survey.csat: 1-5
        ("csat", 0, False),
        ("csat", 1, True),
        ("csat", 5, True),
        ("csat", 6, False),
        # survey.nps: 0-10
        ("nps", -1, False),
        ("nps", 0, True),
        ("nps", 10, True),
        ("nps", 11, False),
        # survey.ces: 1-7
        ("ces", 0, False),
        ("ces", 1, True),
        ("ces", 7, True),
        ("ces", 8, False),
        # survey.esat: 0-10
        ("esat", -1, False),
        ("esat", 0, True),
        ("esat", 10, True),
        ("esat", 11, False),
    ],
)
def test_score_range(survey: str, score: int, valid: bool) -> None:
    message = encode(type=f"survey.{survey}", score=score, queue="sales")
    if valid:
        assert decode_event(message).score == score  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError) as caught:
            decode_event(message)
        assert caught.value.errors()[0]["type"] in ("greater_than_equal", "less_than_equal")


@pytest.mark.parametrize("score", [4.5, "four", None, [5]])
def test_score_must_be_an_integer(score: Any) -> None:
    with pytest.raises(ValidationError):
        decode_event(encode(type="survey.csat", score=score, queue="sales"))


@pytest.mark.parametrize("survey", ["csat", "nps", "ces", "esat"])
def test_boolean_score_is_ill_typed(survey: str) -> None:
    """SPEC §3: an ill-typed field is invalid. JSON `true` is not a score, but the lax int
    validation turns it into 1 (a CSAT of 1, an NPS detractor, ...)."""
    with pytest.raises(ValidationError):
        decode_event(encode(type=f"survey.{survey}", score=True, queue="sales"))


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (TS, TS_VALUE),
        ("2026-11-22T10:15:03.120+00:00", TS_VALUE),
        ("2026-11-22T11:15:03.120+01:00", TS_VALUE),
        ("2026-11-22T05:15:03.120-05:00", TS_VALUE),
        # epoch seconds: 2026-11-22T10:15:03Z = 1795342503
        (1795342503, datetime(2026, 11, 22, 10, 15, 3, tzinfo=timezone.utc)),
        (1795342503.12, TS_VALUE),
        (0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_with_offset_or_epoch(ts: Any, expected: datetime) -> None:
    event = decode_event(encode(type="contact.abandoned", contact_id="v-1", ts=ts))
    assert event.ts.utcoffset() is not None
    assert abs(event.ts - expected) < timedelta(microseconds=5)


@pytest.mark.parametrize("ts", ["2026-11-22T10:15:03.120", "2026-11-22T10:15:03", "2026-11-22 10:15:03"])
def test_timestamp_without_offset_is_rejected(ts: str) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_event(encode(type="contact.abandoned", contact_id="v-1", ts=ts))
    assert caught.value.errors()[0]["type"] == "timezone_aware"


@pytest.mark.parametrize("ts", [True, False, "soon", None, {"epoch": 1}])
def test_timestamp_of_wrong_type_is_rejected(ts: Any) -> None:
    with pytest.raises(ValidationError):
        decode_event(encode(type="contact.abandoned", contact_id="v-1", ts=ts))


@pytest.mark.parametrize("ts", [1e17, 1e19, -1e19])
def test_absurd_epoch_number_raises_validation_error(ts: float) -> None:
    """decode_event promises a pydantic ValidationError for bad input; a huge epoch number
    currently escapes as OSError/OverflowError from datetime.fromtimestamp instead."""
    with pytest.raises(ValidationError):
        decode_event(encode(type="contact.abandoned", contact_id="v-1", ts=ts))


# --------------------------------------------------------------------------- common fields


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("event_id", "x", True),
        ("event_id", "x" * 128, True),
        ("event_id", "x" * 129, False),
        ("event_id", "", False),
        ("queue", "q" * 64, True),
        ("queue", "q" * 65, False),
        ("queue", "Sales_EU-2.vip", True),
        ("queue", "sales/eu", False),
        ("queue", "sales eu", False),
        ("queue", "ventes-é", False),
    ],
)
def test_field_lengths_and_patterns(field: str, value: str, valid: bool) -> None:
    fields = {"event_id": "e-1", "ts": TS, "type": "contact.queued", "contact_id": "v-1", "queue": "sales"}
    fields[field] = value
    message = json.dumps(fields).encode()
    if valid:
        assert getattr(decode_event(message), field) == value
    else:
        with pytest.raises(ValidationError):
            decode_event(message)


def test_unknown_fields_are_ignored() -> None:
    event = decode_event(encode(type="contact.abandoned", contact_id="v-1", reason="hung up", ivr={"path": [1, 2]}))
    assert isinstance(event, ContactAbandoned)
    assert not hasattr(event, "reason")


def test_events_are_immutable() -> None:
    event = decode_event(encode(type="contact.abandoned", contact_id="v-1"))
    with pytest.raises(ValidationError):
        event.contact_id = "other"  # type: ignore[misc]


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        decode_event(encode(type="contact.transferred", contact_id="v-1"))
    assert caught.value.errors()[0]["type"] == "union_tag_invalid"
