"""stream.kpi.report: per-queue KPI reports and the /api/kpis document (SPEC §4, §6)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stream.config.queue_config import QueueConfig, QueueSettings
from stream.kpi import queueing
from stream.kpi.aggregators import Totals
from stream.kpi.queue_state import QueueState, WaitingNow
from stream.kpi.report import PresenceReport, QueueReport, build_reports, reports_to_json
from stream.kpi.staffing import NOTHING_KNOWN, Staffing, StaffingWindows
from stream.kpi.windows import WindowSet, parse_window, parse_windows
from tests.unit.kpi.test_queue_state import EMPTY_KPIS

UTC = ZoneInfo("UTC")
#: 2026-11-22 10:00:00 UTC; its int form is a 15m/1h bucket start and the 'today' bucket is 00:00Z.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
B0 = int(NOW)
MIDNIGHT = int(datetime(2026, 11, 22, tzinfo=UTC).timestamp())
WINDOWS = WindowSet(parse_windows("15m,1h,today"), UTC)

CONFIG = QueueConfig(
    defaults=QueueSettings(targets={"average_wait_seconds": 30, "abandon_ratio": 0.05, "csat_score": 4.2}),
    queues={
        "sales": QueueSettings(
            service_level_seconds=60,
            service_level_target=0.9,
            wait_alert_seconds=45,
            targets={"average_wait_seconds": 30, "abandon_ratio": 0.05, "csat_score": 4.5},
        )
    },
)


def sales_voice() -> QueueState:
    """sales/voice, built by hand as if from these facts (SL 60 s, short abandon < 5 s):

    - answered waits 10, 25, 40 s  -> all three within 60 s
    - abandoned waits 2 s (short) and 70 s
    - offered 5; handled 2 with 200 + 300 = 500 s
    split over two live 15m buckets, plus one stale 15m bucket (T-960) that must not count.
    The 'today' window holds the same totals in one bucket; nothing is in '1h' (an empty window).
    """
    first = Totals.of(
        offered=3,
        answered=2,
        abandoned=1,
        short_abandoned=1,
        answered_in_service_level=2,
        answered_wait_sum=35.0,
        wait_max=25.0,
        handled=1,
        handle_sum=200.0,
        completed_wait_sum=37.0,
    )
    second = Totals.of(
        offered=2,
        answered=1,
        abandoned=1,
        short_abandoned=0,
        answered_in_service_level=1,
        answered_wait_sum=40.0,
        wait_max=70.0,
        handled=1,
        handle_sum=300.0,
        completed_wait_sum=110.0,
    )
    stale = Totals.of(offered=50, answered=50, answered_wait_sum=5000.0, wait_max=999.0)
    whole = Totals.of(
        offered=5,
        answered=3,
        abandoned=2,
        short_abandoned=1,
        answered_in_service_level=3,
        answered_wait_sum=75.0,
        wait_max=70.0,
        handled=2,
        handle_sum=500.0,
        completed_wait_sum=147.0,
    )
    return QueueState(
        buckets={"15m": {B0 - 960: stale, B0 - 600: first, B0 - 60: second}, "today": {MIDNIGHT: whole}},
        waiting={"v-9": NOW - 45, "v-8": NOW - 15},
    )


#: completed = 3 + 2 - 1 = 4; SL = 3/4; abandon ratio = 1/4; ASA = 75/3 = 25; max 70 (abandoned); AHT = 500/2.
#: No fcr, repeat, ticket or survey totals: those KPIs are as in EMPTY_KPIS (absent, counts 0).
SALES_KPIS = {
    **EMPTY_KPIS,
    "contacts_offered": 5,
    "contacts_answered": 3,
    "contacts_answered_within_threshold": 3,
    "contacts_abandoned": 2,
    "contacts_short_abandoned": 1,
    "contacts_completed": 4,  # 3 + 2 - 1 short
    "average_wait_seconds": 25.0,
    "max_wait_seconds": 70.0,
    "service_level_ratio": 0.75,
    "abandon_ratio": 0.25,
    "average_handle_seconds": 250.0,
    "contacts_handled": 2,
    "patience_seconds": 73.5,  # (10 + 25 + 40 + 2 + 70) / 2 abandons
}


def support_chat() -> QueueState:
    """support/chat (default settings): two answered chats, waits 5 and 15 s, both within 20 s, in 1h only."""
    return QueueState(
        buckets={
            "1h": {
                B0 - 240: Totals.of(
                    offered=2, answered=2, answered_in_service_level=2, answered_wait_sum=20.0, wait_max=15.0
                )
            }
        },
    )


def reports() -> list[QueueReport]:
    states = [("support/chat", support_chat()), ("sales/voice", sales_voice()), ("sales/chat", QueueState())]
    return build_reports(states, CONFIG.targets_of, WINDOWS, NOW)


def test_reports_are_sorted_by_queue_then_channel() -> None:
    assert [(r.queue, r.channel) for r in reports()] == [("sales", "chat"), ("sales", "voice"), ("support", "chat")]


def test_kpi_values_per_window() -> None:
    sales = reports()[1]
    assert sales.windows == {"15m": SALES_KPIS, "1h": EMPTY_KPIS, "today": SALES_KPIS}


def test_empty_queue_has_zero_counts_and_absent_ratios() -> None:
    empty = reports()[0]
    assert empty.windows == {"15m": EMPTY_KPIS, "1h": EMPTY_KPIS, "today": EMPTY_KPIS}
    assert empty.waiting == WaitingNow(0, 0.0)
    assert all(empty.targets_met(w) == {} for w in ("15m", "1h", "today"))


def test_support_chat_in_1h_only() -> None:
    support = reports()[2]
    assert support.windows["1h"] == {
        **EMPTY_KPIS,  # no fcr, repeat, ticket or survey totals
        "contacts_offered": 2,
        "contacts_answered": 2,
        "contacts_answered_within_threshold": 2,
        "contacts_abandoned": 0,
        "contacts_short_abandoned": 0,
        "contacts_completed": 2,
        "average_wait_seconds": 10.0,  # (5 + 15) / 2
        "max_wait_seconds": 15.0,
        "service_level_ratio": 1.0,  # 2 / 2
        "abandon_ratio": 0.0,  # 0 / 2: a value, not absent
        "average_handle_seconds": None,  # nothing wrapped
    }
    assert support.windows["15m"] == EMPTY_KPIS


def test_targets_are_per_queue() -> None:
    sales, support = reports()[1], reports()[2]
    assert sales.targets == CONFIG.queues["sales"].queue_targets != CONFIG.defaults.queue_targets
    assert support.targets == CONFIG.defaults.queue_targets  # no entry for 'support'


def test_waiting_now() -> None:
    """v-9 queued 45 s before now, v-8 15 s: two waiting, the oldest for 45 s."""
    assert reports()[1].waiting == WaitingNow(2, 45.0)


@pytest.mark.parametrize(
    ("report_index", "window", "expected"),
    [
        # sales: SL 0.75 < target 0.9 -> not met; ASA 25 <= 30 -> met; abandon 0.25 > 0.05 -> not met;
        # csat_score has a target but no value in this report -> left out
        (1, "15m", {"service_level_ratio": False, "average_wait_seconds": True, "abandon_ratio": False}),
        (1, "today", {"service_level_ratio": False, "average_wait_seconds": True, "abandon_ratio": False}),
        (1, "1h", {}),  # every KPI absent -> no verdicts
        # support (defaults): SL 1.0 >= 0.8 met; ASA 10 <= 30 met; abandon 0.0 <= 0.05 met
        (2, "1h", {"service_level_ratio": True, "average_wait_seconds": True, "abandon_ratio": True}),
        (2, "15m", {}),
    ],
)
def test_targets_met(report_index: int, window: str, expected: dict[str, bool]) -> None:
    assert reports()[report_index].targets_met(window) == expected


def test_target_exactly_met() -> None:
    """Average wait exactly equal to its target (25 s) counts as met (<=); SL exactly 0.75 too (>=)."""
    config = QueueConfig(defaults=QueueSettings(service_level_target=0.75, targets={"average_wait_seconds": 25}))
    (report,) = build_reports([("sales/voice", sales_voice())], config.targets_of, WINDOWS, NOW)
    assert report.targets_met("15m") == {"service_level_ratio": True, "average_wait_seconds": True}


def test_reports_to_json() -> None:
    document = reports_to_json(reports(), [], NOW)
    assert document["generated_at"] == "2026-11-22T10:00:00+00:00"
    assert document["agents"] == []
    assert [(q["queue"], q["channel"]) for q in document["queues"]] == [
        ("sales", "chat"),
        ("sales", "voice"),
        ("support", "chat"),
    ]
    sales = document["queues"][1]
    assert sales == {
        "queue": "sales",
        "channel": "voice",
        "contacts_waiting": 2,
        "oldest_waiting_seconds": 45.0,
        "wait_threshold_seconds": 45.0,
        "service_level_seconds": 60.0,
        "service_level_target_ratio": 0.9,
        "targets": {"service_level_ratio": 0.9, "average_wait_seconds": 30, "abandon_ratio": 0.05, "csat_score": 4.5},
        # built without staffing windows, and no agent word: nothing known
        "staffing": {
            "agents_required": None,
            "predicted_service_level_ratio": None,
            "expected_wait_seconds": None,
            "agents_staffed": None,
            "agents_available": None,
        },
        "windows": {
            "15m": {
                "kpis": SALES_KPIS,
                "targets_met": {"service_level_ratio": False, "average_wait_seconds": True, "abandon_ratio": False},
            },
            "1h": {"kpis": EMPTY_KPIS, "targets_met": {}},
            "today": {
                "kpis": SALES_KPIS,
                "targets_met": {"service_level_ratio": False, "average_wait_seconds": True, "abandon_ratio": False},
            },
        },
    }


def test_json_windows_carry_the_counts_that_add_up_over_queues() -> None:
    """Each window's KPIs give the service level's numerator and the short abandons, beside the
    other counts: sales/voice answered 3 within 60 s of 4 completed waits, 1 abandon was short."""
    document = json.loads(json.dumps(reports_to_json(reports(), [], NOW)))
    sales, support = document["queues"][1], document["queues"][2]
    kpis = sales["windows"]["15m"]["kpis"]
    assert (kpis["contacts_answered_within_threshold"], kpis["contacts_short_abandoned"]) == (3, 1)
    assert kpis["contacts_answered_within_threshold"] / kpis["contacts_completed"] == kpis["service_level_ratio"]
    assert (kpis["contacts_abandoned"] - kpis["contacts_short_abandoned"]) / kpis["contacts_completed"] == kpis[
        "abandon_ratio"
    ]
    assert list(kpis)[:5] == [
        "contacts_offered",
        "contacts_answered",
        "contacts_answered_within_threshold",
        "contacts_abandoned",
        "contacts_short_abandoned",
    ]
    assert support["windows"]["1h"]["kpis"]["contacts_answered_within_threshold"] == 2
    assert support["windows"]["15m"]["kpis"]["contacts_short_abandoned"] == 0  # a count: 0, not null


def test_json_document_serialises_absent_values_as_null() -> None:
    text = json.dumps(reports_to_json(reports(), [], NOW))
    parsed = json.loads(text)
    empty = parsed["queues"][0]
    assert empty["windows"]["15m"]["kpis"]["service_level_ratio"] is None
    assert empty["windows"]["15m"]["kpis"]["contacts_offered"] == 0
    assert empty["contacts_waiting"] == 0 and empty["oldest_waiting_seconds"] == 0.0
    assert "NaN" not in text


def test_no_queues() -> None:
    assert build_reports([], CONFIG.targets_of, WINDOWS, NOW) == []
    assert reports_to_json([], [], NOW) == {"generated_at": "2026-11-22T10:00:00+00:00", "agents": [], "queues": []}


def test_agents_in_json_document() -> None:
    """One entry per presence report, in the order given, with its agent counts per state."""
    sales = {"available": 2, "busy": 3, "wrapup": 1, "away": 0, "offline": 4}
    support = {"available": 0, "busy": 1, "wrapup": 0, "away": 1, "offline": 0}
    document = reports_to_json([], [PresenceReport("sales", sales), PresenceReport("support", support)], NOW)
    assert document["agents"] == [
        {"queue": "sales", "states": sales, "occupancy_ratio": 4 / 6, "longest_in_state_seconds": {}},
        {"queue": "support", "states": support, "occupancy_ratio": 1.0, "longest_in_state_seconds": {}},
    ]
    assert document["queues"] == []


def test_report_at_a_later_instant_drops_expired_buckets() -> None:
    """At NOW + 600 the oldest live 15m bucket is B0 - 300: the bucket at B0 - 600 has left,
    leaving only the second one (1 answered 40 s, 1 abandoned 70 s, not short):
    SL = 1/2 (40 <= 60), abandon = 1/2, ASA = 40, max 70, AHT 300."""
    (report,) = build_reports([("sales/voice", sales_voice())], CONFIG.targets_of, WINDOWS, NOW + 600)
    assert report.windows["15m"] == {
        **EMPTY_KPIS,  # no fcr, repeat, ticket or survey totals
        "contacts_offered": 2,
        "contacts_answered": 1,
        "contacts_answered_within_threshold": 1,
        "contacts_abandoned": 1,
        "contacts_short_abandoned": 0,
        "contacts_completed": 2,
        "average_wait_seconds": 40.0,
        "max_wait_seconds": 70.0,
        "service_level_ratio": 0.5,
        "abandon_ratio": 0.5,
        "average_handle_seconds": 300.0,
        "contacts_handled": 1,
        "patience_seconds": 110.0,  # (40 + 70) / 1 abandon
    }
    assert report.waiting == WaitingNow(2, 645.0)


def test_staffing_from_the_windows_and_the_queues_agents() -> None:
    """60 offered in the 15m window (its live buckets span 900 s at NOW, a bucket start), 10 handled
    in 1,800 s and 2 abandons over 200 s of completed waits in 1h; 6 agents staffed, 1 available, 3
    waiting. Agents are known for sales only (its presence told them)."""
    support = QueueState(
        buckets={
            "15m": {B0 - 300: Totals.of(offered=60)},
            "1h": {B0 - 480: Totals.of(handled=10, handle_sum=1800.0, abandoned=2, completed_wait_sum=200.0)},
        },
        waiting={"w1": NOW - 30, "w2": NOW - 20, "w3": NOW - 10},
    )
    sales = replace(support, staffing=Staffing(6, 1))
    windows = StaffingWindows(parse_window("15m"), parse_window("1h"))
    states = [("sales/voice", sales), ("support/voice", support)]
    sales, support = build_reports(states, CONFIG.targets_of, WINDOWS, NOW, staffing_windows=windows)
    rate, theta = 60 / 900, 2 / 200  # sales: 90 % in 60 s
    assert sales.staffing.agents_required == queueing.required_agents(rate, 180.0, 60.0, 0.9, theta)
    assert sales.staffing.predicted_service_level == queueing.erlang_a(rate, 180.0, 6, theta, 60.0).service_level
    assert sales.staffing.expected_wait_seconds == queueing.expected_wait_seconds(3, 6, 1, 180.0, theta)
    assert sales.agents == Staffing(6, 1)
    # support: the same demand at the default 80 % in 20 s, and no agents known here
    assert support.staffing.agents_required == queueing.required_agents(rate, 180.0, 20.0, 0.8, theta)
    assert (support.staffing.predicted_service_level, support.agents) == (None, None)
    # without staffing windows, no staffing KPI
    assert build_reports(states, CONFIG.targets_of, WINDOWS, NOW)[0].staffing == NOTHING_KNOWN
