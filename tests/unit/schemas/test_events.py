"""schemas.events.decode_event: one model per event type of SPEC §3, validated straight from bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
TS_VALUE = datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=UTC)


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
            {
                "type": "survey.csat",
                "score": 4,
                "queue": "sales",
                "channel": "voice",
                "contact_id": "v-1",
                "agent_id": "agent-7",
            },
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
        (1795342503, datetime(2026, 11, 22, 10, 15, 3, tzinfo=UTC)),
        (1795342503.12, TS_VALUE),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        # a numeric string reads as the number it spells
        ("1795342503", datetime(2026, 11, 22, 10, 15, 3, tzinfo=UTC)),
        ("1795342503.12", TS_VALUE),
        ("1.79534250312e9", TS_VALUE),
        ("+1795342503.12", TS_VALUE),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        # from 1e11 up, milliseconds: as a number or a string
        (1795342503120, TS_VALUE),
        (1795342503120.0, TS_VALUE),
        ("1795342503120", TS_VALUE),
        ("1.79534250312e12", TS_VALUE),
        # the threshold: just below 1e11 is seconds (the year 5138), 1e11 is milliseconds (1973)
        (99_999_999_999, datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC)),
        ("99999999999", datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC)),
        (100_000_000_000, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),
        ("100000000000", datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),
        (1e11, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),
        # the last millisecond a datetime holds
        (253_402_300_799_999, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
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


@pytest.mark.parametrize(
    "ts",
    [
        True,
        False,
        "soon",
        None,
        {"epoch": 1},
        [1795342503],
        " 1795342503",
        "1795342503 ",
        "1_795_342_503",
        "0x6B02C9A7",
        "1795342503s",
        "1e3.5",
        "--1",
        "",
        "inf",
        "nan",
        "Infinity",
        "1e400",
        "-1e400",
        "1" * 65,
    ],
)
def test_timestamp_of_wrong_type_is_rejected(ts: Any) -> None:
    with pytest.raises(ValidationError):
        decode_event(encode(type="contact.abandoned", contact_id="v-1", ts=ts))


@pytest.mark.parametrize("ts", [1e17, 1e19, -1e19, 253_402_300_800_000, 10**400, "1" * 64])
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


# --------------------------------------------------------------------------- bounds of every string and list


def _contact(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"contact.{kind}", "contact_id": "v-1", **fields}


def _agent_state(**fields: Any) -> dict[str, Any]:
    return {"type": "agent.state", "agent_id": "a", "queues": [], "state": "busy", **fields}


#: (event without the field, the field, its longest valid value); one character more is invalid.
STRING_BOUNDS: list[tuple[dict[str, Any], str, str]] = [
    (_contact("abandoned"), "event_id", "e" * 128),
    (_contact("abandoned"), "contact_id", "c" * 128),
    (_contact("queued", queue="sales"), "previous_contact_id", "p" * 128),
    (_contact("ended"), "previous_contact_id", "p" * 128),
    ({"type": "ticket.created", "contact_id": "t-1", "queue": "support"}, "previous_contact_id", "p" * 128),
    (_contact("queued", queue="sales"), "customer_id", "k" * 128),
    ({"type": "ticket.created", "contact_id": "t-1", "queue": "support"}, "customer_id", "k" * 128),
    (_contact("queued"), "queue", "q" * 64),
    (_contact("abandoned"), "queue", "q" * 64),
    (_contact("answered"), "agent_id", "a" * 128),
    ({"type": "ticket.replied", "contact_id": "t-1"}, "agent_id", "a" * 128),
    ({"type": "survey.csat", "score": 5, "queue": "q"}, "agent_id", "a" * 128),
    ({"type": "survey.esat", "score": 5, "queue": "q"}, "agent_id", "a" * 128),
    ({"type": "survey.csat", "score": 5, "queue": "q"}, "contact_id", "c" * 128),
    ({"type": "survey.nps", "score": 5}, "queue", "q" * 64),
    ({"type": "agent.state", "queues": [], "state": "busy"}, "agent_id", "a" * 128),
    (_contact("wrapped", resolved=True), "disposition", "d" * 256),
    (_contact("abandoned"), "ts", "1" * 64),  # a string ts is at most 64 characters (here, ms in 1e63)
]


@pytest.mark.parametrize(("event", "field", "longest"), STRING_BOUNDS)
def test_string_at_its_bound_is_accepted_one_more_is_not(event: dict[str, Any], field: str, longest: str) -> None:
    if field == "ts":
        with pytest.raises(ValidationError) as caught:  # 64 digits are allowed, but lie beyond the year 9999
            decode_event(encode(**event, ts=longest))
        assert "years 1-9999" in caught.value.errors()[0]["msg"]
    else:
        assert getattr(decode_event(encode(**{**event, field: longest})), field) == longest
    with pytest.raises(ValidationError) as caught:
        decode_event(encode(**{**event, field: longest + longest[0]}))
    error = caught.value.errors()[0]
    assert error["loc"][1:] == (field,)
    assert error["type"] in ("string_too_long", "value_error")


@pytest.mark.parametrize(
    ("queues", "valid"),
    [
        ([], True),
        (["q"] * 200, True),  # repeats are allowed: the bound is on entries
        ([f"q{n}" for n in range(200)], True),
        ([f"q{n}" for n in range(201)], False),
        (["q" * 64], True),
        (["q" * 65], False),
        ([""], False),
        (["sales", "sales eu"], False),
        (["sales", 7], False),
    ],
)
def test_agent_queue_list_bounds(queues: list[Any], valid: bool) -> None:
    message = encode(**_agent_state(queues=queues))
    if valid:
        assert decode_event(message).queues == queues  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError) as caught:
            decode_event(message)
        assert caught.value.errors()[0]["loc"][1] == "queues"


def test_too_many_queues_is_too_long() -> None:
    with pytest.raises(ValidationError) as caught:
        decode_event(encode(**_agent_state(queues=["q"] * 201)))
    assert caught.value.errors()[0]["type"] == "too_long"


@pytest.mark.parametrize(
    ("channel", "valid"),
    [("voice", True), ("chat", True), ("ticket", True), ("Voice", False), ("email", False), ("", False), (1, False)],
)
def test_survey_channel_values(channel: Any, valid: bool) -> None:
    message = encode(type="survey.nps", score=9, queue="q", channel=channel)
    if valid:
        assert decode_event(message).channel == channel  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError):
            decode_event(message)


@pytest.mark.parametrize(
    ("hold", "error"),
    [
        (0, None),
        (86400, None),  # one day
        (86400.001, "less_than_equal"),
        (-0.001, "greater_than_equal"),
        (float("inf"), "finite_number"),  # json.dumps writes Infinity, which the parser takes
        (float("-inf"), "finite_number"),
        (float("nan"), "finite_number"),
        ("inf", "finite_number"),
        ("1e400", "finite_number"),
    ],
)
def test_hold_seconds_is_finite_and_at_most_a_day(hold: Any, error: str | None) -> None:
    message = encode(**_contact("ended", hold_seconds=hold))
    if error is None:
        assert decode_event(message).hold_seconds == hold  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError) as caught:
            decode_event(message)
        assert caught.value.errors()[0]["type"] == error


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"Infinity", b"-Infinity", b"NaN", b"1e309"])
@pytest.mark.parametrize("field", ["hold_seconds", "score", "ts"])
def test_non_finite_numbers_are_rejected(literal: bytes, field: str) -> None:
    fields = {"event_id": "e-1", "ts": TS, **_contact("ended")}
    if field == "score":
        fields = {"event_id": "e-1", "ts": TS, "type": "survey.csat", "queue": "q"}
    fields.pop(field, None)
    message = json.dumps(fields).encode()[:-1] + b', "' + field.encode() + b'": ' + literal + b"}"
    with pytest.raises(ValidationError) as caught:
        decode_event(message)
    assert caught.value.errors()[0]["loc"][1:] == (field,)


# --------------------------------------------------------------------------- repeated keys


@pytest.mark.parametrize(
    "message",
    [
        b'{"event_id":"e-1","ts":0,"type":"contact.queued","contact_id":"v-1","queue":"q","type":"contact.abandoned"}',
        b'{"event_id":"e-1","ts":0,"type":"contact.abandoned","contact_id":"v-1","contact_id":"v-1"}',  # same value
        b'{"event_id":"e-1","ts":0,"type":"contact.abandoned","contact_id":"v-1" , "contact_id" :"v-2"}',
        b'{"event_id":"e-1","ts":0,"type":"contact.abandoned","contact_id":"v-1","\\u0063ontact_id":"v-2"}',
        b'{"event_id":"e-1","ts":0,"type":"contact.abandoned","contact_id":"v-1","x":1,"x":2}',  # unknown key
        b'{"event_id":"e-1","ts":0,"type":"contact.abandoned","contact_id":"v-1","x":[{"y":1,"y":2}]}',  # nested
    ],
)
def test_repeated_key_is_rejected(message: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_event(message)
    assert caught.value.errors()[0]["type"] == "duplicate_key"


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
