"""stream.kpi.presence: each agent's latest state, counted per queue (SPEC §4 'agents by state')."""

from __future__ import annotations

import itertools

import pytest

from stream.kpi.ids import id_key
from stream.kpi.presence import (
    MAX_AGENTS_PER_QUEUE,
    NO_PLACE,
    AgentUpdate,
    Presence,
    QueuePresence,
    agent_expired,
    agent_kept_until,
    agents_by_state,
    agents_serving,
    apply_agent_update,
    apply_presence,
    distinct_agents_by_state,
    forget_gone,
    kept_update,
    longest_in_state,
)

T0 = 1795341600.0
#: When the queue side records a presence: a day after T0, as after an outage.
RECORDED = T0 + 86400
ZERO = {"available": 0, "busy": 0, "wrapup": 0, "away": 0, "offline": 0}


def update(agent: str, ts: float, state: str, *queues: str) -> AgentUpdate:
    return AgentUpdate(agent, ts, state, queues)


def run(updates: list[AgentUpdate]) -> dict[str, QueuePresence]:
    """The agent stage then the queue side, as the pipeline runs them."""
    latest: dict[str, AgentUpdate] = {}
    queues: dict[str, QueuePresence] = {}
    for u in updates:
        presences = apply_agent_update(latest.get(u.agent_id), u)
        if presences is None:
            continue
        latest[u.agent_id] = u
        for presence in presences:
            apply_presence(queues.setdefault(presence.queue, QueuePresence()), presence, RECORDED)
    return queues


def counts(queues: dict[str, QueuePresence]) -> dict[str, dict[str, int]]:
    return {queue: {s: n for s, n in agents_by_state(state).items() if n} for queue, state in queues.items()}


def test_an_agent_serving_several_queues_counts_in_each() -> None:
    queues = run([update("a1", T0, "available", "sales", "support"), update("a2", T0, "busy", "sales")])
    assert counts(queues) == {"sales": {"available": 1, "busy": 1}, "support": {"available": 1}}
    assert agents_by_state(queues["support"]) == {**ZERO, "available": 1}


def latest_states(updates: list[AgentUpdate]) -> list[AgentUpdate]:
    """The agents table after ``updates``: each agent's latest state, as the agent stage keeps it."""
    latest: dict[str, AgentUpdate] = {}
    for u in updates:
        if apply_agent_update(latest.get(u.agent_id), u) is not None:
            latest[u.agent_id] = u
    return list(latest.values())


def test_an_agent_serving_several_queues_counts_once_in_the_distinct_count() -> None:
    updates = [
        update("a1", T0, "busy", "sales", "support"),
        update("a2", T0, "available", "sales"),
        update("a2", T0 + 60, "busy", "sales"),  # replaces a2's earlier state
        update("a3", T0, "away", "support"),
        update("a4", T0 + 60, "offline"),  # logged off from every queue: in no queue's count, once here
    ]
    queues = run(updates)
    assert sum(agents_by_state(state)["busy"] for state in queues.values()) == 3  # a1 in both queues, a2
    assert distinct_agents_by_state(latest_states(updates)) == {**ZERO, "busy": 2, "away": 1, "offline": 1}


def test_the_distinct_count_has_every_state_without_agents() -> None:
    assert distinct_agents_by_state([]) == ZERO


def test_a_later_state_replaces_an_earlier_one() -> None:
    queues = run([update("a1", T0, "available", "sales"), update("a1", T0 + 60, "busy", "sales")])
    assert counts(queues) == {"sales": {"busy": 1}}


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_out_of_order_states_end_in_the_latest(order: tuple[int, ...]) -> None:
    updates = [
        update("a1", T0, "available", "sales"),
        update("a1", T0 + 60, "busy", "sales"),
        update("a1", T0 + 120, "wrapup", "sales"),
    ]
    assert counts(run([updates[i] for i in order])) == {"sales": {"wrapup": 1}}


def test_leaving_a_queue_removes_the_agent_from_it() -> None:
    queues = run([update("a1", T0, "available", "sales", "support"), update("a1", T0 + 60, "away", "support")])
    assert counts(queues) == {"sales": {}, "support": {"away": 1}}


def test_an_older_update_cannot_bring_a_departed_agent_back() -> None:
    """The queue side keeps the departure, so a re-delivered older presence is ignored."""
    sales = QueuePresence()
    assert apply_presence(sales, Presence("sales", "a1", None, T0 + 60), RECORDED)
    assert not apply_presence(sales, Presence("sales", "a1", "available", T0), RECORDED)
    assert agents_by_state(sales) == ZERO


def test_duplicates_and_superseded_updates_are_not_newer() -> None:
    first = update("a1", T0, "available", "sales")
    assert apply_agent_update(first, first) is None  # the same update again
    assert apply_agent_update(update("a1", T0 + 60, "busy", "sales"), first) is None  # a newer one is known


def test_an_update_serving_no_queue_still_supersedes_older_ones() -> None:
    """Signed off from every queue at T0 + 100; an update from T0 + 50 arriving later changes nothing."""
    assert apply_agent_update(None, update("a1", T0 + 100, "offline")) == []
    queues = run([update("a1", T0 + 100, "offline"), update("a1", T0 + 50, "available", "sales")])
    assert counts(queues) == {}
    queues = run([update("a1", T0 + 50, "available", "sales"), update("a1", T0 + 100, "offline")])
    assert counts(queues) == {"sales": {}}


def test_repeated_queue_names_count_once() -> None:
    assert apply_agent_update(None, update("a1", T0, "busy", "sales", "sales")) == [Presence("sales", "a1", "busy", T0)]


A1, A2 = id_key("a1"), id_key("a2")


@pytest.mark.parametrize(
    ("now", "kept"),
    [
        (T0 + 600, {A1, A2}),
        # the departure, dated a day before it was recorded (read after an outage), is kept the
        # whole retention from when it was recorded: by the worker's clock, not its age on arrival
        (T0 + 601, {A2}),
        # a present agent goes once its latest state is older than the silence TTL, by event time
        (T0 + 7200, {A2}),
        (T0 + 7200.001, set()),
    ],
)
def test_departed_and_silent_agents_are_forgotten(now: float, kept: set[str]) -> None:
    sales = QueuePresence(
        {A1: (None, T0 - 86400, (0, 1), T0, T0 - 86400), A2: ("busy", T0 - 3600, (0, 0), T0 - 3600, T0 - 3600)}
    )
    assert forget_gone(sales, now, retention=600, silent_ttl=10800) is (kept != {A1, A2})
    assert set(sales.agents) == kept


@pytest.mark.parametrize(("ts", "now", "expired"), [(T0, T0 + 43200, False), (T0, T0 + 43200.001, True)])
def test_an_agent_silent_longer_than_the_ttl_is_forgotten(ts: float, now: float, expired: bool) -> None:
    assert agent_expired(update("a1", ts, "available", "sales"), now, silent_ttl=43200) is expired


@pytest.mark.parametrize("ts", [T0, T0 + 0.25, T0 + 86400 * 400])
@pytest.mark.parametrize(
    ("offset", "expired"), [(-1.0, False), (-0.001, False), (0.0, False), (0.001, True), (60.0, True)]
)
def test_agent_kept_until_is_when_agent_expired_turns(ts: float, offset: float, expired: bool) -> None:
    latest = update("a1", ts, "available", "sales")
    assert agent_expired(latest, agent_kept_until(latest, silent_ttl=43200) + offset, silent_ttl=43200) is expired


def test_a_queue_keeps_at_most_so_many_agents() -> None:
    sales = QueuePresence({id_key(f"x{n}"): ("busy", T0, (0, n), T0, T0) for n in range(MAX_AGENTS_PER_QUEUE)})
    assert sales.has_room_for("x7")  # known
    assert not sales.has_room_for("x-new")


def test_wire_round_trips() -> None:
    u = AgentUpdate("a1", T0, "away", ("sales", "support"), (2, 17))
    assert AgentUpdate.from_wire(u.to_wire()) == u
    p = Presence("sales", "a1", None, T0, (2, 17))
    assert Presence.from_wire(p.to_wire()) == p
    q = QueuePresence({A1: ("busy", T0, (0, 3), T0 + 5, T0 - 60), A2: (None, T0 + 1, NO_PLACE, T0 + 9, T0 + 1)})
    assert QueuePresence.from_wire(q.to_wire()) == q


def test_states_written_before_places_were_recorded_read_without_one() -> None:
    assert AgentUpdate.from_wire(["a1", T0, "away", ["sales"]]) == update("a1", T0, "away", "sales")
    assert Presence.from_wire(["sales", "a1", "busy", T0]) == Presence("sales", "a1", "busy", T0)
    # written with full agent ids, before they were kept as digests: read into the same keys
    assert QueuePresence.from_wire({"a1": ["busy", T0]}).agents == {A1: ("busy", T0, NO_PLACE, T0, T0)}
    assert QueuePresence.from_wire({"a1": ["busy", T0, [0, 3]]}).agents == {A1: ("busy", T0, (0, 3), T0, T0)}
    # written before the state's start was recorded: the state counts from its event
    assert QueuePresence.from_wire({"a1": ["busy", T0, [0, 3], T0 + 5]}).agents == {
        A1: ("busy", T0, (0, 3), T0 + 5, T0)
    }


def test_of_two_states_at_the_same_instant_the_later_in_the_input_wins() -> None:
    """Made available and handed a contact in the same millisecond: the agent is busy, and stays
    busy when the earlier state is read again (a re-delivery after a crash or a rebalance)."""
    available = AgentUpdate("a1", T0, "available", ("sales",), (0, 7))
    busy = AgentUpdate("a1", T0, "busy", ("sales",), (0, 8))
    assert counts(run([available, busy])) == {"sales": {"busy": 1}}
    assert counts(run([available, busy, available])) == {"sales": {"busy": 1}}
    assert apply_agent_update(busy, available) is None


def test_an_earlier_presence_of_the_same_instant_arriving_late_changes_nothing() -> None:
    """A worker that lost the agent's partition sent its last presence after the new owner's."""
    sales = QueuePresence()
    assert apply_presence(sales, Presence("sales", "a1", "busy", T0, (0, 8)), RECORDED)
    assert not apply_presence(sales, Presence("sales", "a1", "available", T0, (0, 7)), RECORDED)
    assert agents_by_state(sales) == {**ZERO, "busy": 1}


def test_without_places_the_later_to_arrive_wins() -> None:
    queues = run([update("a1", T0, "available", "sales"), update("a1", T0, "busy", "sales")])
    assert counts(queues) == {"sales": {"busy": 1}}


def test_longest_in_state_counts_from_when_the_agent_entered_the_state() -> None:
    queues = run(
        [
            update("a1", T0, "away", "sales"),
            update("a2", T0 + 600, "away", "sales"),
            update("a3", T0, "available", "sales"),
            update("a3", T0 + 900, "busy", "sales"),
            # the same state again (the agent's queues changed): still away since T0
            update("a1", T0 + 1200, "away", "sales", "support"),
        ]
    )
    now = T0 + 2400
    assert longest_in_state(queues["sales"], now) == {**ZERO, "away": 2400.0, "busy": 1500.0}
    assert longest_in_state(queues["support"], now) == {**ZERO, "away": 1200.0}


def test_the_agent_stage_keeps_when_the_state_began() -> None:
    away = kept_update(None, update("a1", T0, "away", "sales"))
    assert away.in_state_since == T0
    again = kept_update(away, update("a1", T0 + 600, "away", "sales", "support"))  # its queues changed
    assert again.in_state_since == T0 and again == update("a1", T0 + 600, "away", "sales", "support")
    back = kept_update(again, update("a1", T0 + 900, "available", "sales"))
    assert back.in_state_since == T0 + 900
    assert AgentUpdate.from_wire(again.to_wire()).in_state_since == T0
    assert update("a1", T0, "away").to_wire() == ["a1", T0, "away", [], [-1, -1]]  # no start: none written


def test_agents_serving_a_queue_by_state_longest_first() -> None:
    latest = [
        kept_update(None, update("a1", T0, "away", "sales")),
        kept_update(None, update("a2", T0 - 600, "away", "sales", "support")),
        kept_update(None, update("a3", T0 - 60, "available", "sales")),
        kept_update(None, update("a4", T0 - 900, "busy", "support")),
    ]
    listed = agents_serving(latest, {"sales"}, now=T0 + 60)
    assert [(a["agent_id"], a["state"], a["in_state_seconds"]) for a in listed] == [
        ("a3", "available", 120.0),
        ("a2", "away", 660.0),
        ("a1", "away", 60.0),
    ]
    assert listed[1]["queues"] == ["sales", "support"]
