"""Property tests: whatever bytes arrive, decoding never raises and a rejection has a bounded reason."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import decode_event
from stream.ingest.decoding import Ignored, Reason, Rejected, Source, decode
from stream.kpi.contacts import Lifecycle
from stream.kpi.facts import Fact
from stream.kpi.presence import AgentUpdate
from tests.fuzz_events import STRING_BOUNDS, VALID, mutate, valid_event

NOW = 1795341600.0
SOURCES: tuple[Source, ...] = ("voice", "chat", "ticket", "survey", "agent")
ORIGINS = ("voice", "ticket", "survey", "agent")
OUTCOMES = (Lifecycle, Fact, AgentUpdate, Ignored, Rejected)
REASONS = set(get_args(Reason))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


def check(raw: bytes, source: Source) -> None:
    outcome = decode(raw, source, NOW)
    assert isinstance(outcome, OUTCOMES)
    if isinstance(outcome, Rejected):
        assert outcome.reason in REASONS and outcome.detail


@settings(max_examples=1200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(SOURCES))
def test_random_bytes(raw: bytes, source: Source) -> None:
    check(raw, source)


@settings(max_examples=800, deadline=None)
@given(
    st.sampled_from(SOURCES),
    st.dictionaries(
        st.sampled_from(
            [
                "event_id",
                "type",
                "ts",
                "contact_id",
                "queue",
                "score",
                "channel",
                "agent_id",
                "queues",
                "state",
                "resolved",
                "public",
                "customer_id",
                "hold_seconds",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_random_json_objects(source: Source, fields: dict[str, object]) -> None:
    check(json.dumps(fields).encode(), source)


@settings(max_examples=1200, deadline=None)
@given(st.sampled_from(["voice", "ticket", "survey", "agent"]), st.sampled_from(SOURCES), st.integers(0, 2**32))
def test_mutated_valid_events(origin: str, source: Source, seed: int) -> None:
    rng = random.Random(seed)
    check(mutate(rng, valid_event(rng, origin, NOW - 10)), source)


def test_unmutated_events_are_accepted_on_their_own_topic() -> None:
    rng = random.Random(1)
    for origin in ("voice", "ticket", "survey", "agent"):
        for _ in range(50):
            outcome = decode(json.dumps(valid_event(rng, origin, NOW - 10)).encode(), origin, NOW)  # type: ignore[arg-type]
            assert isinstance(outcome, (Lifecycle, Fact, AgentUpdate, Ignored)), outcome


# --------------------------------------------------------------------------- bounds, numbers and repeated keys

#: Text that JSON can carry (no lone surrogates).
any_text = st.characters(blacklist_categories=("Cs",))
queue_text = st.sampled_from("abcXYZ019_.-")


def outcome_of(event: dict[str, Any], origin: str) -> Any:
    return decode(json.dumps(event).encode(), origin, NOW)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(ORIGINS), st.integers(0, 2**32), st.data())
def test_strings_up_to_their_bound_accepted_past_it_invalid_field(origin: str, seed: int, data: st.DataObject) -> None:
    event = valid_event(random.Random(seed), origin, NOW - 10)
    field = data.draw(st.sampled_from(sorted(set(event) & set(STRING_BOUNDS))))
    bound = STRING_BOUNDS[field]
    alphabet = queue_text if field == "queue" else any_text
    event[field] = data.draw(st.text(alphabet, min_size=1, max_size=bound))
    assert not isinstance(outcome_of(event, origin), Rejected)
    event[field] = data.draw(st.text(alphabet, min_size=bound + 1, max_size=bound + 300))
    rejected = outcome_of(event, origin)
    assert isinstance(rejected, Rejected) and rejected.reason == "invalid_field"
    assert rejected.detail.startswith(f"{field}: ")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(queue_text, min_size=1, max_size=64), max_size=400))
def test_agent_queue_list_up_to_200(queues: list[str]) -> None:
    event = {**VALID["agent"][0], "event_id": "e", "ts": NOW, "queues": queues}
    outcome = outcome_of(event, "agent")
    if len(queues) <= 200:
        assert isinstance(outcome, AgentUpdate) and list(outcome.queues) == queues
    else:
        assert isinstance(outcome, Rejected) and outcome.reason == "invalid_field"


def expected_instant(value: float) -> datetime:
    """SPEC rule of schemas.timestamps, computed independently: seconds below 1e11, milliseconds from there."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (timedelta(milliseconds=value) if abs(value) >= 1e11 else timedelta(seconds=value))


epoch_numbers = st.one_of(
    st.integers(-(10**12), 3 * 10**14),  # seconds and milliseconds, some beyond the year 9999
    st.floats(-1e12, 3e14, allow_nan=False),
    st.sampled_from([0, 99_999_999_999, 100_000_000_000, 1e11, 253_402_300_799, 253_402_300_799_999, 10**20]),
)


@settings(max_examples=1500, deadline=None)
@given(epoch_numbers)
def test_epoch_number_and_numeric_string_are_the_same_instant(value: float) -> None:
    as_number = json.dumps({"event_id": "e", "type": "contact.abandoned", "contact_id": "c", "ts": value}).encode()
    as_string = json.dumps({"event_id": "e", "type": "contact.abandoned", "contact_id": "c", "ts": json.dumps(value)})
    try:
        instant = decode_event(as_number).ts
    except ValidationError:
        with pytest.raises(ValidationError):
            decode_event(as_string.encode())
        with pytest.raises(OverflowError):  # only an instant a datetime cannot hold is refused
            expected_instant(value)
        return
    assert decode_event(as_string.encode()).ts == instant
    assert abs(instant - expected_instant(value)) <= timedelta(microseconds=1)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["hold_seconds", "score", "ts"]),
    st.one_of(
        st.sampled_from([b"Infinity", b"-Infinity", b"NaN", b'"Infinity"', b'"NaN"', b'"inf"']),
        st.builds(
            lambda sign, mantissa, exponent: f"{sign}{mantissa}e{exponent}".encode(),
            st.sampled_from(["", "-"]),
            st.integers(1, 9),
            st.integers(309, 5000),
        ),
    ),
)
def test_non_finite_numbers_are_invalid_field(field: str, literal: bytes) -> None:
    origin = "survey" if field == "score" else "voice"
    event = {"event_id": "e", "ts": NOW, **(VALID["survey"][0] if field == "score" else VALID["voice"][3])}
    del event[field]
    raw = json.dumps(event).encode()[:-1] + b', "' + field.encode() + b'": ' + literal + b"}"
    rejected = decode(raw, origin, NOW)  # type: ignore[arg-type]
    assert isinstance(rejected, Rejected) and rejected.reason == "invalid_field"
    assert rejected.detail.startswith(f"{field}: ")


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_hold_seconds_finite_from_zero_to_a_day(hold: float) -> None:
    outcome = outcome_of({**VALID["voice"][3], "event_id": "e", "ts": NOW, "hold_seconds": hold}, "voice")
    if math.isfinite(hold) and 0 <= hold <= 86400:
        assert isinstance(outcome, Lifecycle)
    else:
        assert isinstance(outcome, Rejected)
        assert outcome.reason == ("out_of_range" if math.isfinite(hold) else "invalid_field")


def spelled(key: str, escape: list[bool]) -> bytes:
    """``key`` as a JSON string, with the characters ``escape`` marks written as \\u escapes."""
    characters = (f"\\u{ord(c):04x}" if e else c for c, e in zip(key, escape, strict=True))
    return f'"{"".join(characters)}"'.encode()


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(ORIGINS), st.integers(0, 2**32), st.data())
def test_repeated_key_is_duplicate_key(origin: str, seed: int, data: st.DataObject) -> None:
    """Any key of a valid event named again, anywhere and in any spelling, is refused: as duplicate_key when
    the event is otherwise valid, for its other fault when the second value is wrong."""
    event = valid_event(random.Random(seed), origin, NOW - 10)
    pairs = [(json.dumps(key).encode(), json.dumps(value).encode()) for key, value in event.items()]
    key = data.draw(st.sampled_from(sorted(event)))
    again = spelled(key, data.draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key))))
    same = json.dumps(event[key]).encode()
    value = data.draw(st.sampled_from([same, b"null", b'"other"', b"1"]))
    pairs.insert(data.draw(st.integers(0, len(pairs))), (again, value))
    space = data.draw(st.sampled_from([b"", b" ", b"\n\t "]))
    raw = b"{" + (b"," + space).join(k + space + b":" + space + v for k, v in pairs) + b"}"
    rejected = decode(raw, origin, NOW)  # type: ignore[arg-type]
    assert isinstance(rejected, Rejected)
    if value == same:
        assert rejected.reason == "duplicate_key", rejected
