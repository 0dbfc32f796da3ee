"""stream.kpi.staffing: the staffing KPIs of a queue from its windows and its agents (SPEC §4)."""

from __future__ import annotations

import math

import pytest

from stream.kpi import queueing
from stream.kpi.aggregators import Totals
from stream.kpi.staffing import (
    MIN_HANDLED,
    NOTHING_KNOWN,
    Demand,
    RequiredAgentsCache,
    Staffing,
    StaffingKpis,
    agents_required,
    demand_of,
    occupancy,
    staffing_kpis,
    staffing_now,
)

#: 90 contacts offered over a 900 s window: 0.1 a second.
ARRIVALS = Totals.of(offered=90).kpis()
#: 20 handled, 240 s each; 4 abandons over 1,200 s of completed waits: a mean patience of 300 s.
HANDLING = Totals.of(handled=20, handle_sum=4800.0, abandoned=4, completed_wait_sum=1200.0).kpis()


def test_demand_is_the_rate_the_handle_time_and_the_patience_of_the_windows() -> None:
    assert demand_of(ARRIVALS, 900.0, HANDLING) == Demand(0.1, 240.0, 1 / 300)


def test_no_abandon_is_no_patience_measured_so_nobody_gives_up() -> None:
    handling = Totals.of(handled=20, handle_sum=4800.0, completed_wait_sum=600.0).kpis()
    demand = demand_of(ARRIVALS, 900.0, handling)
    assert demand is not None and demand.abandon_rate == 0.0


@pytest.mark.parametrize(
    ("arrivals", "handling"),
    [
        (Totals.of(offered=0).kpis(), HANDLING),  # nothing offered
        (ARRIVALS, Totals.of(handled=MIN_HANDLED - 1, handle_sum=960.0).kpis()),  # too few handled
        (ARRIVALS, Totals().kpis()),  # nothing handled
    ],
)
def test_too_little_data_is_no_demand_and_no_kpi(arrivals: dict, handling: dict) -> None:
    assert demand_of(arrivals, 900.0, handling) is None
    assert staffing_kpis(None, Staffing(10, 2), 3, 20.0, 1, None) == NOTHING_KNOWN


def test_with_the_agents_staffed_the_model_gives_service_level_and_wait() -> None:
    demand = Demand(0.1, 240.0, 1 / 300)  # 24 Erlangs
    required = agents_required(demand, 20.0, 0.8, 1)
    assert required == queueing.required_agents(0.1, 240.0, 20.0, 0.8, 1 / 300)
    kpis = staffing_kpis(demand, Staffing(26, 0), 5, 20.0, 1, required)
    assert kpis.agents_required == required
    assert kpis.predicted_service_level == queueing.erlang_a(0.1, 240.0, 26, 1 / 300, 20.0).service_level
    # five waiting ahead, all 26 busy: six moves up at 26/240 + i/300 a second
    assert kpis.expected_wait_seconds == pytest.approx(sum(1 / (26 / 240 + i / 300) for i in range(6)))


def test_free_agents_answer_a_new_contact_at_once() -> None:
    kpis = staffing_kpis(Demand(0.1, 240.0, 0.0), Staffing(26, 3), 2, 20.0, 1, 27)
    assert kpis.expected_wait_seconds == 0.0


def test_without_agents_the_wait_is_absent_not_infinite() -> None:
    kpis = staffing_kpis(Demand(0.1, 240.0, 1 / 300), Staffing(0, 0), 1, 20.0, 1, 27)
    assert kpis.expected_wait_seconds is None and kpis.predicted_service_level == 0.0


def test_without_word_of_the_agents_only_the_required_count_is_known() -> None:
    kpis = staffing_kpis(Demand(0.1, 240.0, 1 / 300), None, 1, 20.0, 1, 27)
    assert kpis == StaffingKpis(agents_required=27)


def test_a_chat_agent_is_as_many_slots_as_its_concurrency() -> None:
    demand = Demand(0.1, 240.0, 1 / 300)
    slots = queueing.required_agents(0.1, 240.0, 20.0, 0.8, 1 / 300)
    assert agents_required(demand, 20.0, 0.8, 3) == math.ceil(slots / 3)
    chat = staffing_kpis(demand, Staffing(9, 0), 0, 20.0, 3, None)
    assert chat.predicted_service_level == queueing.erlang_a(0.1, 240.0, 27, 1 / 300, 20.0).service_level


def test_occupancy_and_staffing_count_available_busy_and_wrapup() -> None:
    agents = {"available": 2, "busy": 5, "wrapup": 1, "away": 4, "offline": 9}
    assert occupancy(agents) == 6 / 8
    assert staffing_now(agents) == Staffing(8, 2)
    assert occupancy({"away": 3, "offline": 1}) is None


@pytest.mark.parametrize(("target", "expected"), [(0.0, None), (1.0, None)])
def test_a_target_no_count_can_meet_gives_no_required_count(target: float, expected: None) -> None:
    assert agents_required(Demand(0.1, 240.0, 1 / 300), 20.0, target, 1) is expected


def test_the_required_count_is_searched_again_after_a_few_seconds_or_new_rules() -> None:
    cache, searched = RequiredAgentsCache(max_age=5.0), Demand(0.1, 240.0, 1 / 300)
    first = cache.get("sales/voice", searched, 20.0, 0.8, 1, now=100.0)
    assert first == agents_required(searched, 20.0, 0.8, 1)
    doubled = Demand(0.2, 240.0, 1 / 300)
    assert cache.get("sales/voice", doubled, 20.0, 0.8, 1, now=104.9) == first  # kept
    assert cache.get("sales/voice", doubled, 20.0, 0.8, 1, now=105.0) == agents_required(doubled, 20.0, 0.8, 1)
    assert cache.get("sales/voice", doubled, 20.0, 0.9, 1, now=105.1) == agents_required(doubled, 20.0, 0.9, 1)
    cache.keep_only([])  # the key went: its count is not kept for the demand it was searched for
    assert cache.get("sales/voice", searched, 20.0, 0.9, 1, now=105.2) == agents_required(searched, 20.0, 0.9, 1)
    assert agents_required(searched, 20.0, 0.9, 1) != agents_required(doubled, 20.0, 0.9, 1)
