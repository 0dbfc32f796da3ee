"""The catalogue of windowed KPIs: metric names and which direction is better."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"


#: KPIs that take targets (SPEC §4 'target met'), by metric name without ``contact_centre_``.
TARGET_DIRECTIONS: dict[str, Direction] = {
    "service_level_ratio": Direction.HIGHER_IS_BETTER,
    "fcr_ratio": Direction.HIGHER_IS_BETTER,
    "csat_score": Direction.HIGHER_IS_BETTER,
    "csat_satisfied_ratio": Direction.HIGHER_IS_BETTER,
    "nps_score": Direction.HIGHER_IS_BETTER,
    "ces_score": Direction.HIGHER_IS_BETTER,
    "employee_nps_score": Direction.HIGHER_IS_BETTER,
    "average_wait_seconds": Direction.LOWER_IS_BETTER,
    "max_wait_seconds": Direction.LOWER_IS_BETTER,
    "abandon_ratio": Direction.LOWER_IS_BETTER,
    "average_handle_seconds": Direction.LOWER_IS_BETTER,
    "average_first_response_seconds": Direction.LOWER_IS_BETTER,
    "average_resolution_seconds": Direction.LOWER_IS_BETTER,
    "repeat_contact_ratio": Direction.LOWER_IS_BETTER,
}


def target_met(kpi: str, value: float | None, target: float) -> bool | None:
    """Whether ``value`` meets ``target`` for ``kpi``; ``None`` when the KPI has no value."""
    if value is None:
        return None
    if TARGET_DIRECTIONS[kpi] is Direction.HIGHER_IS_BETTER:
        return value >= target
    return value <= target
