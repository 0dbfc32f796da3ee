"""stream.kpi.tickets: first response, resolution and reopens of a ticket (SPEC §4)."""

from __future__ import annotations

import itertools

import pytest

from stream.kpi.contacts import Lifecycle
from stream.kpi.customers import Visit
from stream.kpi.facts import Fact
from stream.kpi.tickets import (
    MAX_STEPS,
    TicketState,
    apply_ticket_event,
    derive_facts,
    has_room,
    is_expired,
    kept_until,
    visit_of,
)

#: 2026-11-22T10:00:00Z
T0 = 1795341600.0
#: When the worker processes the events: a day after the first, as after an outage.
PROCESSED = T0 + 86400
HOUR = 3600.0


def ev(kind: str, ts: float, ticket: str = "t-1", **extra: object) -> Lifecycle:
    if kind == "created":
        extra.setdefault("queue", "billing")
        extra.setdefault("customer_id", "k-1")
    return Lifecycle(kind, ts, ticket, "ticket", **extra)  # type: ignore[arg-type]


def fact(kind: str, ts: float, value: float = 0.0, retraction: bool = False) -> Fact:
    return Fact(kind, "billing", "ticket", "t-1", ts, value, retraction)  # type: ignore[arg-type]


def run(events: list[Lifecycle]) -> tuple[TicketState | None, list[Fact], int]:
    state: TicketState | None = None
    sent: list[Fact] = []
    duplicates = 0
    for event in events:
        result = apply_ticket_event(state, event, PROCESSED)
        if result is None:
            duplicates += 1
            continue
        state, facts = result
        sent += facts
    return state, sent, duplicates


def net(facts: list[Fact]) -> dict[tuple[str, float, float], int]:
    """What the facts add up to once retractions cancel what they take back."""
    totals: dict[tuple[str, float, float], int] = {}
    for f in facts:
        key = (f.kind, f.ts, f.value)
        totals[key] = totals.get(key, 0) + (-1 if f.retraction else 1)
    return {key: n for key, n in totals.items() if n}


def test_created_replied_solved_in_order() -> None:
    """First response = 2 h - 0 = 7200 s; resolution = 5 h = 18000 s."""
    state, facts, _ = run(
        [ev("created", T0), ev("replied", T0 + 2 * HOUR), ev("replied", T0 + 3 * HOUR), ev("solved", T0 + 5 * HOUR)]
    )
    assert facts == [
        fact("offered", T0),
        fact("first_response", T0 + 2 * HOUR, 7200.0),
        fact("resolution", T0 + 5 * HOUR, 18000.0),
    ]
    assert state == TicketState(
        "billing", "k-1", T0, replies=(T0 + 7200, T0 + 10800), solves=(T0 + 18000,), changed_at=PROCESSED
    )


def test_only_the_first_reply_is_measured_whatever_the_arrival_order() -> None:
    """A reply at 1 h arriving after one at 2 h moves the first response to 3600 s."""
    _, facts, _ = run([ev("created", T0), ev("replied", T0 + 2 * HOUR), ev("replied", T0 + HOUR)])
    assert facts == [
        fact("offered", T0),
        fact("first_response", T0 + 2 * HOUR, 7200.0),
        fact("first_response", T0 + 2 * HOUR, 7200.0, retraction=True),
        fact("first_response", T0 + HOUR, 3600.0),
    ]
    assert net(facts) == {("offered", T0, 0.0): 1, ("first_response", T0 + HOUR, 3600.0): 1}


def test_reopened_ticket_is_measured_to_the_new_solve_and_the_reopen_counts() -> None:
    """Solved at 1 h, reopened at 2 h, solved again at 4 h: resolution 4 h = 14400 s, one reopen."""
    _, facts, _ = run(
        [ev("created", T0), ev("solved", T0 + HOUR), ev("reopened", T0 + 2 * HOUR), ev("solved", T0 + 4 * HOUR)]
    )
    assert facts == [
        fact("offered", T0),
        fact("resolution", T0 + HOUR, 3600.0),
        fact("resolution", T0 + HOUR, 3600.0, retraction=True),
        fact("reopened", T0 + 2 * HOUR),
        fact("resolution", T0 + 4 * HOUR, 14400.0),
    ]


def test_reopened_and_not_solved_again_has_no_resolution() -> None:
    state, facts, _ = run([ev("created", T0), ev("solved", T0 + HOUR), ev("reopened", T0 + 2 * HOUR)])
    assert state is not None
    assert net(facts) == {("offered", T0, 0.0): 1, ("reopened", T0 + 2 * HOUR, 0.0): 1}
    assert "resolution" not in derive_facts(state, "t-1")


def test_two_reopens_count_twice() -> None:
    _, facts, _ = run(
        [
            ev("created", T0),
            ev("solved", T0 + HOUR),
            ev("reopened", T0 + 2 * HOUR),
            ev("solved", T0 + 3 * HOUR),
            ev("reopened", T0 + 4 * HOUR),
            ev("solved", T0 + 6 * HOUR),
        ]
    )
    assert net(facts) == {
        ("offered", T0, 0.0): 1,
        ("reopened", T0 + 2 * HOUR, 0.0): 1,
        ("reopened", T0 + 4 * HOUR, 0.0): 1,
        ("resolution", T0 + 6 * HOUR, 6 * HOUR): 1,
    }


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))))
def test_arrival_order_does_not_change_the_net_facts(order: tuple[int, ...]) -> None:
    events = [
        ev("created", T0),
        ev("replied", T0 + 600),
        ev("solved", T0 + HOUR),
        ev("reopened", T0 + 2 * HOUR),
        ev("solved", T0 + 4 * HOUR),
    ]
    _, facts, _ = run([events[i] for i in order])
    assert net(facts) == {
        ("offered", T0, 0.0): 1,
        ("first_response", T0 + 600, 600.0): 1,
        ("reopened", T0 + 2 * HOUR, 0.0): 1,
        ("resolution", T0 + 4 * HOUR, 14400.0): 1,
    }


def test_a_repeated_event_is_a_duplicate() -> None:
    state, facts, duplicates = run(
        [ev("created", T0), ev("solved", T0 + HOUR), ev("solved", T0 + HOUR), ev("created", T0)]
    )
    assert duplicates == 2
    assert facts == [fact("offered", T0), fact("resolution", T0 + HOUR, 3600.0)]


def test_nothing_is_measured_before_the_ticket_is_created() -> None:
    state, facts, _ = run([ev("replied", T0 + 60), ev("solved", T0 + 120)])
    assert facts == []
    _, later, _ = run([ev("replied", T0 + 60), ev("solved", T0 + 120), ev("created", T0)])
    assert later == [fact("offered", T0), fact("first_response", T0 + 60, 60.0), fact("resolution", T0 + 120, 120.0)]


def test_clock_skew_never_gives_a_negative_time() -> None:
    _, facts, _ = run([ev("created", T0), ev("replied", T0 - 5)])
    assert fact("first_response", T0 - 5, 0.0) in facts


def test_visit_needs_a_customer() -> None:
    state, _, _ = run([ev("created", T0)])
    assert state is not None
    assert visit_of(state, "t-1") == Visit("k-1", "t-1", "billing", "ticket", T0)
    anonymous, _, _ = run([ev("created", T0, customer_id=None)])
    assert anonymous is not None and visit_of(anonymous, "t-1") is None


def test_wire_round_trip() -> None:
    state = TicketState(
        "billing", "k-1", T0, replies=(T0 + 1,), solves=(T0 + 2, T0 + 5), reopens=(T0 + 3,), changed_at=T0 + 9
    )
    assert TicketState.from_wire(state.to_wire()) == state
    assert TicketState.from_wire(TicketState().to_wire()) == TicketState()


@pytest.mark.parametrize(
    ("changed_at", "now", "expired"),
    [
        # TTL after its last event (T0), by event time, once the dedupe time has passed too
        (T0, T0 + 29 * 86400, False),
        (T0, T0 + 30 * 86400, False),
        (T0, T0 + 30 * 86400 + 1, True),
        # read 30 days late: the TTL has passed, but a duplicate is recognised for a day more
        (T0 + 30 * 86400, T0 + 30 * 86400 + 1, False),
        (T0 + 30 * 86400, T0 + 31 * 86400, False),
        (T0 + 30 * 86400, T0 + 31 * 86400 + 1, True),
        # written before the worker's clock was kept: its last event stands in for it
        (None, T0 + 30 * 86400 + 1, True),
    ],
)
def test_kept_for_the_ttl_after_the_last_event_and_dedupe_after_the_last_change(
    changed_at: float | None, now: float, expired: bool
) -> None:
    state = TicketState("billing", None, T0 - 86400, solves=(T0,), changed_at=changed_at)
    assert is_expired(state, now, dedupe=86400, ttl=30 * 86400, orphan_ttl=3600) is expired


@pytest.mark.parametrize(("now", "expired"), [(T0 + 3600, False), (T0 + 3600.001, True)])
def test_events_of_a_ticket_never_created_are_kept_only_the_orphan_ttl(now: float, expired: bool) -> None:
    """By the worker's clock since they were read: a late ``created`` comes soon after them."""
    orphan = TicketState(replies=(T0 - 86400,), changed_at=T0)
    assert is_expired(orphan, now, dedupe=86400, ttl=30 * 86400, orphan_ttl=3600) is expired


@pytest.mark.parametrize(
    "state",
    [
        TicketState("billing", None, T0 - 86400, solves=(T0,), changed_at=T0),  # the TTL decides
        TicketState("billing", None, T0 - 86400, solves=(T0,), changed_at=T0 + 30 * 86400),  # read 30 days late
        TicketState("billing", None, T0, replies=(T0 + HOUR,), reopens=(T0 + 2 * HOUR,), changed_at=T0 + 3 * HOUR),
        TicketState("billing", None, T0 - 86400, solves=(T0,)),  # before the worker's clock was kept
        TicketState(replies=(T0 - 86400,), changed_at=T0),  # never created: the orphan TTL
        TicketState(replies=(T0,)),
    ],
)
@pytest.mark.parametrize(
    ("offset", "expired"), [(-1.0, False), (-0.001, False), (0.0, False), (0.001, True), (60.0, True)]
)
def test_kept_until_is_when_is_expired_turns(state: TicketState, offset: float, expired: bool) -> None:
    """Kept up to that time, strictly, and forgotten from just after it (expiry visits it then)."""
    retention = {"dedupe": 86400.0, "ttl": 30 * 86400.0, "orphan_ttl": 3600.0}
    assert is_expired(state, kept_until(state, **retention) + offset, **retention) is expired


def test_a_ticket_keeps_at_most_so_many_steps_of_each_kind() -> None:
    full = TicketState("billing", None, T0, reopens=tuple(T0 + n for n in range(MAX_STEPS)))
    assert not has_room(full, ev("reopened", T0 + MAX_STEPS))
    assert has_room(full, ev("replied", T0 + 1)) and has_room(None, ev("reopened", T0))
