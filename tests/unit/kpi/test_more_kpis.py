"""KPIs beyond waits: tickets, FCR, repeat contacts and surveys, from facts to windowed values (SPEC §4)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from stream.ingest.decoding import UNKNOWN_CHANNEL, Ignored, Rejected, decode
from stream.kpi.aggregators import Totals, WaitRules
from stream.kpi.contacts import Lifecycle
from stream.kpi.facts import Fact
from stream.kpi.presence import AgentUpdate
from stream.kpi.queue_state import QueueState, apply_facts, prune, window_totals
from stream.kpi.windows import WindowSet, parse_windows

#: 2026-11-22T10:00:00Z; a 15m bucket (60 s) and 1h bucket (240 s) start here.
T0 = 1795341600.0
RULES = WaitRules(service_level_seconds=20, short_abandon_seconds=5)
WINDOWS = WindowSet(parse_windows("15m,1h,today"), ZoneInfo("UTC"))


def survey(kind: str, score: float, answer_id: str, ts: float = T0 - 30, channel: str = "voice") -> Fact:
    return Fact(kind, "sales", channel, answer_id, ts, score)  # type: ignore[arg-type]


def kpis_of(facts: list[Fact], window: str = "15m", now: float = T0) -> dict[str, float | None]:
    state = QueueState()
    apply_facts(state, facts, RULES, WINDOWS, now)
    return window_totals(state, WINDOWS.windows[["15m", "1h", "today"].index(window)], WINDOWS.tz, now).kpis()


def test_csat_with_one_answer() -> None:
    kpis = kpis_of([survey("csat", 4, "s1")])
    assert (kpis["csat_score"], kpis["csat_satisfied_ratio"], kpis["csat_responses"]) == (4.0, 1.0, 1)


def test_csat_mean_and_satisfied_share() -> None:
    """Scores 5, 4, 3, 1: mean 13/4 = 3.25; satisfied (4 or 5) 2 of 4 = 0.5."""
    kpis = kpis_of([survey("csat", score, f"s{score}") for score in (5, 4, 3, 1)])
    assert (kpis["csat_score"], kpis["csat_satisfied_ratio"], kpis["csat_responses"]) == (3.25, 0.5, 4)


def test_nps_with_no_promoters() -> None:
    """Scores 8, 7, 6, 0: promoters 0, detractors 2 (6 and 0), passives 2 -> 100 x (0 - 2) / 4 = -50."""
    kpis = kpis_of([survey("nps", score, f"n{score}") for score in (8, 7, 6, 0)])
    assert kpis["nps_score"] == -50.0
    assert kpis["nps_responses"] == 4


def test_nps_edges() -> None:
    """9 and 10 promote, 7 and 8 are passive, 6 detracts: 100 x (2 - 1) / 5 = 20."""
    kpis = kpis_of([survey("nps", score, f"n{score}") for score in (10, 9, 8, 7, 6)])
    assert kpis["nps_score"] == 20.0


def test_ces_mean() -> None:
    """Scores 7, 6, 2: mean 15/3 = 5."""
    assert kpis_of([survey("ces", score, f"c{score}") for score in (7, 6, 2)])["ces_score"] == 5.0


def test_enps_with_no_promoters() -> None:
    """Scores 0, 5, 7: promoters 0, detractors 2 -> 100 x (0 - 2) / 3."""
    kpis = kpis_of([survey("esat", score, f"e{score}", channel=UNKNOWN_CHANNEL) for score in (0, 5, 7)])
    assert kpis["employee_nps_score"] == pytest.approx(-200 / 3)
    assert kpis["esat_responses"] == 3


def test_surveys_without_answers_are_absent() -> None:
    kpis = kpis_of([Fact("offered", "sales", "voice", "c1", T0 - 30)])
    assert [
        kpis[k] for k in ("csat_score", "csat_satisfied_ratio", "nps_score", "ces_score", "employee_nps_score")
    ] == [None] * 5
    assert [kpis[k] for k in ("csat_responses", "nps_responses", "ces_responses", "esat_responses")] == [0] * 4


def test_a_survey_answer_twice_counts_once() -> None:
    state = QueueState()
    assert apply_facts(state, [survey("csat", 5, "s1"), survey("csat", 5, "s1")], RULES, WINDOWS, T0).duplicates == 1
    assert apply_facts(state, [survey("csat", 5, "s1")], RULES, WINDOWS, T0).duplicates == 1
    totals = window_totals(state, WINDOWS.windows[0], WINDOWS.tz, T0)
    assert totals["csat_count"] == 1
    # The id is remembered for answer_ttl, then forgotten (an older copy is late by then).
    prune(state, WINDOWS, T0 + 601, waiting_ttl=14400, dedupe=600)
    assert state.answers == {}


def test_fcr_and_repeat_ratios() -> None:
    """Four wrapped contacts, two resolved on first contact: FCR 0.5. Three contacts with a
    customer, one a repeat: repeat contact ratio 1/3."""
    fcr = [Fact("fcr", "sales", "voice", f"c{i}", T0 - 30, value) for i, value in enumerate((1.0, 0.0, 1.0, 0.0))]
    repeat = [Fact("repeat", "sales", "voice", f"c{i}", T0 - 30, value) for i, value in enumerate((0.0, 1.0, 0.0))]
    kpis = kpis_of(fcr + repeat)
    assert kpis["fcr_ratio"] == 0.5
    assert kpis["repeat_contact_ratio"] == pytest.approx(1 / 3)


def test_ticket_kpis() -> None:
    """First responses 600 and 1800 s: mean 1200. Resolutions 3600 s and 2 h: mean 5400. Two reopens."""
    facts = [
        Fact("offered", "billing", "ticket", "t1", T0 - 50),
        Fact("offered", "billing", "ticket", "t2", T0 - 40),
        Fact("first_response", "billing", "ticket", "t1", T0 - 30, 600.0),
        Fact("first_response", "billing", "ticket", "t2", T0 - 30, 1800.0),
        Fact("resolution", "billing", "ticket", "t1", T0 - 20, 3600.0),
        Fact("resolution", "billing", "ticket", "t2", T0 - 20, 7200.0),
        Fact("reopened", "billing", "ticket", "t1", T0 - 10),
        Fact("reopened", "billing", "ticket", "t2", T0 - 10),
    ]
    kpis = kpis_of(facts)
    assert (
        kpis["contacts_offered"],
        kpis["average_first_response_seconds"],
        kpis["average_resolution_seconds"],
        kpis["tickets_reopened"],
    ) == (2, 1200.0, 5400.0, 2)


def test_a_retraction_takes_back_what_was_counted() -> None:
    resolved = Fact("resolution", "billing", "ticket", "t1", T0 - 20, 3600.0)
    kpis = kpis_of([resolved, Fact("resolution", "billing", "ticket", "t2", T0 - 20, 600.0), resolved.retracted()])
    assert kpis["average_resolution_seconds"] == 600.0
    assert kpis_of([resolved, resolved.retracted()])["average_resolution_seconds"] is None


def test_a_retraction_whose_bucket_left_the_window_changes_nothing() -> None:
    """Resolved 20 min ago: in 1h, but its 15m bucket is gone. Taking it back empties 1h only,
    and creates no 15m bucket with negative counts."""
    old = Fact("resolution", "billing", "ticket", "t1", T0 - 1200, 3600.0)
    state = QueueState()
    apply_facts(state, [old], RULES, WINDOWS, T0)
    apply_facts(state, [old.retracted()], RULES, WINDOWS, T0)
    assert "15m" not in state.buckets
    assert state.buckets["1h"] == {int(T0 - 1200) // 240 * 240: Totals()}


def test_wire_rows_of_older_versions_still_load() -> None:
    """A changelog row written before the survey fields existed (nine values) loads with zeros."""
    old_row = [3, 2, 1, 0, 2, 30.0, 20.0, 1, 200.0]
    assert Totals.from_wire(json.loads(json.dumps(old_row))) == Totals.of(
        offered=3,
        answered=2,
        abandoned=1,
        answered_in_service_level=2,
        answered_wait_sum=30.0,
        wait_max=20.0,
        handled=1,
        handle_sum=200.0,
    )


# --------------------------------------------------------------------------- decoding of the other topics


def raw(**fields: object) -> bytes:
    return json.dumps({"event_id": "e-1", "ts": T0 - 10, **fields}).encode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"type": "survey.csat", "queue": "sales", "channel": "chat", "score": 5},
            Fact("csat", "sales", "chat", "e-1", T0 - 10, 5.0),
        ),
        (
            {"type": "survey.nps", "queue": "sales", "score": 0},
            Fact("nps", "sales", UNKNOWN_CHANNEL, "e-1", T0 - 10, 0.0),
        ),
        (
            {"type": "survey.ces", "queue": "sales", "channel": "ticket", "score": 7},
            Fact("ces", "sales", "ticket", "e-1", T0 - 10, 7.0),
        ),
        # eNPS has no channel: every employee answer counts under 'unknown'.
        (
            {"type": "survey.esat", "queue": "sales", "channel": "voice", "score": 9},
            Fact("esat", "sales", UNKNOWN_CHANNEL, "e-1", T0 - 10, 9.0),
        ),
    ],
)
def test_survey_answers_become_facts(fields: dict[str, object], expected: Fact) -> None:
    assert decode(raw(**fields), "survey", T0) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"type": "ticket.created", "contact_id": "t-1", "queue": "billing", "customer_id": "k-1"},
            Lifecycle("created", T0 - 10, "t-1", "ticket", "billing", "k-1"),
        ),
        (
            {"type": "ticket.replied", "contact_id": "t-1", "agent_id": "a-1"},
            Lifecycle("replied", T0 - 10, "t-1", "ticket"),
        ),
        (
            {"type": "ticket.replied", "contact_id": "t-1", "agent_id": "a-1", "public": True},
            Lifecycle("replied", T0 - 10, "t-1", "ticket"),
        ),
        ({"type": "ticket.replied", "contact_id": "t-1", "agent_id": "a-1", "public": False}, Ignored("private reply")),
        ({"type": "ticket.solved", "contact_id": "t-1"}, Lifecycle("solved", T0 - 10, "t-1", "ticket")),
        ({"type": "ticket.reopened", "contact_id": "t-1"}, Lifecycle("reopened", T0 - 10, "t-1", "ticket")),
    ],
)
def test_ticket_events(fields: dict[str, object], expected: object) -> None:
    assert decode(raw(**fields), "ticket", T0) == expected


def test_agent_state() -> None:
    message = raw(type="agent.state", agent_id="a-1", queues=["sales", "support"], state="busy")
    assert decode(message, "agent", T0) == AgentUpdate("a-1", T0 - 10, "busy", ("sales", "support"))


@pytest.mark.parametrize(
    ("source", "fields", "reason"),
    [
        ("survey", {"type": "survey.csat", "queue": "sales", "score": 6}, "out_of_range"),
        ("survey", {"type": "survey.nps", "queue": "sales", "score": 11}, "out_of_range"),
        ("survey", {"type": "survey.ces", "queue": "sales", "score": 0}, "out_of_range"),
        ("survey", {"type": "survey.csat", "score": 3}, "missing_field"),
        ("survey", {"type": "survey.csat", "queue": "sales", "channel": "fax", "score": 3}, "invalid_field"),
        ("survey", {"type": "contact.queued", "contact_id": "c", "queue": "sales"}, "wrong_topic"),
        ("ticket", {"type": "survey.csat", "queue": "sales", "score": 3}, "wrong_topic"),
        ("ticket", {"type": "ticket.replied", "contact_id": "t-1"}, "missing_field"),
        ("agent", {"type": "agent.state", "agent_id": "a-1", "queues": ["sales"], "state": "lunch"}, "invalid_field"),
        ("agent", {"type": "agent.state", "agent_id": "a-1", "queues": "sales", "state": "busy"}, "invalid_field"),
        ("voice", {"type": "agent.state", "agent_id": "a-1", "queues": [], "state": "busy"}, "wrong_topic"),
    ],
)
def test_bad_events_of_the_other_topics(source: str, fields: dict[str, object], reason: str) -> None:
    outcome = decode(raw(**fields), source, T0)  # type: ignore[arg-type]
    assert isinstance(outcome, Rejected) and outcome.reason == reason, outcome


# --------------------------------------------------------------------------- long windows


def test_a_30_day_window_edge_and_bounded_buckets() -> None:
    """30d is kept as 15 buckets of 2 days. Only buckets wholly inside the window count: with
    now = T0 the oldest counted bucket starts at ceil((T0 - 30 d) / 2 d) x 2 d."""
    windows = WindowSet(parse_windows("15m,30d"), ZoneInfo("UTC"))
    thirty_days = windows.windows[1]
    day = 86400
    oldest = -(-(T0 - 30 * day) // (2 * day)) * (2 * day)
    assert thirty_days.oldest_live_bucket(T0, windows.tz) == oldest
    state = QueueState()
    inside, outside = survey("csat", 5, "in", ts=oldest), survey("csat", 1, "out", ts=oldest - 1)
    apply_facts(state, [inside, outside], RULES, windows, T0)
    assert window_totals(state, thirty_days, windows.tz, T0)["csat_count"] == 1
    # Sixty days of hourly answers, applied as time passes, never hold more than 16 buckets.
    state = QueueState()
    for hour in range(60 * 24):
        now = T0 + hour * 3600
        apply_facts(state, [survey("csat", 4, f"h{hour}", ts=now)], RULES, windows, now)
        prune(state, windows, now, waiting_ttl=14400, dedupe=600)
        assert len(state.buckets["30d"]) <= 16
    totals = window_totals(state, thirty_days, windows.tz, T0 + (60 * 24 - 1) * 3600)
    assert 28 * 24 <= totals["csat_count"] <= 30 * 24
