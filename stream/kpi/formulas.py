"""The KPI formulas of SPEC §4, over counts and sums: every one of them, and nothing else.

A ratio or mean with nothing to divide by is ``None`` ("no data"), never 0: a queue without
answered calls has no average wait, and an alert must not read it as a perfect one.
"""

from __future__ import annotations

#: A CSAT score at or above this is "satisfied" (scores 4 and 5 of 1-5).
CSAT_SATISFIED_FROM = 4
#: NPS and eNPS: answers at or above this are promoters, at or below the other detractors (0-10).
PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def mean(total: float, count: float) -> float | None:
    return ratio(total, count)


def completed(answered: float, abandoned: float, short_abandoned: float) -> float:
    """The waits service level and abandon rate are over: short abandons are left out."""
    return answered + abandoned - short_abandoned


def service_level(answered_within: float, completed_waits: float) -> float | None:
    """Answered within the service-level time / completed waits."""
    return ratio(answered_within, completed_waits)


def abandon_rate(abandoned: float, short_abandoned: float, completed_waits: float) -> float | None:
    """(Abandoned - short abandons) / completed waits."""
    return ratio(abandoned - short_abandoned, completed_waits)


def net_score(promoters: float, detractors: float, answers: float) -> float | None:
    """100 x (promoters - detractors) / answers: NPS and eNPS."""
    return ratio(100.0 * (promoters - detractors), answers)


def within(wait: float, threshold: float) -> bool:
    """Whether a wait counts as answered within the service-level time (the threshold included)."""
    return wait <= threshold


def is_short_abandon(wait: float, threshold: float) -> bool:
    """Whether an abandon is too quick to count against the queue (below the threshold)."""
    return wait < threshold
