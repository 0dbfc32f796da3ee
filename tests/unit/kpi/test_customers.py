"""stream.kpi.customers: first-contact resolution and repeat contacts from a customer's history (SPEC §4)."""

from __future__ import annotations

import itertools
import json
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import TICKET
from stream.kpi import customers
from stream.kpi.customers import (
    MAX_VISITS_PER_CUSTOMER,
    CustomerState,
    KeptVisit,
    Visit,
    apply_visit,
    expire_visits,
    next_expiry,
)
from stream.kpi.facts import Fact, changed_facts

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
    _, facts = feed([call("t1", T0, channel="ticket"), call("t1", T0, T0 + 60, resolved=True, channel="ticket")])
    assert [f.kind for f in facts] == ["repeat"]


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
    assert len(state.history) == MAX_VISITS_PER_CUSTOMER
    assert state.history[0].started == T0 + 50
    assert not any(f.retraction for f in sent)
    # Every contact after the first is a repeat: 1 first contact, the rest repeats.
    assert sorted(f.value for f in sent) == [0.0] + [1.0] * (MAX_VISITS_PER_CUSTOMER + 49)


def test_of_visits_that_started_together_the_first_seen_is_forgotten_first() -> None:
    state, _ = feed([call(f"c{n}", T0) for n in range(MAX_VISITS_PER_CUSTOMER + 2)])
    assert [v.contact_id for v in state.history[:2]] == ["c2", "c3"]


def test_next_expiry_is_when_the_oldest_visit_can_go() -> None:
    assert next_expiry(CustomerState(), LOOKBACK) is None
    state, _ = feed([call("c2", T0), call("c1", T0 - DAY), call("c3", T0 + DAY)])
    assert next_expiry(state, LOOKBACK) == T0 - DAY + LOOKBACK
    assert expire_visits(state, T0 - DAY + LOOKBACK, LOOKBACK) is False
    assert expire_visits(state, T0 + LOOKBACK + 1, LOOKBACK) is True
    assert next_expiry(state, LOOKBACK) == T0 + DAY + LOOKBACK


# --------------------------------------------------------------------------- wire forms


def test_the_wire_form_leaves_out_the_customer_id_and_unset_fields() -> None:
    state, _ = feed([call("c1", T0 + 60, T0 + 120, resolved=True), call("t1", T0, channel="ticket", queue="billing")])
    assert state.to_wire() == {
        "history": [["t1", "billing", "ticket", T0], ["c1", "sales", "voice", T0 + 60, T0 + 120, True]]
    }


def test_the_first_wire_form_still_decodes() -> None:
    """Changelogs written before hold each visit as a Visit row, customer id and all, in the order
    the visits were first seen; that order still decides which of equally old visits goes first."""
    visits = [
        call("c2", T0, T0 + 60, resolved=True),
        call("t1", T0 - DAY, channel="ticket", queue="billing"),
        call("c3", T0 - DAY),
        call("c4", T0 + DAY, T0 + DAY + 30),
    ]
    first_form = json.loads(json.dumps([visit.to_wire() for visit in visits]))
    assert first_form[0] == ["k-1", "c2", "sales", "voice", T0, T0 + 60, True]
    state = CustomerState.from_wire(first_form)
    assert state == feed(visits)[0]
    assert [v.contact_id for v in state.history] == ["t1", "c3", "c2", "c4"]
    # And it is written back in the new form, which reads as the same state.
    assert CustomerState.from_wire(json.loads(json.dumps(state.to_wire()))) == state


def test_the_visit_message_between_the_stages_is_unchanged() -> None:
    visit = Visit("k-1", "c1", "sales", "voice", T0)
    assert visit.to_wire() == ["k-1", "c1", "sales", "voice", T0, None, None]
    assert Visit.from_wire(visit.to_wire()) == visit


def test_queue_and_channel_names_are_kept_once() -> None:
    """Names decoded from separate messages are separate strings; the history keeps one of each."""
    rows = [json.loads(json.dumps(call(f"c{n}", T0 + n, queue="sales-emea").to_wire())) for n in range(2)]
    state = CustomerState()
    apply_visit(state, Visit.from_wire(rows[0]), LOOKBACK)
    restored = CustomerState.from_wire(json.loads(json.dumps(state.to_wire())))
    apply_visit(restored, Visit.from_wire(rows[1]), LOOKBACK)
    first, second = restored.history
    assert first.queue is second.queue and first.channel is second.channel


# --------------------------------------------------------------------------- work per visit


def test_a_visit_to_a_customer_with_200_visits_derives_only_the_ones_it_affects() -> None:
    """Visits two lookbacks apart, none of them a repeat; one arriving late half a lookback before
    the 101st makes that one a repeat. Only the new visit and the 101st are derived (not the 200,
    twice, as before), and the oldest is forgotten without a retraction."""
    state, _ = feed([call(f"c{n}", T0 + 2 * n * LOOKBACK, T0 + 2 * n * LOOKBACK + 60, True) for n in range(200)])
    derived: list[Fact] = []

    def counted(*args: Any) -> Fact:
        derived.append(Fact(*args))
        return derived[-1]

    late, c101 = T0 + 201.5 * LOOKBACK, T0 + 202 * LOOKBACK
    with patch.object(customers, "Fact", counted):
        sent = apply_visit(state, call("late", late, late + 60, resolved=True), LOOKBACK)
    assert len(derived) == 6  # the 101st's repeat and fcr before and after, then the late visit's
    assert sent == [
        Fact("repeat", "sales", "voice", "c101", c101, 0.0, retraction=True),
        Fact("fcr", "sales", "voice", "c101", c101 + 60, 1.0, retraction=True),
        Fact("repeat", "sales", "voice", "c101", c101, 1.0),
        Fact("fcr", "sales", "voice", "c101", c101 + 60, 0.0),
        Fact("repeat", "sales", "voice", "late", late, 0.0),
        Fact("fcr", "sales", "voice", "late", late + 60, 1.0),
    ]
    assert len(state.history) == MAX_VISITS_PER_CUSTOMER and state.history[0].contact_id == "c1"


# --------------------------------------------------------------------------- the former algorithm
# Before, every visit's facts were derived before and after each change and the two compared. It is
# kept here, as it was, as the oracle the incremental derivation must agree with.


@dataclass
class Former:
    visits: dict[str, Visit] = field(default_factory=dict)
    cap: int = MAX_VISITS_PER_CUSTOMER


def former_apply(state: Former, visit: Visit, lookback: float) -> list[Fact]:
    known = state.visits.get(visit.contact_id)
    if known is not None and known.wrapped is not None and visit.wrapped is None:
        visit = replace(visit, wrapped=known.wrapped, resolved=known.resolved)
    if known == visit:
        return []
    before = former_derive(state, lookback)
    state.visits[visit.contact_id] = visit
    after = former_derive(state, lookback)
    if len(state.visits) > state.cap:
        oldest = min(state.visits.values(), key=lambda v: v.started).contact_id
        del state.visits[oldest]
        for facts in (before, after):
            facts.pop(f"{oldest}/repeat", None)
            facts.pop(f"{oldest}/fcr", None)
    return changed_facts(before, after)


def former_derive(state: Former, lookback: float) -> dict[str, Fact]:
    starts = sorted(visit.started for visit in state.visits.values())
    facts: dict[str, Fact] = {}
    for visit in state.visits.values():
        before = bisect_left(starts, visit.started)
        repeat = before > 0 and starts[before - 1] >= visit.started - lookback
        key = visit.contact_id
        facts[f"{key}/repeat"] = Fact("repeat", visit.queue, visit.channel, key, visit.started, 1.0 if repeat else 0.0)
        if visit.wrapped is not None and visit.channel != TICKET:
            first_resolved = bool(visit.resolved) and not repeat
            facts[f"{key}/fcr"] = Fact(
                "fcr", visit.queue, visit.channel, key, visit.wrapped, 1.0 if first_resolved else 0.0
            )
    return facts


# Starts on a coarse grid, so that visits start together and exactly a lookback apart.
HOUR = 3600.0
visits = st.builds(
    lambda contact, hour, wrap, resolved, queue, channel: Visit(
        "k-1",
        f"c{contact}",
        queue,
        channel,
        T0 + hour * HOUR,
        None if wrap is None else T0 + hour * HOUR + wrap,
        resolved,
    ),
    st.integers(0, 9),
    st.integers(0, 8),
    st.none() | st.sampled_from([60.0, 600.0]),
    st.none() | st.booleans(),
    st.sampled_from(["sales", "billing"]),
    st.sampled_from(["voice", "chat", TICKET]),
)
#: A new visit (or a changed one: contacts are drawn from ten), a visit sent before wrapped, one sent
#: before sent again (a re-delivery, or an older copy arriving late), or a restart from the changelog
#: (in the new wire form, or in the first one as the former code wrote it).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("visit"), visits),
        st.tuples(st.just("wrap"), st.integers(0, 99), st.sampled_from([30.0, 90.0]), st.none() | st.booleans()),
        st.tuples(st.just("again"), st.integers(0, 99)),
        st.tuples(st.just("restart"), st.booleans()),
    ),
    max_size=40,
)


def compare(steps: list[tuple[Any, ...]], cap: int | None) -> None:
    """Feed ``steps`` to apply_visit and to the former code; both send the same facts at every step.

    Without a ``cap`` no visit is forgotten (there are fewer than MAX_VISITS_PER_CUSTOMER). With
    one, the history must also keep visits that started together in the order first seen, which
    decides which goes first; so visits moved onto another's start are left out there: the former
    code ranked a moved visit by when it was first seen, which the history does not keep. (The
    contact stage never moves a visit: a contact's queued time and a ticket's creation are set once.)
    """
    lookback = 3 * HOUR
    state, former = CustomerState(), Former(cap=cap or MAX_VISITS_PER_CUSTOMER)
    sent: list[Visit] = []
    for step in steps:
        if step[0] == "restart":
            written = [v.to_wire() for v in former.visits.values()] if step[1] else state.to_wire()
            state = CustomerState.from_wire(json.loads(json.dumps(written)))
            continue
        if step[0] == "visit":
            visit = step[1]
        elif not sent:
            continue
        elif step[0] == "again":
            visit = sent[step[1] % len(sent)]
        else:
            earlier = sent[step[1] % len(sent)]
            visit = replace(earlier, wrapped=earlier.started + step[2], resolved=step[3])
        known = former.visits.get(visit.contact_id)
        moved = known is not None and known.started != visit.started
        if cap and moved and any(v.started == visit.started for v in former.visits.values()):
            continue
        with patch.object(customers, "MAX_VISITS_PER_CUSTOMER", former.cap):
            got = apply_visit(state, visit, lookback)
        want = former_apply(former, visit, lookback)
        assert Counter(got) == Counter(want)
        retracting = [f.retraction for f in got]
        assert retracting == sorted(retracting, reverse=True)  # what is taken back comes first
        assert state.visits == {cid: KeptVisit.of(v) for cid, v in former.visits.items()}
        if cap:
            first_seen = sorted(former.visits.values(), key=lambda v: v.started)  # a stable sort
            assert [v.contact_id for v in state.history] == [v.contact_id for v in first_seen]
        sent.append(visit)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_apply_visit_sends_what_deriving_every_visit_sent(steps: list[tuple[Any, ...]]) -> None:
    compare(steps, cap=None)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_with_the_oldest_forgotten_apply_visit_sends_what_deriving_every_visit_sent(
    steps: list[tuple[Any, ...]],
) -> None:
    compare(steps, cap=3)
