"""stream.kpi.centre: totals over queues, with ratios exact rather than averaged."""

from __future__ import annotations

from typing import Any

import pytest

from stream.kpi.centre import centre_totals


def entry(waiting: int, oldest: float, **windows: dict[str, Any]) -> dict[str, Any]:
    return {
        "contacts_waiting": waiting,
        "oldest_waiting_seconds": oldest,
        "windows": {name: {"kpis": kpis, "targets_met": {}} for name, kpis in windows.items()},
    }


def test_ratios_are_over_the_summed_denominators_not_averaged() -> None:
    """Sales: 9 of 10 within the service level; support: 0 of 2. Averaged ratios would say 45 %."""
    sales = entry(
        3,
        40.0,
        **{
            "15m": {
                "contacts_offered": 12,
                "contacts_answered": 9,
                "contacts_abandoned": 1,
                "contacts_completed": 10,
                "service_level_ratio": 0.9,
                "abandon_ratio": 0.1,
                "average_wait_seconds": 10.0,
                "max_wait_seconds": 50.0,
            }
        },
    )
    support = entry(
        1,
        90.0,
        **{
            "15m": {
                "contacts_offered": 2,
                "contacts_answered": 1,
                "contacts_abandoned": 1,
                "contacts_completed": 2,
                "service_level_ratio": 0.0,
                "abandon_ratio": 0.5,
                "average_wait_seconds": 40.0,
                "max_wait_seconds": 120.0,
            }
        },
    )
    totals = centre_totals([sales, support])
    assert totals["contacts_waiting"] == 4 and totals["oldest_waiting_seconds"] == 90.0
    window = totals["windows"]["15m"]
    assert window["contacts_offered"] == 14 and window["contacts_completed"] == 12
    assert window["service_level_ratio"] == pytest.approx(9 / 12)
    assert window["abandon_ratio"] == pytest.approx(2 / 12)
    assert window["average_wait_seconds"] == pytest.approx((9 * 10 + 40) / 10)
    assert window["max_wait_seconds"] == 120.0


def test_queues_without_data_leave_a_ratio_absent_and_counts_at_zero() -> None:
    quiet = entry(0, 0.0, **{"1h": {"contacts_offered": 0, "contacts_completed": 0, "service_level_ratio": None}})
    totals = centre_totals([quiet, quiet])
    assert totals["windows"]["1h"] == {"contacts_offered": 0, "contacts_completed": 0, "service_level_ratio": None}


def test_only_what_was_asked_is_totalled() -> None:
    """A query for some KPIs only (?fields=): a total needing a KPI that was not sent is left out."""
    shown = entry(0, 0.0, **{"15m": {"service_level_ratio": 0.8}})
    assert centre_totals([shown]) == {"contacts_waiting": 0, "oldest_waiting_seconds": 0.0, "windows": {"15m": {}}}
    assert centre_totals([]) == {"contacts_waiting": 0, "oldest_waiting_seconds": 0.0, "windows": {}}
