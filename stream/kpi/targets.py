"""Targets: which direction is better for each KPI that takes one, a queue's targets, and whether they are met."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class QueueTargets:
    """What one queue is held to (SPEC §7): plain values, whatever configuration they came from."""

    service_level_seconds: float = 20.0
    service_level_target: float = 0.8
    wait_alert_seconds: float = 60.0
    #: KPI metric name (without prefix) -> target; the service-level target included.
    kpis: dict[str, float] = field(default_factory=dict)
    #: Chats an agent of the queue handles at once: what the staffing KPIs count a chat agent as.
    chat_concurrency: int = 1

    def met(self, kpis: dict[str, float | None]) -> dict[str, bool]:
        """Target met per KPI that has a target and a value in ``kpis``."""
        verdicts = {kpi: target_met(kpi, kpis.get(kpi), target) for kpi, target in self.kpis.items()}
        return {kpi: met for kpi, met in verdicts.items() if met is not None}
