"""stream.ingest.decoding.decode: raw call/chat message -> Lifecycle or Rejected(reason) (SPEC §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.ingest.decoding import Rejected
from stream.ingest.decoding import decode as decode_source
from stream.kpi.contacts import Lifecycle

#: 2026-11-22 10:00:00 UTC = 1795341600 epoch seconds; used as "now" throughout.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()


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
        # duplicate_key: an object names a key twice; pydantic alone would keep the last
        (b'{"event_id":"e","type":"contact.queued","type":"contact.ended","ts":0,"contact_id":"v"}', "duplicate_key"),
        (
            b'{"event_id":"e","type":"contact.ended","\\u0074ype":"contact.ended","ts":0,"contact_id":"v"}',
            "duplicate_key",
        ),
        (b'{"event_id":"e","type":"contact.abandoned","ts":0,"contact_id":"v-1","x":{"a":1,"a":1}}', "duplicate_key"),
        (b'{"event_id":"e","type":"contact.closed","type":"contact.ended","ts":0,"contact_id":"v"}', "duplicate_key"),
        (b'{"type":"contact.queued","type":"contact.closed"}', "unknown_type"),  # another fault comes first
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
        (queued(contact_id="c" * 129), "invalid_field"),  # ids: 1-128 chars
        (queued(customer_id="k" * 129), "invalid_field"),
        (queued(previous_contact_id="p" * 129), "invalid_field"),
        (contact("answered", agent_id="a" * 129), "invalid_field"),
        (contact("wrapped", resolved=True, disposition="d" * 257), "invalid_field"),  # at most 256 chars
        (queued(ts="1" * 65), "invalid_field"),  # a timestamp string is at most 64 chars
        (queued(ts=" 1795341540"), "invalid_field"),  # a numeric string is the number alone
        (queued(ts="1795341540s"), "invalid_field"),
        (queued(ts=2.6e14), "invalid_field"),  # milliseconds in the year 10208
        (queued(ts="yesterday"), "invalid_field"),
        (queued(ts=True), "invalid_field"),  # a bool is not epoch seconds
        (queued(ts=[NOW]), "invalid_field"),
        (contact("wrapped", resolved="yes"), "invalid_field"),  # resolved must be a JSON bool
        (contact("wrapped", resolved=1), "invalid_field"),
        (contact("answered", agent_id=""), "invalid_field"),
        (contact("ended", hold_seconds="long"), "invalid_field"),
        (contact("ended", hold_seconds=float("inf")), "invalid_field"),  # json.dumps writes Infinity
        (contact("ended", hold_seconds=float("nan")), "invalid_field"),
        (contact("ended", hold_seconds="inf"), "invalid_field"),
        (queued(ts=float("nan")), "invalid_field"),
        (queued(ts=float("-inf")), "invalid_field"),
        # out_of_range: hold_seconds from 0 to one day is the one range check on a call/chat event
        (contact("ended", hold_seconds=-1), "out_of_range"),
        (contact("ended", hold_seconds=86400.5), "out_of_range"),
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


@pytest.mark.parametrize("ts", [b"1e400", b"-1e400", b"Infinity", b"-Infinity", b"NaN", b'"1e400"', b'"-1e400"'])
def test_non_finite_epoch_is_invalid_field(ts: bytes) -> None:
    """JSON has no Infinity or NaN, but the parser takes them, and 1e400 overflows to infinity."""
    message = b'{"event_id":"e","type":"contact.abandoned","contact_id":"v-1","ts":' + ts + b"}"
    result = decode(message)
    assert isinstance(result, Rejected) and result.reason == "invalid_field"


@pytest.mark.parametrize("hold", [b"1e400", b"-1e400", b"Infinity", b"-Infinity", b"NaN", b'"1e400"', b'"NaN"'])
def test_non_finite_hold_seconds_is_invalid_field(hold: bytes) -> None:
    message = b'{"event_id":"e","type":"contact.ended","contact_id":"v-1","ts":0,"hold_seconds":' + hold + b"}"
    assert decode(message) == Rejected("invalid_field", "hold_seconds: Input should be a finite number")


def test_duplicate_key_detail_names_the_key() -> None:
    message = b'{"event_id":"e","type":"contact.queued","ts":0,"contact_id":"v-1","queue":"a","queue":"b"}'
    assert decode(message) == Rejected("duplicate_key", "key 'queue' appears twice in one object")


@pytest.mark.parametrize(
    "message",
    [
        # the same text as a key and as a value, or the same key in two objects, is no repeat
        b'{"event_id":"queue","type":"contact.queued","ts":0,"contact_id":"queue","queue":"queue"}',
        b'{"event_id":"e","type":"contact.queued","ts":0,"contact_id":"v-1","queue":"q","x":[{"a":1},{"a":2}]}',
        b'{"event_id":"e","type":"contact.queued","ts":0,"contact_id":"v-1","queue":"q","x":{"a":{"a":1}}}',
        b'{"event_id":"e","type":"contact.queued","ts":0,"contact_id":"v-\\"1\\"","queue":"q"}',  # escaped quotes
        b'{"event_id":"e","type":"contact.queued","ts":0,"contact_id":"v-\\u00e9","queue":"q","\\u0071":1}',
    ],
)
def test_repeated_text_without_a_repeated_key_is_accepted(message: bytes) -> None:
    assert isinstance(decode(message), Lifecycle)


@pytest.mark.parametrize(
    ("field", "bound", "channel", "build"),
    [
        ("event_id", 128, "voice", lambda v: queued(event_id=v)),
        ("contact_id", 128, "voice", lambda v: queued(contact_id=v)),
        ("previous_contact_id", 128, "voice", lambda v: queued(previous_contact_id=v)),
        ("customer_id", 128, "voice", lambda v: queued(customer_id=v)),
        ("queue", 64, "voice", lambda v: queued(queue=v)),
        ("agent_id", 128, "voice", lambda v: contact("answered", agent_id=v)),
        ("disposition", 256, "chat", lambda v: contact("wrapped", resolved=True, disposition=v)),
        (
            "agent_id",
            128,
            "ticket",
            lambda v: raw(event_id="e", type="ticket.replied", ts=NOW, contact_id="t", agent_id=v),
        ),
        (
            "agent_id",
            128,
            "survey",
            lambda v: raw(event_id="e", type="survey.csat", ts=NOW, queue="q", score=5, agent_id=v),
        ),
        (
            "agent_id",
            128,
            "agent",
            lambda v: raw(event_id="e", type="agent.state", ts=NOW, agent_id=v, queues=[], state="busy"),
        ),
    ],
)
def test_string_bounds(field: str, bound: int, channel: str, build: Any) -> None:
    """Exactly at the bound is accepted, one character more is invalid_field, and the detail names the field."""
    assert not isinstance(decode_source(build("x" * bound), channel, NOW), Rejected)  # type: ignore[arg-type]
    over = decode_source(build("x" * (bound + 1)), channel, NOW)  # type: ignore[arg-type]
    assert isinstance(over, Rejected) and over.reason == "invalid_field" and over.detail.startswith(f"{field}: ")


@pytest.mark.parametrize(("count", "valid"), [(0, True), (200, True), (201, False), (100_000, False)])
def test_agent_queue_list_bound(count: int, valid: bool) -> None:
    message = raw(
        event_id="e", type="agent.state", ts=NOW, agent_id="a", queues=[f"q{n}" for n in range(count)], state="busy"
    )
    result = decode_source(message, "agent", NOW)
    if valid:
        assert not isinstance(result, Rejected) and len(result.queues) == count  # type: ignore[union-attr]
    else:
        assert isinstance(result, Rejected) and result.reason == "invalid_field"
        assert result.detail.startswith("queues: ")


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
        # a numeric string reads like the number it spells
        ("1795341540", 1795341540.0),
        ("1795341540.5", 1795341540.5),
        ("1.7953415405e9", 1795341540.5),
        # from 1e11 up an epoch is milliseconds, as a number or a string
        (1795341540120, 1795341540.12),
        ("1795341540120", 1795341540.12),
        (1795341540120.5, 1795341540.1205),
        ("1.79534154012e12", 1795341540.12),
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


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+05:00", "1969-12-31T23:59:59Z", -1, "1960-06-01T00:00:00-08:00"])
def test_a_date_before_1970_is_out_of_range(ts: Any) -> None:
    """Year 1 at +05:00 is in year 0 in UTC, which no local day can hold: it must never reach a window."""
    result = decode(queued(ts=ts))
    assert isinstance(result, Rejected) and result.reason == "out_of_range", result


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
