"""Property tests: whatever bytes arrive, decoding never raises and a rejection has a bounded reason."""

from __future__ import annotations

import json
import random
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.contacts import Lifecycle
from stream.decoding import Ignored, Reason, Rejected, Source, decode
from stream.facts import Fact
from stream.presence import AgentUpdate
from tests.fuzz_events import mutate, valid_event

NOW = 1795341600.0
SOURCES: tuple[Source, ...] = ("voice", "chat", "ticket", "survey", "agent")
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
@given(st.sampled_from(SOURCES), st.dictionaries(st.sampled_from(
    ["event_id", "type", "ts", "contact_id", "queue", "score", "channel", "agent_id", "queues", "state", "resolved",
     "public", "customer_id", "hold_seconds"]), json_values, max_size=8))  # fmt: skip
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
