"""stream.kpi.contacts: the per-contact lifecycle and the facts (measurements) it yields (SPEC §3, §4)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.kpi.contacts import ContactState, Lifecycle, apply_event, derive_facts, is_expired, kept_until
from stream.kpi.facts import Fact

#: 2026-11-22 10:00:00 UTC
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()

# One answered call: queued at T0, answered after a 12 s wait, ended 3 min later, wrapped 30 s after that.
QUEUED, ANSWERED, ENDED, WRAPPED = T0, T0 + 12, T0 + 192, T0 + 222
#: When the worker processes the events: an hour after they happened, as after an outage.
PROCESSED = T0 + 3600
ABANDONED = T0 + 45


def ev(kind: str, ts: float, contact_id: str = "v-1", channel: str = "voice", **extra: Any) -> Lifecycle:
    """A lifecycle event; ``queued`` gets queue 'sales' and customer 'cust-1' unless told otherwise."""
    if kind == "queued":
        extra.setdefault("queue", "sales")
        extra.setdefault("customer_id", "cust-1")
    if kind == "wrapped":
        extra.setdefault("resolved", True)
    return Lifecycle(kind, ts, contact_id, channel, **extra)  # type: ignore[arg-type]


def run(events: Iterable[Lifecycle]) -> tuple[ContactState | None, list[Fact], int]:
    """Apply events in order; return the final state, every fact emitted and how many were ignored."""
    state: ContactState | None = None
    facts: list[Fact] = []
    ignored = 0
    for event in events:
        result = apply_event(state, event, PROCESSED)
        if result is None:
            ignored += 1
            continue
        state, new = result
        facts.extend(new)
    return state, facts, ignored


def fact(
    kind: str, ts: float, seconds: float = 0.0, contact_id: str = "v-1", queue: str = "sales", channel: str = "voice"
) -> Fact:
    return Fact(kind, queue, channel, contact_id, ts, seconds)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- in-order lifecycles


#: The state of an answered contact once every event is in, whatever their order.
FINAL_ANSWERED_STATE = ContactState(
    channel="voice",
    queue="sales",
    customer_id="cust-1",
    queued=QUEUED,
    answered=ANSWERED,
    ended=ENDED,
    wrapped=WRAPPED,
    resolved=True,
    changed_at=PROCESSED,
)


def test_answered_contact_in_order_emits_each_fact_once() -> None:
    """wait = answered - queued = 12 s; AHT sample = wrapped - answered = 222 - 12 = 210 s."""
    steps = [
        (ev("queued", QUEUED), [fact("offered", QUEUED), fact("waiting", QUEUED)]),
        (ev("answered", ANSWERED), [fact("answered", ANSWERED, 12.0)]),
        (ev("ended", ENDED), []),  # the end of the conversation is not a measurement by itself
        (ev("wrapped", WRAPPED), [fact("handled", WRAPPED, 210.0)]),
    ]
    state: ContactState | None = None
    for event, expected in steps:
        result = apply_event(state, event, PROCESSED)
        assert result is not None
        state, facts = result
        assert facts == expected
    assert state == FINAL_ANSWERED_STATE
    assert state.is_complete


def test_abandoned_contact_in_order() -> None:
    """An abandon after 45 s of waiting: the wait fact carries 45 s and the abandon's own ts."""
    state, facts, ignored = run([ev("queued", QUEUED), ev("abandoned", ABANDONED)])
    assert facts == [fact("offered", QUEUED), fact("waiting", QUEUED), fact("abandoned", ABANDONED, 45.0)]
    assert ignored == 0
    assert state is not None and state.is_complete


def test_handle_time_includes_talk_hold_and_wrap() -> None:
    """AHT = wrapped.ts - answered.ts, whatever happened in between (ended is not used)."""
    _, facts, _ = run([ev("queued", T0), ev("answered", T0 + 30), ev("ended", T0 + 400), ev("wrapped", T0 + 430.5)])
    assert [f for f in facts if f.kind == "handled"] == [fact("handled", T0 + 430.5, 400.5)]


def test_wrapped_without_ended_still_gives_handle_time() -> None:
    _, facts, _ = run([ev("queued", T0), ev("answered", T0 + 5), ev("wrapped", T0 + 65)])
    assert [f for f in facts if f.kind == "handled"] == [fact("handled", T0 + 65, 60.0)]


def test_facts_carry_queue_channel_and_contact() -> None:
    """Later events inherit the queue of contact.queued; the channel is the one of the first event seen."""
    _, facts, _ = run(
        [ev("answered", T0 + 3, "c-7", "chat"), ev("queued", T0, "c-7", "chat", queue="billing", customer_id=None)]
    )
    assert facts == [
        fact("offered", T0, 0.0, "c-7", "billing", "chat"),
        fact("answered", T0 + 3, 3.0, "c-7", "billing", "chat"),
    ]


# --------------------------------------------------------------------------- out of order


ANSWERED_EVENTS = [ev("queued", QUEUED), ev("answered", ANSWERED), ev("ended", ENDED), ev("wrapped", WRAPPED)]
#: What an answered contact measures, whatever the arrival order: one offer (at queued.ts), one
#: answered wait of 12 s (at answered.ts) and one handle time of 210 s (at wrapped.ts).
ANSWERED_MEASUREMENTS = Counter(
    [fact("offered", QUEUED), fact("answered", ANSWERED, 12.0), fact("handled", WRAPPED, 210.0)]
)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "-".join("QAEW"[i] for i in o))
def test_every_arrival_order_gives_the_same_measurements(order: tuple[int, ...]) -> None:
    """All 24 orders of queued/answered/ended/wrapped give the same measurement facts and final state.

    The only order-dependent fact is the transient 'waiting' marker (the live 'contacts waiting'
    gauge): it is emitted once, at queued.ts, exactly when queued arrives before the answer, and
    the answer fact then removes the contact from the waiting set again.
    """
    state, facts, ignored = run([ANSWERED_EVENTS[i] for i in order])
    assert ignored == 0
    assert state == FINAL_ANSWERED_STATE
    assert Counter(f for f in facts if f.kind != "waiting") == ANSWERED_MEASUREMENTS
    queued_before_answer = order.index(0) < order.index(1)
    assert [f for f in facts if f.kind == "waiting"] == ([fact("waiting", QUEUED)] if queued_before_answer else [])
    # Each measurement is emitted exactly once, so a consumer that adds facts never double counts.
    assert len(facts) == 3 + queued_before_answer


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))), ids=["queued-abandoned", "abandoned-queued"])
def test_abandon_in_either_order(order: tuple[int, ...]) -> None:
    events = [ev("queued", QUEUED), ev("abandoned", ABANDONED)]
    state, facts, _ = run([events[i] for i in order])
    assert Counter(f for f in facts if f.kind != "waiting") == Counter(
        [fact("offered", QUEUED), fact("abandoned", ABANDONED, 45.0)]
    )
    assert state == ContactState(
        channel="voice", queue="sales", customer_id="cust-1", queued=QUEUED, abandoned=ABANDONED, changed_at=PROCESSED
    )


def test_nothing_is_measured_before_queued_arrives() -> None:
    """Without queued there is neither a queue nor a wait start, so no fact can be derived yet."""
    state, facts, _ = run([ev("wrapped", WRAPPED), ev("ended", ENDED), ev("answered", ANSWERED)])
    assert facts == []
    assert state is not None and not state.is_complete


# --------------------------------------------------------------------------- duplicates and conflicts


@pytest.mark.parametrize("kind", ["queued", "answered", "ended", "wrapped"])
@pytest.mark.parametrize("shift", [0.0, 7.5], ids=["same-ts", "other-ts"])
def test_duplicate_event_changes_nothing(kind: str, shift: float) -> None:
    """A second event for a lifecycle step already known is a duplicate: None, state unchanged."""
    state, _, _ = run(ANSWERED_EVENTS)
    assert state is not None
    before = ContactState.from_wire(state.to_wire())
    duplicate = {e.kind: e for e in ANSWERED_EVENTS}[kind]
    assert apply_event(state, Lifecycle(kind, duplicate.ts + shift, "v-1", "voice", "sales"), duplicate.ts) is None  # type: ignore[arg-type]
    assert state == before


def test_duplicate_of_a_partial_contact() -> None:
    state, _, _ = run([ev("queued", QUEUED)])
    assert apply_event(state, ev("queued", QUEUED), QUEUED) is None
    assert apply_event(state, ev("queued", QUEUED + 1, queue="support"), QUEUED) is None


def test_duplicate_abandon() -> None:
    state, _, _ = run([ev("queued", QUEUED), ev("abandoned", ABANDONED)])
    assert apply_event(state, ev("abandoned", ABANDONED), ABANDONED) is None


@pytest.mark.parametrize(
    ("events", "expected_measurements"),
    [
        # abandoned after answered: the first outcome (answered, 12 s) stands
        (
            [ev("queued", QUEUED), ev("answered", ANSWERED), ev("abandoned", ABANDONED)],
            [fact("offered", QUEUED), fact("answered", ANSWERED, 12.0)],
        ),
        # answered after abandoned: the abandon (45 s) stands; a later wrap measures no handle time
        (
            [ev("queued", QUEUED), ev("abandoned", ABANDONED), ev("answered", ANSWERED), ev("wrapped", WRAPPED)],
            [fact("offered", QUEUED), fact("abandoned", ABANDONED, 45.0)],
        ),
        # the conflict arrives before queued: still ignored
        (
            [ev("answered", ANSWERED), ev("abandoned", ABANDONED), ev("queued", QUEUED)],
            [fact("offered", QUEUED), fact("answered", ANSWERED, 12.0)],
        ),
    ],
    ids=["abandon-after-answer", "answer-after-abandon", "conflict-before-queued"],
)
def test_conflicting_second_outcome_is_ignored(events: list[Lifecycle], expected_measurements: list[Fact]) -> None:
    state, facts, ignored = run(events)
    assert ignored == 1
    assert Counter(f for f in facts if f.kind != "waiting") == Counter(expected_measurements)
    assert state is not None
    assert not (state.answered is not None and state.abandoned is not None)


def test_conflicting_outcome_returns_none_and_keeps_state() -> None:
    state, _, _ = run([ev("queued", QUEUED), ev("answered", ANSWERED)])
    assert state is not None
    assert apply_event(state, ev("abandoned", ABANDONED), ABANDONED) is None
    assert state.abandoned is None and state.answered == ANSWERED


# --------------------------------------------------------------------------- negative durations


def test_negative_wait_from_clock_skew_is_zero() -> None:
    """answered stamped 2 s before queued (two producers' clocks disagree): the wait is 0, not -2."""
    _, facts, _ = run([ev("queued", T0), ev("answered", T0 - 2)])
    assert fact("answered", T0 - 2, 0.0) in facts


def test_negative_handle_time_is_zero() -> None:
    _, facts, _ = run([ev("queued", T0), ev("answered", T0 + 10), ev("wrapped", T0 + 9)])
    assert fact("handled", T0 + 9, 0.0) in facts


# --------------------------------------------------------------------------- derive_facts


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (ContactState("voice"), {}),
        (ContactState("voice", answered=ANSWERED, wrapped=WRAPPED), {}),  # no queued
        (ContactState("voice", queued=QUEUED), {}),  # queued without a queue cannot be attributed
        (
            ContactState("voice", "sales", queued=QUEUED),
            {"offered": fact("offered", QUEUED), "waiting": fact("waiting", QUEUED)},
        ),
        (
            ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED),
            {"offered": fact("offered", QUEUED), "wait": fact("answered", ANSWERED, 12.0)},
        ),
        (
            ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED, ended=ENDED),
            {"offered": fact("offered", QUEUED), "wait": fact("answered", ANSWERED, 12.0)},
        ),
        (
            # no customer_id: a first contact, so the wrap also yields its FCR sample at wrapped.ts;
            # resolved is unknown (None), which is not resolved: value 0
            ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED, wrapped=WRAPPED),
            {
                "offered": fact("offered", QUEUED),
                "wait": fact("answered", ANSWERED, 12.0),
                "handle": fact("handled", WRAPPED, 210.0),
                "fcr": fact("fcr", WRAPPED, 0.0),
            },
        ),
        (
            # no customer_id and resolved: first-contact resolution, value 1
            ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED, wrapped=WRAPPED, resolved=True),
            {
                "offered": fact("offered", QUEUED),
                "wait": fact("answered", ANSWERED, 12.0),
                "handle": fact("handled", WRAPPED, 210.0),
                "fcr": fact("fcr", WRAPPED, 1.0),
            },
        ),
        (
            # a known customer: the customer stage decides FCR, so no fcr fact here
            ContactState("voice", "sales", "cust-1", queued=QUEUED, answered=ANSWERED, wrapped=WRAPPED, resolved=True),
            {
                "offered": fact("offered", QUEUED),
                "wait": fact("answered", ANSWERED, 12.0),
                "handle": fact("handled", WRAPPED, 210.0),
            },
        ),
        (
            ContactState("voice", "sales", queued=QUEUED, abandoned=ABANDONED),
            {"offered": fact("offered", QUEUED), "wait": fact("abandoned", ABANDONED, 45.0)},
        ),
        (
            # wrapped without answered measures no handle time; being wrapped without a customer,
            # it still yields an FCR sample (resolved unknown: value 0)
            ContactState("voice", "sales", queued=QUEUED, ended=ENDED, wrapped=WRAPPED),
            {"offered": fact("offered", QUEUED), "waiting": fact("waiting", QUEUED), "fcr": fact("fcr", WRAPPED, 0.0)},
        ),
    ],
)
def test_derive_facts(state: ContactState, expected: dict[str, Fact]) -> None:
    assert derive_facts(state, "v-1") == expected


# --------------------------------------------------------------------------- is_complete / last_ts / is_expired


@pytest.mark.parametrize(
    ("state", "complete"),
    [
        (ContactState("voice", "sales", queued=QUEUED), False),
        (ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED), False),
        (ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED, ended=ENDED), False),
        (ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED, wrapped=WRAPPED), True),
        (ContactState("voice", "sales", queued=QUEUED, abandoned=ABANDONED), True),
        (ContactState("voice", answered=ANSWERED, wrapped=WRAPPED), False),  # queued still to come
        (ContactState("voice", abandoned=ABANDONED), False),
    ],
)
def test_is_complete(state: ContactState, complete: bool) -> None:
    assert state.is_complete is complete


def test_last_ts_is_the_latest_step_not_the_latest_arrival() -> None:
    assert ContactState("voice", queued=QUEUED, answered=ANSWERED, wrapped=WRAPPED).last_ts == WRAPPED
    assert ContactState("voice", wrapped=WRAPPED, queued=QUEUED).last_ts == WRAPPED
    assert ContactState("voice", queued=QUEUED).last_ts == QUEUED


DEDUPE, TTL = 86400.0, 14400.0


def processed_at(state: ContactState, at: float | None) -> ContactState:
    return replace(state, changed_at=at)


COMPLETE = ContactState("voice", "sales", queued=QUEUED, abandoned=ABANDONED)  # last_ts = T0 + 45
OPEN = ContactState("voice", "sales", queued=QUEUED, answered=ANSWERED)  # last_ts = T0 + 12


@pytest.mark.parametrize(
    ("state", "now", "expired"),
    [
        # complete: kept DEDUPE after the worker last changed it, strictly, however old its events
        (processed_at(COMPLETE, T0 + 45), T0 + 45 + DEDUPE, False),
        (processed_at(COMPLETE, T0 + 45), T0 + 45 + DEDUPE + 0.001, True),
        # read a day late, after an outage: a duplicate is still recognised for DEDUPE from then on
        (processed_at(COMPLETE, T0 + 86400), T0 + 86400 + 600, False),
        (processed_at(COMPLETE, T0 + 86400), T0 + 86400 + DEDUPE, False),
        (processed_at(COMPLETE, T0 + 86400), T0 + 86400 + DEDUPE + 0.001, True),
        # not complete: also kept TTL after its last event, by event time
        (processed_at(OPEN, T0 + 12), T0 + 12 + DEDUPE, False),
        (processed_at(OPEN, T0 + 12), T0 + 12 + DEDUPE + 0.001, True),  # TTL < DEDUPE: passed too
        (processed_at(OPEN, T0 + 12), T0 + 12 + TTL, False),
        # written before the worker's clock was kept: its last event stands in for it
        (COMPLETE, T0 + 45 + DEDUPE, False),
        (COMPLETE, T0 + 45 + DEDUPE + 0.001, True),
    ],
)
def test_is_expired(state: ContactState, now: float, expired: bool) -> None:
    assert is_expired(state, now, dedupe=DEDUPE, ttl=TTL) is expired


@pytest.mark.parametrize(
    ("now", "expired"), [(T0 + 12 + 600, False), (T0 + 12 + 3600, False), (T0 + 12 + 3600.001, True)]
)
def test_an_unfinished_contact_is_kept_for_the_longer_of_dedupe_and_ttl(now: float, expired: bool) -> None:
    """With a TTL longer than the dedupe time, the TTL (event time) decides."""
    assert is_expired(processed_at(OPEN, T0 + 12), now, dedupe=600.0, ttl=3600.0) is expired


@pytest.mark.parametrize(
    ("state", "dedupe", "ttl"),
    [
        (processed_at(COMPLETE, T0 + 45), DEDUPE, TTL),
        (processed_at(COMPLETE, T0 + 86400), DEDUPE, TTL),  # read a day late
        (processed_at(COMPLETE, T0 + 45), 600.0, 3600.0),  # complete: the TTL does not matter
        (processed_at(OPEN, T0 + 12), DEDUPE, TTL),
        (processed_at(OPEN, T0 + 12), 600.0, 3600.0),  # unfinished, TTL longer than the dedupe time
        (processed_at(OPEN, T0 + 7200), 600.0, 3600.0),  # read late: the dedupe time decides again
        (processed_at(OPEN, T0 - 7200), 600.0, 3600.0),  # dated ahead of the worker's clock
        (COMPLETE, DEDUPE, TTL),  # written before the worker's clock was kept
        (ContactState("voice", answered=ANSWERED, wrapped=WRAPPED, changed_at=T0), 600.0, 3600.0),  # queued to come
    ],
)
@pytest.mark.parametrize(
    ("offset", "expired"), [(-1.0, False), (-0.001, False), (0.0, False), (0.001, True), (60.0, True)]
)
def test_kept_until_is_when_is_expired_turns(
    state: ContactState, dedupe: float, ttl: float, offset: float, expired: bool
) -> None:
    """Kept up to that time, strictly, and forgotten from just after it (expiry visits it then)."""
    assert is_expired(state, kept_until(state, dedupe, ttl) + offset, dedupe=dedupe, ttl=ttl) is expired


# --------------------------------------------------------------------------- wire formats


def test_lifecycle_wire_round_trip() -> None:
    event = Lifecycle("queued", QUEUED, "v-1", "voice", "sales", "cust-1", None)
    wire = event.to_wire()
    assert wire == ["queued", QUEUED, "v-1", "voice", "sales", "cust-1", None]
    assert Lifecycle.from_wire(json.loads(json.dumps(wire))) == event


@pytest.mark.parametrize(
    "event",
    [
        Lifecycle("answered", ANSWERED, "c-2", "chat"),
        Lifecycle("wrapped", WRAPPED + 0.125, "c-2", "chat", "support", None, False),
        Lifecycle("abandoned", ABANDONED, "v-3", "voice", "billing"),
    ],
)
def test_lifecycle_json_round_trip(event: Lifecycle) -> None:
    assert Lifecycle.from_wire(json.loads(json.dumps(event.to_wire()))) == event


def test_fact_wire_round_trip() -> None:
    f = Fact("handled", "sales", "voice", "v-1", WRAPPED, 210.0)
    assert f.to_wire() == ["handled", "sales", "voice", "v-1", WRAPPED, 210.0]
    assert Fact.from_wire(json.loads(json.dumps(f.to_wire()))) == f
    # a retraction carries a trailing 1; an ordinary fact has no seventh element
    taken_back = f.retracted()
    assert taken_back == Fact("handled", "sales", "voice", "v-1", WRAPPED, 210.0, retraction=True)
    assert taken_back.to_wire() == ["handled", "sales", "voice", "v-1", WRAPPED, 210.0, 1]
    assert Fact.from_wire(json.loads(json.dumps(taken_back.to_wire()))) == taken_back


def test_contact_state_wire_omits_unknown_steps() -> None:
    state = ContactState("voice", "sales", "cust-1", queued=QUEUED)
    assert state.to_wire() == {"channel": "voice", "queue": "sales", "customer_id": "cust-1", "queued": QUEUED}
    assert ContactState.from_wire(json.loads(json.dumps(state.to_wire()))) == state


@pytest.mark.parametrize(
    "state",
    [
        ContactState("chat"),
        FINAL_ANSWERED_STATE,
        ContactState("voice", "sales", queued=QUEUED, abandoned=ABANDONED),
        ContactState("voice", answered=ANSWERED, wrapped=WRAPPED, resolved=False),  # resolved=False is kept
    ],
)
def test_contact_state_json_round_trip(state: ContactState) -> None:
    assert ContactState.from_wire(json.loads(json.dumps(state.to_wire()))) == state


def test_contact_state_wire_keeps_false_resolution() -> None:
    assert ContactState("voice", resolved=False).to_wire() == {"channel": "voice", "resolved": False}
