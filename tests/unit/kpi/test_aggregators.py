"""stream.kpi.aggregators: the registry of aggregators, and the row layout changelogs carry."""

from __future__ import annotations

import pytest

from stream.kpi import formulas
from stream.kpi.aggregators import AGGREGATORS, COLUMNS, Totals, WaitRules
from stream.kpi.facts import Fact, FactKind
from stream.kpi.targets import TARGET_DIRECTIONS

RULES = WaitRules(service_level_seconds=20, short_abandon_seconds=5)

#: The columns of a totals row as changelogs written by every earlier version hold them: a row is
#: read by position, so this order can only be appended to.
WIRE_LAYOUT = [
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_in_service_level",
    "answered_wait_sum",
    "wait_max",
    "handled",
    "handle_sum",
    "fcr_count",
    "fcr_sum",
    "repeat_count",
    "repeat_sum",
    "first_response_count",
    "first_response_sum",
    "resolution_count",
    "resolution_sum",
    "reopened",
    "csat_count",
    "csat_sum",
    "csat_satisfied",
    "nps_count",
    "nps_promoters",
    "nps_detractors",
    "ces_count",
    "ces_sum",
    "esat_count",
    "esat_promoters",
    "esat_detractors",
    "completed_wait_sum",
]
#: Every fact kind that counts in a window ("waiting" is kept per contact, not summed).
COUNTED: list[FactKind] = [
    "offered",
    "answered",
    "abandoned",
    "handled",
    "fcr",
    "repeat",
    "first_response",
    "resolution",
    "reopened",
    "csat",
    "nps",
    "ces",
    "esat",
]


def fact(kind: FactKind, value: float = 1.0, retraction: bool = False) -> Fact:
    return Fact(kind, "sales", "voice", "c-1", 0.0, value, retraction)


def test_the_row_layout_is_the_one_changelogs_hold() -> None:
    assert list(COLUMNS) == WIRE_LAYOUT
    assert list(COLUMNS.values()) == list(range(len(WIRE_LAYOUT)))


def test_each_counted_kind_has_an_aggregator_and_only_waits_have_two() -> None:
    owners = [kind for aggregator in AGGREGATORS for kind in aggregator.kinds]
    assert sorted(owners) == sorted([*COUNTED, "answered", "abandoned"])  # Waits and Patience


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize("value", [0.0, 3.0, 4.0, 9.0, 30.0])
def test_a_retraction_takes_a_fact_back_exactly(kind: FactKind, value: float) -> None:
    """Except the longest wait, which only grows (waits are never retracted)."""
    totals = Totals()
    totals.add(fact(kind, value), RULES)
    totals.add(fact(kind, value, retraction=True), RULES)
    expected = Totals.of(wait_max=value) if kind in ("answered", "abandoned") else Totals()
    assert totals == expected


def test_a_kind_no_aggregator_counts_changes_nothing() -> None:
    totals = Totals()
    totals.add(fact("waiting"), RULES)
    assert totals == Totals()


def test_every_kpi_with_a_target_is_a_result() -> None:
    assert set(TARGET_DIRECTIONS) <= set(Totals().kpis())


def test_results_use_the_formulas() -> None:
    totals = Totals()
    for kind, value in [
        ("answered", 10.0),
        ("answered", 30.0),
        ("abandoned", 3.0),
        ("abandoned", 60.0),
        ("nps", 10.0),
        ("nps", 3.0),
        ("nps", 8.0),
        ("csat", 4.0),
        ("csat", 2.0),
    ]:
        totals.add(fact(kind, value), RULES)  # type: ignore[arg-type]
    kpis = totals.kpis()
    completed = formulas.completed(2, 2, 1)
    assert kpis["contacts_completed"] == completed == 3
    assert kpis["service_level_ratio"] == formulas.service_level(1, completed) == pytest.approx(1 / 3)
    assert kpis["abandon_ratio"] == formulas.abandon_rate(2, 1, completed) == pytest.approx(1 / 3)
    assert kpis["nps_score"] == formulas.net_score(1, 1, 3) == 0.0
    assert kpis["csat_satisfied_ratio"] == 0.5 and kpis["csat_score"] == 3.0
    # every completed wait's time over the abandons: (10 + 30 + 3 + 60) / 2
    assert kpis["patience_seconds"] == formulas.mean(103.0, 2) == 51.5


def test_patience_is_absent_without_an_abandon() -> None:
    totals = Totals()
    totals.add(fact("answered", 40.0), RULES)
    assert totals.kpis()["patience_seconds"] is None


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1, 2, 0.5), (0, 3, 0.0), (5, 0, None), (0, 0, None)],
)
def test_a_ratio_without_a_denominator_is_absent_not_zero(
    numerator: float, denominator: float, expected: float | None
) -> None:
    assert formulas.ratio(numerator, denominator) == expected
