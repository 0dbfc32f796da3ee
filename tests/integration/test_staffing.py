"""Staffing on the real worker: a scripted queue with a known arrival rate, handle time, patience
and agents gives, on /api/kpis and /metrics, the values of the documented model (docs/metrics.md,
Staffing) computed here from those inputs with the queueing module; the wallboard in a real headless
Chromium shows them."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaProducer
from playwright.sync_api import Page, expect

from stream.kpi import queueing
from stream.kpi.windows import parse_window
from tests.integration.conftest import Worker, wait_for
from tests.integration.events import make_agent_state, make_event, produce
from tests.integration.scrape import series

pytestmark = pytest.mark.integration

QUEUE = "it-staffing"  # chat_concurrency 2 in the session worker's queue file; service level 80 % in 20 s
ANSWERED, ABANDONED, WAITING = 24, 6, 5
ANSWER_WAIT, ABANDON_WAIT, HANDLE = 10.0, 30.0, 240.0
#: Total time of completed waits over the abandons: (24 x 10 + 6 x 30) / 6.
PATIENCE = (ANSWERED * ANSWER_WAIT + ABANDONED * ABANDON_WAIT) / ABANDONED
#: Agent -> (state, seconds ago it entered it).
AGENTS = {
    "st-1": ("available", 300),
    "st-2": ("available", 200),
    "st-3": ("available", 100),
    "st-4": ("busy", 400),
    "st-5": ("busy", 300),
    "st-6": ("busy", 200),
    "st-7": ("busy", 100),
    "st-8": ("wrapup", 50),
    "st-9": ("away", 2400),
    "st-10": ("away", 600),
}
STAFFED, AVAILABLE = 8, 3
STATE_ORDER = ("available", "busy", "wrapup", "away", "offline")


def produce_contacts(producer: KafkaProducer, topic: str, channel: str, start: float) -> None:
    """Completed contacts queued from 800 s ago, 10 s apart, all wrapped by 260 s ago; then five still waiting."""
    for n in range(ANSWERED + ABANDONED):
        contact, queued = f"st-{channel}-{n}", start - 800 + 10 * n
        if n < ANSWERED:
            events = [
                make_event("contact.queued", contact, queued, queue=QUEUE),
                make_event("contact.answered", contact, queued + ANSWER_WAIT, agent_id="st-4"),
                make_event("contact.wrapped", contact, queued + ANSWER_WAIT + HANDLE, resolved=True),
            ]
        else:
            events = [
                make_event("contact.queued", contact, queued, queue=QUEUE),
                make_event("contact.abandoned", contact, queued + ABANDON_WAIT),
            ]
        for event in events:
            produce(producer, topic, event, contact.encode())
    for n in range(WAITING):
        contact = f"st-{channel}-waiting-{n}"
        produce(
            producer, topic, make_event("contact.queued", contact, start - 60 + 10 * n, queue=QUEUE), contact.encode()
        )


def entry_of(worker: Worker, channel: str) -> dict[str, Any] | None:
    status, body = worker.get(f"/api/kpis?queue={QUEUE}")
    assert status == 200
    document = json.loads(body)
    for entry in document["queues"]:
        if entry["channel"] == channel:
            return {
                **entry,
                "generated_at": document["generated_at"],
                "agents": document["agents"],
                "queue_agents": document["queue_agents"],
            }
    return None


def rate_at(now: float) -> float:
    """The arrival rate the worker models at ``now``: the contacts offered over the 15m window's span."""
    return (ANSWERED + ABANDONED + WAITING) / (now - parse_window("15m").oldest_live_bucket(now, ZoneInfo("UTC")))


def expected(entry: dict[str, Any], slots_per_agent: int) -> tuple[set[int], float, float]:
    """Agents required (searched at most 5 s before the answer: the counts of that while), and the
    predicted service level and expected wait at the answer's own instant."""
    now, theta = datetime.fromisoformat(entry["generated_at"]).timestamp(), 1 / PATIENCE
    required = {
        math.ceil(queueing.required_agents(rate_at(now - ago / 10), HANDLE, 20.0, 0.8, theta) / slots_per_agent)
        for ago in range(0, 51)
    }
    predicted = queueing.erlang_a(rate_at(now), HANDLE, STAFFED * slots_per_agent, theta, 20.0).service_level
    wait = queueing.expected_wait_seconds(
        WAITING, STAFFED * slots_per_agent, AVAILABLE * slots_per_agent, HANDLE, theta
    )
    return required, predicted, wait


@pytest.fixture(scope="module")
def staffed_queue(worker: Worker, producer: KafkaProducer) -> Worker:
    """The scripted queue's contacts, then its agents, on the session worker: ready once both its
    channels have been told their agents."""
    start = time.time()
    produce_contacts(producer, worker.topics["calls"], "voice", start)
    produce_contacts(producer, worker.topics["chats"], "chat", start)
    producer.flush()
    # The queue's channels exist before the agents come: staffing is told to channels that have contacts.
    for channel in ("voice", "chat"):
        wait_for(lambda c=channel: (e := entry_of(worker, c)) and e["windows"]["15m"]["kpis"]["contacts_offered"] == 35)
    for agent, (state, ago) in AGENTS.items():
        produce(producer, worker.topics["agents"], make_agent_state(agent, start - ago, state, QUEUE), agent.encode())
    producer.flush()
    for channel in ("voice", "chat"):
        wait_for(lambda c=channel: (e := entry_of(worker, c)) and e["staffing"]["agents_staffed"] == STAFFED)
    # The count of agents required is kept 5 s (RequiredAgentsCache): one searched while the last
    # contacts' answers and abandons were still on their way can outlive the waits above.
    for channel, slots_per_agent in (("voice", 1), ("chat", 2)):
        wait_for(
            lambda c=channel, s=slots_per_agent: (
                (e := entry_of(worker, c)) and e["staffing"]["agents_required"] in expected(e, s)[0]
            ),
            timeout=30,
        )
    return worker


def test_a_scripted_queue_gives_the_models_staffing(staffed_queue: Worker) -> None:
    worker = staffed_queue
    voice, chat = entry_of(worker, "voice"), entry_of(worker, "chat")
    assert voice is not None and chat is not None
    kpis = voice["windows"]["1h"]["kpis"]
    assert (kpis["average_handle_seconds"], kpis["contacts_handled"], kpis["patience_seconds"]) == (
        HANDLE,
        ANSWERED,
        PATIENCE,
    )
    for entry, slots_per_agent in ((voice, 1), (chat, 2)):
        required, predicted, wait = expected(entry, slots_per_agent)
        staffing = entry["staffing"]
        assert staffing["agents_available"] == AVAILABLE
        assert staffing["agents_required"] in required
        assert staffing["predicted_service_level_ratio"] == pytest.approx(predicted, rel=1e-9)
        assert staffing["expected_wait_seconds"] == pytest.approx(wait, rel=1e-9)
    # 35 contacts of 240 s in under 15 minutes are some 10 Erlangs: eight agents are too few.
    assert voice["staffing"]["agents_required"] > STAFFED
    assert voice["staffing"]["predicted_service_level_ratio"] < 0.8
    # Chat agents take two chats each: fewer agents for the same demand.
    assert chat["staffing"]["agents_required"] < voice["staffing"]["agents_required"]

    (agents,) = [a for a in voice["agents"] if a["queue"] == QUEUE]
    assert agents["occupancy_ratio"] == pytest.approx(5 / 8)
    assert 2400 <= agents["longest_in_state_seconds"]["away"] < 2400 + 120
    assert 400 <= agents["longest_in_state_seconds"]["busy"] < 400 + 120

    # By name in /api/kpis?queue= (never in /metrics, which has no agent labels): by state, longest in it first.
    by_state = sorted(AGENTS.items(), key=lambda item: (STATE_ORDER.index(item[1][0]), -item[1][1]))
    listed = voice["queue_agents"]
    assert [(a["agent_id"], a["state"]) for a in listed] == [(agent, state) for agent, (state, _) in by_state]
    away = next(a for a in listed if a["agent_id"] == "st-9")
    assert 2400 <= away["in_state_seconds"] < 2400 + 120 and away["queues"] == [QUEUE]
    status, body = worker.get("/metrics")
    assert status == 200 and b"st-9" not in body
    metrics = worker.metrics()
    labels = {"queue": QUEUE, "channel": "voice"}
    assert metrics[series("contact_centre_agents_required", **labels)] == voice["staffing"]["agents_required"]
    assert metrics[series("contact_centre_predicted_service_level_ratio", **labels)] == pytest.approx(
        voice["staffing"]["predicted_service_level_ratio"], rel=1e-3
    )
    assert metrics[series("contact_centre_expected_wait_seconds", **labels)] == pytest.approx(
        voice["staffing"]["expected_wait_seconds"], rel=1e-9
    )
    assert metrics[series("contact_centre_agent_occupancy_ratio", queue=QUEUE)] == pytest.approx(5 / 8)
    assert metrics[series("contact_centre_agent_state_longest_seconds", queue=QUEUE, state="away")] >= 2400


def test_the_wallboard_shows_agents_needed_expected_wait_occupancy_and_the_agents(
    staffed_queue: Worker, page: Page
) -> None:
    page.goto(f"{staffed_queue.base_url}/wallboard?queue={QUEUE}")
    tile = page.locator(f'section[data-queue="{QUEUE}"][data-channel="voice"]')
    expect(tile).to_be_visible(timeout=10_000)
    voice = entry_of(staffed_queue, "voice")
    assert voice is not None
    staffing = voice["staffing"]
    needed = tile.locator('[data-kpi="agents_needed"]')
    expect(needed.locator("dd")).to_have_text(f"{staffing['agents_required']} / {STAFFED}")
    expect(needed).to_have_attribute("data-state", "red")  # fewer staffed than needed
    expected_wait = round(staffing["expected_wait_seconds"])
    expect(tile.locator('[data-kpi="expected_wait_seconds"] dd')).to_have_text(
        f"{expected_wait // 60}:{expected_wait % 60:02d}"
    )
    expect(tile.locator('[data-kpi="occupancy_ratio"] dd')).to_have_text("63%")  # 5 of 8
    strip = tile.locator('[data-kpi="agents"]')
    expect(strip).to_contain_text("3 available \u00b7 4 busy \u00b7 1 wrap-up \u00b7 2 away \u00b7 longest away 40:")
    # Chat agents take two chats each: the chat tile needs fewer agents for the same contacts.
    chat = entry_of(staffed_queue, "chat")
    assert chat is not None
    chat_tile = page.locator(f'section[data-queue="{QUEUE}"][data-channel="chat"]')
    expect(chat_tile.locator('[data-kpi="agents_needed"] dd')).to_have_text(
        f"{chat['staffing']['agents_required']} / {STAFFED}"
    )
