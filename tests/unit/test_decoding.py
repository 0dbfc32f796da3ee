"""stream.decoding.decode: raw call/chat message -> Lifecycle or Rejected(reason) (SPEC §3)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from stream.contacts import Lifecycle
from stream.decoding import Rejected
from stream.decoding import decode as decode_source

#: 2026-11-22 10:00:00 UTC = 1795341600 epoch seconds; used as "now" throughout.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc).timestamp()


def raw(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def queued(**overrides: Any) -> bytes:
    """A valid contact.queued one minute before NOW (09:59:00Z), with fields overridden or removed (None)."""
    event: dict[str, Any] = {
        "event_id": "e-1",
        "type": "contact.queued",
        "ts": "2026-11-22T09:59:00Z",
        "contact_id": "v-1",
        "queue": "sales",
        "customer_id": "cust-1",
    }
    event.update(overrides)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def decode(message: bytes, channel: str = "voice") -> Lifecycle | Rejected:
    return decode_source(message, channel, NOW)  # type: ignore[arg-type,return-value]


def contact(kind: str, **fields: Any) -> bytes:
    return raw(event_id="e-2", type=f"contact.{kind}", ts="2026-11-22T09:59:30Z", contact_id="v-1", **fields)


# --------------------------------------------------------------------------- reason codes


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        # not_json: bytes that are not JSON at all
        (b"{not json", "not_json"),
        (b"", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b'{"type": "contact.queued",', "not_json"),  # truncated
        (b"contact.queued", "not_json"),
        # not_object: valid JSON but not an object
        (b"[1, 2]", "not_object"),
        (b"[]", "not_object"),
        (b'"contact.queued"', "not_object"),
        (b"42", "not_object"),
        (b"null", "not_object"),
        (b"true", "not_object"),
        # unknown_type
        (raw(event_id="e", type="contact.transferred", ts=NOW, contact_id="v-1"), "unknown_type"),
        (queued(type="CONTACT.QUEUED"), "unknown_type"),  # type names are case-sensitive
        (queued(type=""), "unknown_type"),
        (queued(type=5), "unknown_type"),
        # missing_field
        (b"{}", "missing_field"),  # no type at all
        (queued(type=None), "missing_field"),
        (queued(event_id=None), "missing_field"),
        (queued(ts=None), "missing_field"),
        (queued(contact_id=None), "missing_field"),
        (queued(queue=None), "missing_field"),  # queue is required on contact.queued
        (contact("answered"), "missing_field"),  # agent_id is required on contact.answered
        (contact("wrapped"), "missing_field"),  # resolved is required on contact.wrapped
        # invalid_field: present but ill-typed or malformed
        (queued(event_id=""), "invalid_field"),  # 1-128 chars
        (queued(event_id="x" * 129), "invalid_field"),
        (queued(event_id=42), "invalid_field"),  # a number is not a string
        (queued(contact_id=""), "invalid_field"),
        (queued(queue="sales/eu"), "invalid_field"),  # [A-Za-z0-9_.-] only
        (queued(queue="sales queue"), "invalid_field"),
        (queued(queue=""), "invalid_field"),
        (queued(queue="q" * 65), "invalid_field"),  # 1-64 chars
        (queued(customer_id=7), "invalid_field"),
        (queued(ts="yesterday"), "invalid_field"),
        (queued(ts=True), "invalid_field"),  # a bool is not epoch seconds
        (queued(ts=[NOW]), "invalid_field"),
        (contact("wrapped", resolved="yes"), "invalid_field"),  # resolved must be a JSON bool
        (contact("wrapped", resolved=1), "invalid_field"),
        (contact("answered", agent_id=""), "invalid_field"),
        (contact("ended", hold_seconds="long"), "invalid_field"),
        # out_of_range: hold_seconds >= 0 is the one range check on a call/chat event
        (contact("ended", hold_seconds=-1), "out_of_range"),
        # no_timezone: an ISO timestamp without offset
        (queued(ts="2026-11-22T09:59:00"), "no_timezone"),
        (queued(ts="2026-11-22T09:59:00.120"), "no_timezone"),
        (queued(ts="2026-11-22 09:59:00"), "no_timezone"),
        # future_timestamp: more than one day (86400 s) ahead of NOW
        (queued(ts=NOW + 86400.001), "future_timestamp"),
        (queued(ts="2026-11-23T10:00:01Z"), "future_timestamp"),
        (queued(ts="2027-01-01T00:00:00+01:00"), "future_timestamp"),
        # wrong_topic: a valid event of another kind on a call/chat topic
        (raw(event_id="e", type="ticket.created", ts=NOW, contact_id="t-1", queue="sales"), "wrong_topic"),
        (raw(event_id="e", type="ticket.replied", ts=NOW, contact_id="t-1", agent_id="a-1"), "wrong_topic"),
        (raw(event_id="e", type="ticket.solved", ts=NOW, contact_id="t-1"), "wrong_topic"),
        (raw(event_id="e", type="ticket.reopened", ts=NOW, contact_id="t-1"), "wrong_topic"),
        (raw(event_id="e", type="survey.csat", ts=NOW, queue="sales", score=5), "wrong_topic"),
        (raw(event_id="e", type="survey.nps", ts=NOW, queue="sales", score=10), "wrong_topic"),
        (raw(event_id="e", type="survey.ces", ts=NOW, queue="sales", score=7), "wrong_topic"),
        (raw(event_id="e", type="survey.esat", ts=NOW, queue="sales", score=0), "wrong_topic"),
        (raw(event_id="e", type="agent.state", ts=NOW, agent_id="a-1", queues=["sales"], state="busy"), "wrong_topic"),
    ],
)
def test_rejection_reason(message: bytes, reason: str) -> None:
    result = decode(message)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.detail  # a human-readable sentence for the dead-letter record


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (queued(queue=None), "queue"),
        (queued(event_id=""), "event_id"),
        (queued(ts="2026-11-22T09:59:00"), "ts"),
        (contact("ended", hold_seconds=-1), "hold_seconds"),
        (contact("wrapped", resolved="yes"), "resolved"),
    ],
)
def test_rejection_detail_names_the_field(message: bytes, field: str) -> None:
    result = decode(message)
    assert isinstance(result, Rejected)
    assert result.detail.startswith(f"{field}: ")


def test_wrong_topic_detail_names_type_and_channel() -> None:
    result = decode(raw(event_id="e", type="ticket.solved", ts=NOW, contact_id="t-1"), "chat")
    assert result == Rejected("wrong_topic", "type 'ticket.solved' does not belong on the chat topic")


def test_invalid_survey_on_a_call_topic_is_out_of_range() -> None:
    """Validation comes before the topic check: a survey with score 6 fails as out of range."""
    result = decode(raw(event_id="e", type="survey.csat", ts=NOW, queue="sales", score=6))
    assert isinstance(result, Rejected) and result.reason == "out_of_range"


@pytest.mark.parametrize(
    "ts",
    [
        1e17,  # ~3 billion years ahead: datetime.fromtimestamp raises OSError
        1e19,  # raises OverflowError
        -1e19,
        1e300,
    ],
)
def test_absurd_epoch_timestamp_is_rejected_not_raised(ts: float) -> None:
    """SPEC §3: invalid input is never dropped silently and never stops the worker.

    A huge epoch number must come back as a Rejected (like 1e12, which is rejected as invalid_field),
    not escape decode as an exception that would crash the ingest agent.
    """
    result = decode(queued(ts=ts))
    assert isinstance(result, Rejected)
    assert result.reason in ("invalid_field", "future_timestamp")


def test_epoch_beyond_year_9999_is_invalid_field() -> None:
    """1e12 s is in the year 33658, which a datetime cannot hold."""
    result = decode(queued(ts=1e12))
    assert isinstance(result, Rejected) and result.reason == "invalid_field"


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        # epoch seconds (number) and ISO-8601 with offset all give the same instant: NOW - 60
        (1795341540, 1795341540.0),
        (1795341540.0, 1795341540.0),
        ("2026-11-22T09:59:00Z", 1795341540.0),
        ("2026-11-22T09:59:00+00:00", 1795341540.0),
        ("2026-11-22T10:59:00+01:00", 1795341540.0),  # Warsaw winter time
        ("2026-11-22T04:59:00-05:00", 1795341540.0),
        ("2026-11-22T09:59:00.120Z", 1795341540.12),
        (1795341540.5, 1795341540.5),
    ],
)
def test_timestamp_forms(ts: Any, expected: float) -> None:
    result = decode(queued(ts=ts))
    assert isinstance(result, Lifecycle)
    assert result.ts == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("ts", "outcome"),
    [
        (NOW, "accepted"),
        (NOW - 300.5, "accepted"),  # delivery delay is no reason to refuse an event (SPEC §3)
        (NOW - 86400 * 365, "accepted"),
        (NOW + 86400, "accepted"),  # exactly one day ahead: allowed
        (NOW + 86400.5, "future"),
        (NOW + 3600, "accepted"),
    ],
)
def test_only_the_future_is_refused_by_its_timestamp(ts: float, outcome: str) -> None:
    result = decode(queued(ts=ts))
    kind = {Lifecycle: "accepted", Rejected: "future"}[type(result)]
    assert kind == outcome
    if isinstance(result, Rejected):
        assert result.reason == "future_timestamp"


def test_duplicate_bytes_decode_identically() -> None:
    """Decoding is pure: deduplication happens later, on the lifecycle step."""
    assert decode(queued()) == decode(queued())


# --------------------------------------------------------------------------- the Lifecycle produced


@pytest.mark.parametrize(
    ("message", "channel", "expected"),
    [
        (queued(), "voice", Lifecycle("queued", 1795341540.0, "v-1", "voice", "sales", "cust-1", None)),
        (queued(customer_id=None), "chat", Lifecycle("queued", 1795341540.0, "v-1", "chat", "sales", None, None)),
        (
            contact("answered", agent_id="agent-1"),
            "voice",
            Lifecycle("answered", 1795341570.0, "v-1", "voice", None, None, None),
        ),
        (
            # a later event may repeat the queue; customer_id is only taken from contact.queued
            contact("answered", agent_id="agent-1", queue="sales", customer_id="cust-9"),
            "voice",
            Lifecycle("answered", 1795341570.0, "v-1", "voice", "sales", None, None),
        ),
        (contact("abandoned"), "chat", Lifecycle("abandoned", 1795341570.0, "v-1", "chat", None, None, None)),
        (contact("ended", hold_seconds=12.5), "voice", Lifecycle("ended", 1795341570.0, "v-1", "voice")),
        (contact("ended", hold_seconds=0), "voice", Lifecycle("ended", 1795341570.0, "v-1", "voice")),
        (
            contact("wrapped", resolved=True, disposition="sale"),
            "voice",
            Lifecycle("wrapped", 1795341570.0, "v-1", "voice", None, None, True),
        ),
        (
            contact("wrapped", resolved=False),
            "chat",
            Lifecycle("wrapped", 1795341570.0, "v-1", "chat", None, None, False),
        ),
    ],
)
def test_lifecycle_fields(message: bytes, channel: str, expected: Lifecycle) -> None:
    assert decode(message, channel) == expected


def test_unknown_extra_fields_are_tolerated() -> None:
    result = decode(queued(ivr_path="1-3-2", priority=5))
    assert result == Lifecycle("queued", 1795341540.0, "v-1", "voice", "sales", "cust-1", None)
