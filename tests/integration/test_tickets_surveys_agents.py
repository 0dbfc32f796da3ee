"""Tickets, first-contact resolution, repeat contacts, surveys and agent presence through the real
broker and worker, read back from /metrics and /api/kpis with hand-computed values."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.integration.conftest import Worker, wait_for
from tests.integration.events import iso, make_agent_state, make_event, produce
from tests.integration.scrape import series

pytestmark = pytest.mark.integration

QUEUE, OTHER = "it-support", "it-other"


def survey(kind: str, score: int, event_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": f"survey.{kind}", "ts": iso(ts), "queue": QUEUE, "score": score, **fields}


def test_tickets_fcr_surveys_and_agents(worker: Worker, producer: KafkaProducer) -> None:
    topics = worker.topics
    # Every event 280 to 20 s old: over ten minutes inside the 15m window, and the session
    # worker's day started hours ago (conftest), so no window's start is near any of them.
    b = time.time() - 280
    surveys_duplicates = series("contact_centre_events_duplicate_total", topic=topics["surveys"])
    duplicates_before = worker.metrics().get(surveys_duplicates, 0.0)

    # Contact, ticket and customer ids are prefixed: the worker is shared with other tests.
    # Calls first: c1's customer k1 opened ticket t1 before c1, but t1 is produced afterwards,
    # so c1 first counts as resolved on first contact and is corrected when t1 arrives.
    calls = [
        make_event("contact.queued", "ts-c2", b + 20, queue=QUEUE, customer_id="ts-k2"),  # first contact, resolved
        make_event("contact.answered", "ts-c2", b + 30, agent_id="a1"),
        make_event("contact.wrapped", "ts-c2", b + 100, resolved=True),
        make_event("contact.queued", "ts-c3", b + 40, queue=QUEUE),  # no customer: first contact, not resolved
        make_event("contact.answered", "ts-c3", b + 45, agent_id="a2"),
        make_event("contact.wrapped", "ts-c3", b + 140, resolved=False),
        make_event("contact.queued", "ts-c1", b + 160, queue=QUEUE, customer_id="ts-k1"),  # repeat of t1: not FCR
        make_event("contact.answered", "ts-c1", b + 170, agent_id="a1"),
        make_event("contact.wrapped", "ts-c1", b + 260, resolved=True),
    ]
    for event in calls:
        produce(producer, topics["calls"], event, event["contact_id"].encode())
    producer.flush()
    tickets = [
        make_event("ticket.created", "ts-t1", b, queue=QUEUE, customer_id="ts-k1"),
        make_event("ticket.replied", "ts-t1", b + 30, agent_id="a3", public=False),  # a private note: not a response
        make_event("ticket.replied", "ts-t1", b + 60, agent_id="a3"),  # first response 60 s
        make_event("ticket.solved", "ts-t1", b + 120),  # resolution 120 s
        make_event("ticket.created", "ts-t2", b + 10, queue=QUEUE),
        make_event("ticket.replied", "ts-t2", b + 100, agent_id="a3", public=True),  # first response 90 s
        make_event("ticket.solved", "ts-t2", b + 150),
        make_event("ticket.reopened", "ts-t2", b + 200),
        make_event("ticket.solved", "ts-t2", b + 250),  # resolution measured to here: 240 s
    ]
    for event in tickets:
        produce(producer, topics["tickets"], event, event["contact_id"].encode())
    csat = survey("csat", 5, "s-csat-1", b + 110, channel="voice")
    answers = [
        csat,
        csat,  # the same answer twice: a duplicate
        survey("csat", 3, "s-csat-2", b + 150, channel="voice", contact_id="ts-c3"),
        survey("nps", 10, "s-nps-1", b + 120),
        survey("nps", 6, "s-nps-2", b + 121),
        survey("nps", 8, "s-nps-3", b + 122),
        survey("ces", 6, "s-ces-1", b + 130, channel="chat"),
        survey("esat", 9, "s-esat-1", b + 10, agent_id="a1"),
        survey("esat", 9, "s-esat-2", b + 11),
        survey("esat", 3, "s-esat-3", b + 12, channel="voice"),  # eNPS has no channel
    ]
    for answer in answers:
        produce(producer, topics["surveys"], answer, None)
    states = [
        make_agent_state("ia1", b, "available", QUEUE, OTHER),
        make_agent_state("ia1", b + 50, "busy", QUEUE),  # leaves it-other
        make_agent_state("ia2", b + 20, "away", QUEUE),
        make_agent_state("ia2", b + 10, "available", QUEUE),  # older, arriving later: changes nothing
    ]
    for state in states:
        produce(producer, topics["agents"], state, state["agent_id"].encode())
    producer.flush()

    voice = {"queue": QUEUE, "channel": "voice", "window": "15m"}
    ticket = {"queue": QUEUE, "channel": "ticket", "window": "15m"}
    unknown = {"queue": QUEUE, "channel": "unknown", "window": "15m"}
    expected = {
        series("contact_centre_fcr_ratio", **voice): 1 / 3,  # c2 of c1, c2, c3
        series("contact_centre_repeat_contact_ratio", **voice): 1 / 2,  # c1 of c1, c2 (c3 has no customer)
        series("contact_centre_repeat_contact_ratio", **ticket): 0.0,  # t1 was k1's first
        series("contact_centre_contacts_offered", **ticket): 2,
        series("contact_centre_average_first_response_seconds", **ticket): 75.0,  # (60 + 90) / 2
        series("contact_centre_average_resolution_seconds", **ticket): 180.0,  # (120 + 240) / 2
        series("contact_centre_tickets_reopened", **ticket): 1,
        series("contact_centre_csat_score", **voice): 4.0,  # (5 + 3) / 2
        series("contact_centre_csat_satisfied_ratio", **voice): 0.5,
        series("contact_centre_survey_responses", **voice, survey="csat"): 2,
        series("contact_centre_nps_score", **unknown): 0.0,  # 100 x (1 - 1) / 3
        series("contact_centre_survey_responses", **unknown, survey="nps"): 3,
        series("contact_centre_ces_score", queue=QUEUE, channel="chat", window="15m"): 6.0,
        series("contact_centre_employee_nps_score", queue=QUEUE, window="15m"): 100 * (2 - 1) / 3,
        series("contact_centre_survey_responses", **unknown, survey="esat"): 3,
        series("contact_centre_agents", queue=QUEUE, state="busy"): 1,
        series("contact_centre_agents", queue=QUEUE, state="away"): 1,
        series("contact_centre_agents", queue=QUEUE, state="available"): 0,
        series("contact_centre_agents", queue=OTHER, state="available"): 0,
        series("contact_centre_agents", queue=OTHER, state="busy"): 0,
    }

    def settled() -> dict[Any, float] | None:
        metrics = worker.metrics()
        matches = all(metrics.get(key) == pytest.approx(value, abs=1e-9) for key, value in expected.items())
        return metrics if matches else None

    try:
        metrics = wait_for(settled, timeout=60)
    except BaseException:
        metrics = worker.metrics()
        print({key: (metrics.get(key), value) for key, value in expected.items() if metrics.get(key) != value})
        raise
    assert metrics[surveys_duplicates] - duplicates_before == 1
    assert series("contact_centre_fcr_ratio", **ticket) not in metrics  # tickets are not wrapped
    # Every window agrees: everything happened in the last five minutes.
    for window in ("1h", "today"):
        assert metrics[series("contact_centre_fcr_ratio", **{**voice, "window": window})] == pytest.approx(1 / 3)

    # Targets (conftest: it-support), each direction, exactly met counts as met.
    def met(kpi: str, channel: str) -> float | None:
        return metrics.get(series("contact_centre_kpi_target_met", queue=QUEUE, channel=channel, window="15m", kpi=kpi))

    assert met("csat_score", "voice") == 0.0  # 4.0 < 4.2
    assert met("fcr_ratio", "voice") == 1.0  # 1/3 >= 0.3
    assert met("repeat_contact_ratio", "voice") == 0.0  # 1/2 > 0.4
    assert met("repeat_contact_ratio", "ticket") == 1.0  # 0 <= 0.4
    assert met("average_first_response_seconds", "ticket") == 0.0  # 75 > 60
    assert met("average_resolution_seconds", "ticket") == 1.0  # 180 <= 180, exactly
    assert met("nps_score", "unknown") == 1.0  # 0 >= 0, exactly
    assert met("employee_nps_score", "unknown") == 1.0  # 33.3 >= 30
    assert met("ces_score", "chat") == 0.0  # 6 < 6.5
    assert met("fcr_ratio", "ticket") is None  # no data, no verdict
    assert metrics[series("contact_centre_kpi_target", queue=QUEUE, channel="ticket", kpi="csat_score")] == 4.2

    status, body = worker.get("/api/kpis")
    assert status == 200
    document = json.loads(body)
    [support] = [a for a in document["agents"] if a["queue"] == QUEUE]
    assert support["states"] == {"available": 0, "busy": 1, "wrapup": 0, "away": 1, "offline": 0}
    [tickets_entry] = [q for q in document["queues"] if (q["queue"], q["channel"]) == (QUEUE, "ticket")]
    assert tickets_entry["windows"]["15m"]["targets_met"]["average_resolution_seconds"] is True
    assert tickets_entry["targets"]["average_first_response_seconds"] == 60
    kpis = tickets_entry["windows"]["15m"]["kpis"]
    assert (kpis["average_first_response_seconds"], kpis["average_resolution_seconds"], kpis["tickets_reopened"]) == (
        75.0,
        180.0,
        1,
    )

    # ?queue= keeps that queue's channels and agents, the same values, and nothing else.
    status, body = worker.get(f"/api/kpis?queue={QUEUE}")
    assert status == 200
    one_queue = json.loads(body)
    assert {q["queue"] for q in one_queue["queues"]} == {QUEUE}
    assert sorted(
        (q["channel"], q["windows"]["15m"]["kpis"]["contacts_offered"]) for q in one_queue["queues"]
    ) == sorted(
        (q["channel"], q["windows"]["15m"]["kpis"]["contacts_offered"])
        for q in document["queues"]
        if q["queue"] == QUEUE
    )
    assert [(a["queue"], a["states"]) for a in one_queue["agents"]] == [(QUEUE, support["states"])]
    assert json.loads(worker.get("/api/kpis?queue=no-such-queue")[1])["queues"] == []
