"""Totals over several queues (a centre, or a group of queues), from their reports as /api/kpis
gives them.

Ratios cannot be averaged: the service level of two queues is the answers within the threshold of
both over the completed waits of both. Each queue's ratio times its denominator gives back its
numerator, so the totals are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stream.kpi import formulas

#: Counts summed over queues.
_SUMMED = ("contacts_offered", "contacts_answered", "contacts_abandoned", "contacts_completed", "tickets_reopened")
#: Ratios and means over queues: KPI -> the count it is over.
_WEIGHTED = {
    "service_level_ratio": "contacts_completed",
    "abandon_ratio": "contacts_completed",
    "average_wait_seconds": "contacts_answered",
}


def centre_totals(queues: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Contacts waiting now and the longest wait, and per window the sums and exact ratios of
    ``queues`` (entries of /api/kpis ``queues``, any subset of their windows and KPIs)."""
    entries = list(queues)
    windows: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(window for entry in entries for window in entry["windows"]):
        kpis = [entry["windows"][name]["kpis"] for entry in entries if name in entry["windows"]]
        totals: dict[str, Any] = {kpi: sum(k.get(kpi) or 0 for k in kpis) for kpi in _SUMMED if _has(kpis, kpi)}
        for kpi, over in _WEIGHTED.items():
            if _has(kpis, kpi) and _has(kpis, over):
                parts = [(k[kpi], k[over] or 0) for k in kpis if k.get(kpi) is not None]
                totals[kpi] = formulas.ratio(sum(value * weight for value, weight in parts), sum(w for _, w in parts))
        if _has(kpis, "max_wait_seconds"):
            waits = [k["max_wait_seconds"] for k in kpis if k.get("max_wait_seconds") is not None]
            totals["max_wait_seconds"] = max(waits, default=None)
        windows[name] = totals
    return {
        "contacts_waiting": sum(entry["contacts_waiting"] for entry in entries),
        "oldest_waiting_seconds": max((entry["oldest_waiting_seconds"] for entry in entries), default=0.0),
        "windows": windows,
    }


def _has(kpis: list[Mapping[str, Any]], kpi: str) -> bool:
    return any(kpi in k for k in kpis)
