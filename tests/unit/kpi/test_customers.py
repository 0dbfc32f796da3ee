"""stream.kpi.customers: first-contact resolution and repeat contacts from a customer's history (SPEC §4)."""

from __future__ import annotations

import itertools

import pytest

from stream.kpi.customers import MAX_VISITS_PER_CUSTOMER, CustomerState, Visit, apply_visit, derive_facts, expire_visits
from stream.kpi.facts import Fact

#: 2026-11-22T10:00:00Z
T0 = 1795341600.0
DAY = 86400.0
LOOKBACK = 7 * DAY


def call(
    contact: str,
    started: float,
    wrapped: float | None = None,
    resolved: bool | None = None,
    queue: str = "sales",
    channel: str = "voice",
) -> Visit:
    return Visit("k-1", contact, queue, channel, started, wrapped, resolved)


def net(facts: list[Fact]) -> dict[tuple[str, str, float], float]:
    """(kind, contact, ts) -> value, once retractions cancel what they take back."""
    totals: dict[tuple[str, str, float], list[float]] = {}
    for f in facts:
        counted = totals.setdefault((f.kind, f.contact_id, f.ts), [0, 0.0])
        counted[0] += -1 if f.retraction else 1
        counted[1] += -f.value if f.retraction else f.value
    assert all(count in (0, 1) for count, _ in totals.values())
    return {key: value for key, (count, value) in totals.items() if count}


def feed(visits: list[Visit]) -> tuple[CustomerState, list[Fact]]:
    state = CustomerState()
    facts: list[Fact] = []
    for visit in visits:
        facts += apply_visit(state, visit, LOOKBACK)
    return state, facts


def test_a_first_contact_resolved_counts_for_fcr() -> None:
    _, facts = feed([call("c1", T0), call("c1", T0, T0 + 300, resolved=True)])
    assert facts == [
        Fact("repeat", "sales", "voice", "c1", T0, 0.0),
        Fact("fcr", "sales", "voice", "c1", T0 + 300, 1.0),
    ]


def test_a_first_contact_not_resolved_counts_as_wrapped_only() -> None:
    _, facts = feed([call("c1", T0, T0 + 300, resolved=False)])
    assert net(facts) == {("repeat", "c1", T0): 0.0, ("fcr", "c1", T0 + 300): 0.0}


@pytest.mark.parametrize(
    ("gap", "repeat"),
    [
        (LOOKBACK - 1, True),
        (LOOKBACK, True),  # exactly 7 days earlier is still within the lookback
        (LOOKBACK + 1, False),
    ],
)
def test_lookback_edge(gap: float, repeat: bool) -> None:
    """The second contact, resolved, repeats the first only if it started within 7 days of it."""
    _, facts = feed([call("c1", T0 - gap, T0 - gap + 60, resolved=True), call("c2", T0, T0 + 60, resolved=True)])
    assert net(facts)[("repeat", "c2", T0)] == (1.0 if repeat else 0.0)
    assert net(facts)[("fcr", "c2", T0 + 60)] == (0.0 if repeat else 1.0)
    # The first contact is never a repeat, and was resolved on first contact.
    assert net(facts)[("fcr", "c1", T0 - gap + 60)] == 1.0


def test_an_earlier_contact_arriving_late_corrects_the_later_one() -> None:
    """c2 (resolved) first counts as first-contact resolved; c1, started an hour before it,
    arrives later: c2 becomes a repeat and its FCR is taken back."""
    state, _ = feed([call("c2", T0, T0 + 60, resolved=True)])
    assert apply_visit(state, call("c1", T0 - 3600), LOOKBACK) == [
        Fact("repeat", "sales", "voice", "c2", T0, 0.0, retraction=True),
        Fact("fcr", "sales", "voice", "c2", T0 + 60, 1.0, retraction=True),
        Fact("repeat", "sales", "voice", "c2", T0, 1.0),
        Fact("fcr", "sales", "voice", "c2", T0 + 60, 0.0),
        Fact("repeat", "sales", "voice", "c1", T0 - 3600, 0.0),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_arrival_order_does_not_change_the_net_facts(order: tuple[int, ...]) -> None:
    """A ticket, then a call resolved, then a chat resolved a day later (all within 7 days):
    only the ticket is not a repeat; neither wrapped contact is resolved on first contact."""
    visits = [
        call("t1", T0 - DAY, channel="ticket", queue="billing"),
        call("c1", T0),
        call("c1", T0, T0 + 120, resolved=True),
        call("h1", T0 + DAY, T0 + DAY + 600, resolved=True, channel="chat"),
    ]
    _, facts = feed([visits[i] for i in order])
    assert net(facts) == {
        ("repeat", "t1", T0 - DAY): 0.0,
        ("repeat", "c1", T0): 1.0,
        ("fcr", "c1", T0 + 120): 0.0,
        ("repeat", "h1", T0 + DAY): 1.0,
        ("fcr", "h1", T0 + DAY + 600): 0.0,
    }


def test_tickets_take_no_fcr() -> None:
    state, _ = feed([call("t1", T0, channel="ticket")])
    assert [f.kind for f in derive_facts(state, LOOKBACK).values()] == ["repeat"]


def test_the_same_visit_again_changes_nothing() -> None:
    state, facts = feed([call("c1", T0, T0 + 60, resolved=True)])
    assert apply_visit(state, call("c1", T0, T0 + 60, resolved=True), LOOKBACK) == []


def test_contacts_at_the_same_instant_do_not_repeat_each_other() -> None:
    _, facts = feed([call("c1", T0), call("c2", T0)])
    assert net(facts) == {("repeat", "c1", T0): 0.0, ("repeat", "c2", T0): 0.0}


def test_expiry_forgets_old_visits_without_retracting() -> None:
    state, _ = feed([call("c1", T0 - 8 * DAY), call("c2", T0)])
    assert expire_visits(state, T0, retention=LOOKBACK) is True
    assert set(state.visits) == {"c2"}
    assert expire_visits(state, T0, retention=LOOKBACK) is False


def test_wire_round_trip() -> None:
    state, _ = feed([call("c1", T0, T0 + 60, resolved=True), call("t1", T0 + 5, channel="ticket")])
    assert CustomerState.from_wire(state.to_wire()) == state


def test_a_placeholder_customer_keeps_a_bounded_history() -> None:
    """A customer id shared by thousands of contacts keeps the latest MAX_VISITS_PER_CUSTOMER;
    forgetting the oldest retracts nothing."""
    state = CustomerState()
    sent: list[Fact] = []
    for n in range(MAX_VISITS_PER_CUSTOMER + 50):
        sent += apply_visit(state, Visit("anonymous", f"c{n}", "sales", "voice", T0 + n), LOOKBACK)
    assert len(state.visits) == MAX_VISITS_PER_CUSTOMER
    assert min(v.started for v in state.visits.values()) == T0 + 50
    assert not any(f.retraction for f in sent)
    # Every contact after the first is a repeat: 1 first contact, the rest repeats.
    assert sorted(f.value for f in sent) == [0.0] + [1.0] * (MAX_VISITS_PER_CUSTOMER + 49)
