"""The late-delivery tests' scenario builder and truth (tests/integration/late_scenario.py) against
a tiny scenario computed by hand."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.integration.events import iso
from tests.integration.late_scenario import (
    CONTACT_TOPICS,
    Message,
    Truth,
    build_scenario,
    record_order,
    seconds,
    window_start,
)

#: 2026-11-22 10:00:00 UTC: a bucket start of both rolling windows, ten hours into the day.
T0 = 1795341600.0


def message(topic: str, kind: str, ts: float, key: str, **fields: Any) -> Message:
    event = {"event_id": fields.pop("event_id", f"{key}-{kind}-{ts}"), "type": kind, "ts": iso(ts), **fields}
    return Message(topic, key.encode(), json.dumps(event).encode(), ts, key)


def call(kind: str, contact_id: str, ts: float, **fields: Any) -> Message:
    return message("calls", f"contact.{kind}", ts, contact_id, contact_id=contact_id, **fields)


def ticket(kind: str, ts: float, **fields: Any) -> Message:
    return message("tickets", f"ticket.{kind}", ts, "t1", contact_id="t1", **fields)


def survey(kind: str, event_id: str, ts: float, score: int, channel: str | None = None) -> Message:
    fields = {"channel": channel} if channel else {}
    return message("surveys", f"survey.{kind}", ts, event_id, event_id=event_id, queue="q", score=score, **fields)


def agent(agent_id: str, ts: float, state: str, *queues: str) -> Message:
    return message("agents", "agent.state", ts, agent_id, agent_id=agent_id, queues=list(queues), state=state)


TINY = [
    # waits 20 (within the 20 s service level) and 21; handle 100 and 179; the first answer sent twice
    call("queued", "c1", T0 - 300, queue="q"),
    call("answered", "c1", T0 - 280, agent_id="a1"),
    call("answered", "c1", T0 - 280, agent_id="a1"),
    call("ended", "c1", T0 - 200),
    call("wrapped", "c1", T0 - 180, resolved=True),
    call("queued", "c2", T0 - 300, queue="q"),
    call("answered", "c2", T0 - 279, agent_id="a2"),
    call("wrapped", "c2", T0 - 100, resolved=False),
    # abandoned after 5 s (not short) and after 4 s (short)
    call("queued", "c3", T0 - 250, queue="q"),
    call("abandoned", "c3", T0 - 245),
    call("queued", "c4", T0 - 250, queue="q"),
    call("abandoned", "c4", T0 - 246),
    call("queued", "c5", T0 - 60, queue="q"),  # still waiting
    call("answered", "c6", T0 - 50, agent_id="a1"),  # never queued: measures nothing
    # before the 15m window (from T0 - 900), in 1h: answered after 10 s
    call("queued", "c7", T0 - 1200, queue="q"),
    call("answered", "c7", T0 - 1190, agent_id="a1"),
    # before the 1h window (from T0 - 3600), today: abandoned after 50 s
    call("queued", "c8", T0 - 3700, queue="q"),
    call("abandoned", "c8", T0 - 3650),
    # first public reply 100 s (the private note and the repeated reply do not count), solved after 300 s
    ticket("created", T0 - 600, queue="q"),
    ticket("replied", T0 - 590, agent_id="a1", public=False),
    ticket("replied", T0 - 500, agent_id="a1"),
    ticket("replied", T0 - 500, agent_id="a1"),
    ticket("replied", T0 - 400, agent_id="a1"),
    ticket("solved", T0 - 300),
    survey("csat", "s1", T0 - 100, 5, "voice"),
    survey("csat", "s1", T0 - 100, 5, "voice"),
    survey("csat", "s2", T0 - 100, 3),
    survey("nps", "n1", T0 - 90, 10, "voice"),
    survey("nps", "n2", T0 - 90, 9, "voice"),
    survey("nps", "n3", T0 - 90, 3, "voice"),
    # a1 busy in q; a2 moved from q and r to r alone, away; newest first
    agent("a1", T0 - 50, "busy", "q"),
    agent("a1", T0 - 100, "available", "q"),
    agent("a2", T0 - 20, "away", "r"),
    agent("a2", T0 - 30, "available", "q", "r"),
]

ABSENT_IN_CALLS = {
    "repeat_contact_ratio": None,
    "average_first_response_seconds": None,
    "average_resolution_seconds": None,
    "ces_score": None,
    "employee_nps_score": None,
}
VOICE_15M = {
    "contacts_offered": 5,
    "contacts_answered": 2,
    "contacts_abandoned": 2,
    "contacts_completed": 3,
    "average_wait_seconds": 20.5,
    "max_wait_seconds": 21.0,
    "service_level_ratio": 1 / 3,
    "abandon_ratio": 1 / 3,
    "average_handle_seconds": 139.5,
    "fcr_ratio": 0.5,
    "csat_score": 5.0,
    "csat_satisfied_ratio": 1.0,
    "nps_score": 100 / 3,
    **ABSENT_IN_CALLS,
}
VOICE_1H = {
    **VOICE_15M,
    "contacts_offered": 6,
    "contacts_answered": 3,
    "contacts_completed": 4,
    "average_wait_seconds": 17.0,
    "service_level_ratio": 0.5,
    "abandon_ratio": 0.25,
}
VOICE_TODAY = {
    **VOICE_1H,
    "contacts_offered": 7,
    "contacts_abandoned": 3,
    "contacts_completed": 5,
    "max_wait_seconds": 50.0,
    "service_level_ratio": 0.4,
    "abandon_ratio": 0.4,
}
NOTHING = {
    "contacts_offered": 0,
    "contacts_answered": 0,
    "contacts_abandoned": 0,
    "contacts_completed": 0,
    "average_wait_seconds": None,
    "max_wait_seconds": None,
    "service_level_ratio": None,
    "abandon_ratio": None,
    "average_handle_seconds": None,
    "fcr_ratio": None,
    "csat_score": None,
    "csat_satisfied_ratio": None,
    "nps_score": None,
    **ABSENT_IN_CALLS,
}
TICKET = {
    **NOTHING,
    "contacts_offered": 1,
    "average_first_response_seconds": 100.0,
    "average_resolution_seconds": 300.0,
}
UNKNOWN = {**NOTHING, "csat_score": 3.0, "csat_satisfied_ratio": 0.0}
NO_AGENTS = dict.fromkeys(("available", "busy", "wrapup", "away", "offline"), 0)

EXPECTED = {
    "q/voice": {
        "contacts_waiting": 1,
        "oldest_waiting_seconds": 60.0,
        "15m": VOICE_15M,
        "1h": VOICE_1H,
        "today": VOICE_TODAY,
    },
    "q/ticket": {"contacts_waiting": 0, "oldest_waiting_seconds": 0.0, "15m": TICKET, "1h": TICKET, "today": TICKET},
    "q/unknown": {
        "contacts_waiting": 0,
        "oldest_waiting_seconds": 0.0,
        "15m": UNKNOWN,
        "1h": UNKNOWN,
        "today": UNKNOWN,
    },
    "agents/q": {**NO_AGENTS, "busy": 1},
    "agents/r": {**NO_AGENTS, "away": 1},
}


def test_the_truth_of_a_tiny_scenario_is_the_hand_computed_one() -> None:
    # Exact: every wait and handle time is whole seconds, every mean a float the hand computes too.
    assert Truth(TINY).view(T0, ["q", "r"]) == EXPECTED


def test_the_truth_does_not_depend_on_the_order_of_the_messages() -> None:
    shuffled = TINY[:]
    random.Random(7).shuffle(shuffled)
    assert Truth(shuffled).view(T0, ["q", "r"]) == Truth(TINY).view(T0, ["q", "r"])


def test_the_truth_moves_with_now() -> None:
    """At T0 + 700 the 15m window starts at T0 - 200: c1's and c2's waits (answered at T0 - 280) left it."""
    later = Truth(TINY).view(T0 + 700, ["q"])
    assert later["q/voice"]["15m"]["contacts_answered"] == 0
    assert later["q/voice"]["1h"]["contacts_answered"] == 3
    assert later["q/voice"]["oldest_waiting_seconds"] == 760.0


@pytest.mark.parametrize(
    ("window", "now", "start"),
    [
        ("15m", T0, T0 - 900),
        ("15m", T0 + 30, T0 - 840),  # the bucket that holds now - 900 is not wholly inside: left out
        ("1h", T0 + 30, T0 - 3600 + 240),
        ("today", T0, T0 - 10 * 3600),
    ],
)
def test_window_start(window: str, now: float, start: float) -> None:
    assert window_start(window, now) == start


def test_the_scenario_is_seeded_and_in_its_span() -> None:
    now = T0 + 0.25
    scenario = build_scenario(now, ("a", "b"))
    assert scenario == build_scenario(now, ("a", "b"))
    assert all(T0 - 720 <= m.ts <= T0 - 30 and seconds(json.loads(m.value)["ts"]) == m.ts for m in scenario)


def test_the_scenario_has_every_outcome_and_duplicates() -> None:
    scenario = build_scenario(T0, ("a", "b"))
    view = Truth(scenario).view(T0, ("a", "b"))
    channels = ("voice", "chat", "ticket", "unknown")
    assert set(view) == {f"{q}/{c}" for q in "ab" for c in channels} | {"agents/a", "agents/b"}
    for queue in "ab":
        for channel in CONTACT_TOPICS.values():
            entry = view[f"{queue}/{channel}"]
            kpis = entry["15m"]
            assert entry["contacts_waiting"] > 0
            assert kpis["contacts_answered"] + kpis["contacts_abandoned"] > kpis["contacts_completed"]  # short abandons
            assert 0 < kpis["service_level_ratio"] < 1 and 0 < kpis["abandon_ratio"] < 1
            assert 0 < kpis["fcr_ratio"] < 1
            assert kpis["contacts_offered"] > kpis["contacts_answered"] + kpis["contacts_abandoned"]
        assert view[f"{queue}/ticket"]["15m"]["average_resolution_seconds"] is not None
        assert view[f"{queue}/voice"]["15m"]["nps_score"] is not None
    types_sent_twice = {json.loads(m.value)["type"] for m in scenario if scenario.count(m) == 2}
    assert {"contact.answered", "survey.csat", "survey.nps", "ticket.replied", "agent.state"} <= types_sent_twice


def test_record_order_sends_each_contact_together_when_it_ends_scrambled() -> None:
    scenario = build_scenario(T0, ("a",))
    ordered = record_order(scenario)
    assert sorted(ordered, key=repr) == sorted(scenario, key=repr)
    groups = [m.group for n, m in enumerate(ordered) if n == 0 or ordered[n - 1].group != m.group]
    assert len(groups) == len(set(groups)), "a group's messages are not together"
    ends = [max(m.ts for m in scenario if m.group == group) for group in groups]
    assert ends == sorted(ends)
    first_step = {}
    for m in ordered:
        first_step.setdefault(m.group, json.loads(m.value)["type"])
    assert sum(step != "contact.queued" for group, step in first_step.items() if "-calls-" in group) > 10
