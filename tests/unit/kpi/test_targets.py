"""stream.kpi.targets: which KPIs take targets and when a target is met (SPEC §4 'target met')."""

from __future__ import annotations

import pytest

from stream.kpi.targets import TARGET_DIRECTIONS, Direction, target_met

#: From SPEC §4: >= where higher is better, <= where lower is better.
HIGHER_IS_BETTER = [
    "service_level_ratio",
    "fcr_ratio",
    "csat_score",
    "csat_satisfied_ratio",
    "nps_score",
    "ces_score",
    "employee_nps_score",
]
LOWER_IS_BETTER = [
    "average_wait_seconds",
    "max_wait_seconds",
    "abandon_ratio",
    "average_handle_seconds",
    "average_first_response_seconds",
    "average_resolution_seconds",
    "repeat_contact_ratio",
]


def test_exactly_the_spec_kpis_take_targets() -> None:
    assert set(TARGET_DIRECTIONS) == set(HIGHER_IS_BETTER) | set(LOWER_IS_BETTER)
    assert len(TARGET_DIRECTIONS) == 14


@pytest.mark.parametrize("kpi", HIGHER_IS_BETTER)
def test_higher_is_better_direction(kpi: str) -> None:
    assert TARGET_DIRECTIONS[kpi] is Direction.HIGHER_IS_BETTER


@pytest.mark.parametrize("kpi", LOWER_IS_BETTER)
def test_lower_is_better_direction(kpi: str) -> None:
    assert TARGET_DIRECTIONS[kpi] is Direction.LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("kpi", "value", "target", "met"),
    [
        # higher is better: met when value >= target
        ("service_level_ratio", 0.81, 0.8, True),
        ("service_level_ratio", 0.8, 0.8, True),  # exactly met
        ("service_level_ratio", 0.79, 0.8, False),
        ("service_level_ratio", 0.0, 0.0, True),
        ("fcr_ratio", 0.7, 0.7, True),
        ("fcr_ratio", 0.69, 0.7, False),
        ("csat_score", 4.5, 4.2, True),
        ("csat_score", 4.2, 4.2, True),
        ("csat_score", 4.19, 4.2, False),
        ("csat_satisfied_ratio", 0.9, 0.85, True),
        ("csat_satisfied_ratio", 0.8, 0.85, False),
        ("nps_score", 0.0, -10.0, True),  # NPS can be negative
        ("nps_score", -10.0, -10.0, True),
        ("nps_score", -20.0, -10.0, False),
        ("ces_score", 5.0, 5.0, True),
        ("ces_score", 4.9, 5.0, False),
        ("employee_nps_score", 30.0, 20.0, True),
        ("employee_nps_score", 19.0, 20.0, False),
        # lower is better: met when value <= target
        ("average_wait_seconds", 29.9, 30.0, True),
        ("average_wait_seconds", 30.0, 30.0, True),  # exactly met
        ("average_wait_seconds", 30.1, 30.0, False),
        ("max_wait_seconds", 0.0, 120.0, True),
        ("max_wait_seconds", 121.0, 120.0, False),
        ("abandon_ratio", 0.05, 0.05, True),
        ("abandon_ratio", 0.0, 0.05, True),
        ("abandon_ratio", 0.06, 0.05, False),
        ("average_handle_seconds", 300.0, 360.0, True),
        ("average_handle_seconds", 361.0, 360.0, False),
        ("average_first_response_seconds", 3600.0, 3600.0, True),
        ("average_first_response_seconds", 3601.0, 3600.0, False),
        ("average_resolution_seconds", 86400.0, 172800.0, True),
        ("average_resolution_seconds", 172801.0, 172800.0, False),
        ("repeat_contact_ratio", 0.1, 0.15, True),
        ("repeat_contact_ratio", 0.2, 0.15, False),
    ],
)
def test_target_met(kpi: str, value: float, target: float, met: bool) -> None:
    assert target_met(kpi, value, target) is met


@pytest.mark.parametrize("kpi", HIGHER_IS_BETTER + LOWER_IS_BETTER)
def test_absent_kpi_has_no_verdict(kpi: str) -> None:
    """SPEC §4: 'absent when the KPI is absent' -- neither met nor missed."""
    assert target_met(kpi, None, 1.0) is None


@pytest.mark.parametrize("kpi", HIGHER_IS_BETTER)
def test_higher_is_better_both_sides(kpi: str) -> None:
    assert target_met(kpi, 2.0, 1.0) is True
    assert target_met(kpi, 1.0, 1.0) is True
    assert target_met(kpi, 0.5, 1.0) is False


@pytest.mark.parametrize("kpi", LOWER_IS_BETTER)
def test_lower_is_better_both_sides(kpi: str) -> None:
    assert target_met(kpi, 2.0, 1.0) is False
    assert target_met(kpi, 1.0, 1.0) is True
    assert target_met(kpi, 0.5, 1.0) is True


@pytest.mark.parametrize("kpi", ["contacts_offered", "contacts_waiting", "agents", "bogus"])
def test_kpis_without_targets_are_rejected(kpi: str) -> None:
    """Only the KPIs listed in SPEC §4 take targets."""
    with pytest.raises(KeyError):
        target_met(kpi, 1.0, 1.0)
