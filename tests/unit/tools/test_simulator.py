"""stream.tools.simulator.Simulation: the generated stream must be a realistic, valid contact centre."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import decode_event
from stream.kpi.contacts import ContactState, Lifecycle, apply_event
from stream.kpi.tickets import TicketState, apply_ticket_event
from stream.tools.simulator import Emitted, Simulation, SimulationConfig, encode

#: 2026-11-22 10:00:00 UTC
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
HOURS = 2

ANSWERED_PATH = ["contact.queued", "contact.answered", "contact.ended", "contact.wrapped"]
ABANDONED_PATH = ["contact.queued", "contact.abandoned"]

CONFIGS = {
    "default": SimulationConfig(),
    # overloaded: long queues, many abandons, agents always busy
    "busy": SimulationConfig(rate=2.0, agents=12, queues=("sales", "support"), patience_mean_seconds=120.0),
    # one queue, many chats
    "chatty": SimulationConfig(rate=1.0, agents=40, queues=("help",), chat_share=0.9),
}


def simulate(config: SimulationConfig, seed: int, step: float = 1.0, hours: float = HOURS) -> list[Emitted]:
    """Advance a seeded simulation over simulated time, checking that each batch is due by then."""
    simulation = Simulation(config, start=START, seed=seed)
    emitted: list[Emitted] = []
    now = START
    while now < START + hours * 3600:
        now += step
        batch = simulation.advance(now)
        for _, event in batch:
            assert ts_of(event) <= now + 0.001, "advance() returned an event from the future"
        emitted.extend(batch)
    return emitted


def ts_of(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def run(request: pytest.FixtureRequest) -> tuple[SimulationConfig, list[Emitted]]:
    config = CONFIGS[request.param]
    return config, simulate(config, seed=20261122)


def calls_and_chats(emitted: list[Emitted]) -> list[Emitted]:
    return [(source, event) for source, event in emitted if source in ("voice", "chat")]


def by_contact(emitted: list[Emitted]) -> dict[str, list[Emitted]]:
    """Calls and chats, by contact."""
    contacts: dict[str, list[Emitted]] = defaultdict(list)
    for channel, event in calls_and_chats(emitted):
        contacts[event["contact_id"]].append((channel, event))
    return contacts


def test_stream_is_not_trivial(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Guards the other checks against passing vacuously: every event type occurs, on every topic."""
    _, emitted = run
    types = {event["type"] for _, event in emitted}
    assert types == set(ANSWERED_PATH) | set(ABANDONED_PATH) | {
        "ticket.created",
        "ticket.replied",
        "ticket.solved",
        "ticket.reopened",
        "survey.csat",
        "survey.nps",
        "survey.ces",
        "survey.esat",
        "agent.state",
    }
    assert {source for source, _ in emitted} == {"voice", "chat", "ticket", "survey", "agent"}
    assert len(by_contact(emitted)) > 1000


def test_every_event_validates(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    _, emitted = run
    for _, event in emitted:
        decoded = decode_event(encode(event))
        assert decoded.type == event["type"]
        assert decoded.event_id == event["event_id"]
        assert event["ts"].endswith("Z")  # always with an offset


def test_event_ids_are_unique(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    _, emitted = run
    ids = [event["event_id"] for _, event in emitted]
    assert len(set(ids)) == len(ids)


def test_lifecycle_order(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Each contact's events come in order queued -> answered|abandoned -> ended -> wrapped,
    both in emission order and in event time, and a contact is never both answered and abandoned."""
    _, emitted = run
    for contact_id, events in by_contact(emitted).items():
        types = [event["type"] for _, event in events]
        assert types == ANSWERED_PATH[: len(types)] or types == ABANDONED_PATH[: len(types)], (contact_id, types)
        assert not ("contact.answered" in types and "contact.abandoned" in types), contact_id
        times = [ts_of(event) for _, event in events]
        assert times == sorted(times), (contact_id, times)
        # one channel per contact, and the id says which ('v-' voice, 'c-' chat)
        assert {channel for channel, _ in events} == {"voice" if contact_id.startswith("v-") else "chat"}


def test_queue_and_customer_only_on_queued(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    config, emitted = run
    for _, event in calls_and_chats(emitted):
        if event["type"] == "contact.queued":
            assert event["queue"] in config.queues
            assert event["customer_id"].startswith("cust-")
        else:
            assert "queue" not in event  # later events inherit the queue (SPEC §3)


def test_old_contacts_are_finished(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """A contact queued in the first hour has long been answered or abandoned by the end (2 h):
    patience is exponential with a mean of at most 120 s."""
    _, emitted = run
    for contact_id, events in by_contact(emitted).items():
        if ts_of(events[0][1]) < START + 3600:
            types = {event["type"] for _, event in events}
            assert types & {"contact.answered", "contact.abandoned"}, contact_id


def test_agents_handle_one_contact_at_a_time(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Per agent, the intervals answered.ts .. wrapped.ts never overlap, and each agent serves one queue."""
    config, emitted = run
    contacts = by_contact(emitted)
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    queues_of_agent: dict[str, set[str]] = defaultdict(set)
    for events in contacts.values():
        steps = {event["type"]: event for _, event in events}
        if "contact.answered" not in steps:
            continue
        agent = steps["contact.answered"]["agent_id"]
        queues_of_agent[agent].add(steps["contact.queued"]["queue"])
        start = ts_of(steps["contact.answered"])
        end = ts_of(steps["contact.wrapped"]) if "contact.wrapped" in steps else float("inf")  # still busy
        intervals[agent].append((start, end))
    assert len(intervals) <= config.agents
    for agent, spans in intervals.items():
        spans.sort()
        for (_, previous_end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert next_start >= previous_end, agent
    assert all(len(queues) == 1 for queues in queues_of_agent.values())


def test_stream_feeds_the_lifecycle_without_conflicts(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Through stream.kpi.contacts, no simulated event is a duplicate or a conflicting outcome."""
    _, emitted = run
    states: dict[str, ContactState] = {}
    for channel, event in calls_and_chats(emitted):
        lifecycle = Lifecycle(
            event["type"].removeprefix("contact."),
            ts_of(event),
            event["contact_id"],
            channel,
            event.get("queue"),
            event.get("customer_id"),
            event.get("resolved"),
        )
        result = apply_event(states.get(lifecycle.contact_id), lifecycle, lifecycle.ts)
        assert result is not None, event
        states[lifecycle.contact_id] = result[0]


def test_same_seed_same_stream() -> None:
    config = SimulationConfig(rate=1.0, agents=10)
    assert simulate(config, seed=7, hours=0.25) == simulate(config, seed=7, hours=0.25)
    assert simulate(config, seed=7, hours=0.25) != simulate(config, seed=8, hours=0.25)


def test_step_size_does_not_change_the_stream() -> None:
    """The model runs on event time: advancing in 1 s or 60 s steps yields the same events."""
    config = SimulationConfig(rate=1.0, agents=10)
    assert simulate(config, seed=3, step=1.0, hours=0.5) == simulate(config, seed=3, step=60.0, hours=0.5)


def test_nothing_before_start_and_next_due() -> None:
    simulation = Simulation(SimulationConfig(), start=START, seed=1)
    # At the start every agent signs in as available; the first arrival is strictly after it.
    first = simulation.advance(START)
    assert {(source, event["type"], event["state"]) for source, event in first} == {
        ("agent", "agent.state", "available")
    }
    assert len(first) == SimulationConfig().agents
    upcoming = simulation.next_due()
    assert upcoming is not None and upcoming > START


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": -1.0},
        {"queues": ()},
        {"agents": 0},
        {"chat_share": -0.1},
        {"chat_share": 1.5},
        {"survey_share": 2.0},
        {"ticket_rate": -0.1},
    ],
)
def test_config_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**kwargs)


def test_every_queue_is_staffed_when_there_are_enough_agents() -> None:
    """Agents are shared out by traffic with at least one per queue (max(1, round(...)) in
    Simulation.__init__). With 3 agents and the 3 default queues every queue can and should get
    one agent, so over an hour each queue answers some contacts. Rounding gives sales 2 and
    support 1 first, exhausting the pool, so billing gets none and abandons every contact."""
    emitted = simulate(SimulationConfig(agents=3), seed=5, hours=1)
    queue_of = {e["contact_id"]: e["queue"] for _, e in calls_and_chats(emitted) if e["type"] == "contact.queued"}
    answered_per_queue = {queue: 0 for queue in ("sales", "support", "billing")}
    for _, event in calls_and_chats(emitted):
        if event["type"] == "contact.answered":
            answered_per_queue[queue_of[event["contact_id"]]] += 1
    assert all(count > 0 for count in answered_per_queue.values()), answered_per_queue


def test_tickets_feed_the_ticket_lifecycle(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Every ticket starts with its creation, nothing repeats, and some are reopened and solved again."""
    config, emitted = run
    states: dict[str, TicketState] = {}
    reopened = resolved_after_reopen = private = 0
    for source, event in emitted:
        if source != "ticket":
            continue
        assert event["type"].startswith("ticket."), event
        if event["type"] == "ticket.created":
            assert event["contact_id"] not in states and event["queue"] in config.queues
        else:
            assert event["contact_id"] in states, event  # emitted after its creation
        if event.get("public") is False:
            private += 1
            continue  # private notes do not reach the lifecycle
        result = apply_ticket_event(
            states.get(event["contact_id"]),
            Lifecycle(
                event["type"].removeprefix("ticket."),
                ts_of(event),
                event["contact_id"],
                "ticket",
                event.get("queue"),
                event.get("customer_id"),
            ),
            ts_of(event),
        )
        assert result is not None, event
        states[event["contact_id"]] = result[0]
    for state in states.values():
        reopened += len(state.reopens)
        resolved_after_reopen += bool(state.reopens) and bool(state.solves) and state.solves[-1] > state.reopens[-1]
    assert len(states) > 100 and reopened > 0 and resolved_after_reopen > 0 and private > 0


def test_survey_scores_fall_with_the_wait(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Customers answered within 20 s give a better mean CSAT than those who waited over 2 minutes."""
    _, emitted = run
    waits: dict[str, float] = {}
    for contact_id, events in by_contact(emitted).items():
        steps = {event["type"]: ts_of(event) for _, event in events}
        if "contact.answered" in steps:
            waits[contact_id] = steps["contact.answered"] - steps["contact.queued"]
    quick, slow = [], []
    for source, event in emitted:
        if source == "survey" and event["type"] == "survey.csat" and event.get("contact_id") in waits:
            wait = waits[event["contact_id"]]
            (quick if wait <= 20 else slow if wait > 120 else []).append(event["score"])
    if len(slow) < 10:
        pytest.skip("too few long waits in this configuration to compare")
    assert sum(quick) / len(quick) > sum(slow) / len(slow) + 0.5


def test_customers_come_back(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    _, emitted = run
    customers = [e["customer_id"] for _, e in emitted if e["type"] in ("contact.queued", "ticket.created")]
    assert len(set(customers)) < len(customers)


def test_agent_states_follow_the_work(run: tuple[SimulationConfig, list[Emitted]]) -> None:
    """Per agent, states come in time order, busy from dispatch until the conversation ends,
    then wrap-up, then available (or away first); every agent serves its one queue."""
    config, emitted = run
    history: dict[str, list[str]] = defaultdict(list)
    last_ts: dict[str, float] = {}
    for source, event in emitted:
        if source != "agent":
            continue
        agent = event["agent_id"]
        assert ts_of(event) >= last_ts.get(agent, 0.0)
        last_ts[agent] = ts_of(event)
        assert len(event["queues"]) == 1 and event["queues"][0] in config.queues
        history[agent].append(event["state"])
    assert len(history) == config.agents
    allowed = {"available": {"busy"}, "busy": {"wrapup"}, "wrapup": {"available", "away"}, "away": {"available"}}
    for agent, states in history.items():
        assert states[0] == "available", agent
        for before, after in zip(states, states[1:], strict=False):
            assert after in allowed[before], (agent, before, after)
