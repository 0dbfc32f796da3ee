"""Per-queue KPI reports at an instant: what /metrics, /api/kpis and the wallboard show."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stream.kpi.presence import QueuePresence, agents_by_state, longest_in_state
from stream.kpi.queue_keys import split_queue_key
from stream.kpi.queue_state import QueueState, WaitingNow, waiting_now, window_totals
from stream.kpi.staffing import (
    NOTHING_KNOWN,
    RequiredAgentsCache,
    Staffing,
    StaffingKpis,
    StaffingWindows,
    agents_required,
    demand_of,
    occupancy,
    staffing_kpis,
)
from stream.kpi.targets import QueueTargets
from stream.kpi.window_cache import WindowKpis, WindowKpisCache
from stream.kpi.windows import Window, WindowSet

#: A queue's name -> its targets.
TargetsOf = Callable[[str], QueueTargets]


@dataclass(frozen=True, slots=True)
class QueueReport:
    queue: str
    channel: str
    targets: QueueTargets
    waiting: WaitingNow
    windows: WindowKpis
    staffing: StaffingKpis = NOTHING_KNOWN
    #: The queue's agents now, as its presence last told; None before any agent state of the queue.
    agents: Staffing | None = None

    def targets_met(self, window: str) -> dict[str, bool]:
        """Target met per KPI that has a target and a value in ``window``."""
        return self.targets.met(self.windows[window])


def build_reports(
    states: Iterable[tuple[str, QueueState]],
    targets_of: TargetsOf,
    window_set: WindowSet,
    now: float,
    only: Collection[str] | None = None,
    cache: WindowKpisCache | None = None,
    staffing_windows: StaffingWindows | None = None,
    required_cache: RequiredAgentsCache | None = None,
) -> list[QueueReport]:
    """Reports of ``states`` over every window (or the windows named in ``only``); ``cache``: the
    window KPIs of earlier reports, reused where nothing they depend on changed; ``staffing_windows``:
    where the staffing KPIs' demand comes from (None: no staffing KPIs); ``required_cache``: agents
    required of earlier reports, reused for a few seconds."""
    chosen = [window for window in window_set.windows if only is None or window.name in only]
    tz = window_set.tz
    reports = []
    for key, state in states:
        queue, channel = split_queue_key(key)
        if cache is not None:
            windows = cache.kpis(key, state, chosen, tz, now)
        else:
            windows = {window.name: window_totals(state, window, tz, now).kpis() for window in chosen}
        targets, waiting, told = targets_of(queue), waiting_now(state, now), state.staffing
        staffing = NOTHING_KNOWN
        if staffing_windows is not None:
            staffing = _staffing(
                key, state, windows, staffing_windows, targets, waiting, told, window_set, now, required_cache
            )
        reports.append(
            QueueReport(
                queue,
                channel,
                targets,
                waiting,
                windows,
                staffing,
                told,
            )
        )
    reports.sort(key=lambda r: (r.queue, r.channel))
    return reports


def _staffing(
    key: str,
    state: QueueState,
    windows: WindowKpis,
    chosen: StaffingWindows,
    targets: QueueTargets,
    waiting: WaitingNow,
    agents: Staffing | None,
    window_set: WindowSet,
    now: float,
    required_cache: RequiredAgentsCache | None,
) -> StaffingKpis:
    def kpis_of(window: Window) -> dict[str, float | None]:
        return windows.get(window.name) or window_totals(state, window, window_set.tz, now).kpis()

    span = now - chosen.arrivals.oldest_live_bucket(now, window_set.tz)
    demand = demand_of(kpis_of(chosen.arrivals), span, kpis_of(chosen.handling))
    if demand is None:
        return NOTHING_KNOWN
    seconds, target = targets.service_level_seconds, targets.service_level_target
    concurrency = targets.chat_concurrency if split_queue_key(key)[1] == "chat" else 1
    if required_cache is None:
        required = agents_required(demand, seconds, target, concurrency)
    else:
        required = required_cache.get(key, demand, seconds, target, concurrency, now)
    return staffing_kpis(demand, agents, waiting.contacts_waiting, seconds, concurrency, required)


@dataclass(frozen=True, slots=True)
class PresenceReport:
    queue: str
    #: agent state -> agents whose latest state it is (every state, 0 included).
    agents: dict[str, int]
    #: agent state -> how long the agent longest in it has been in it (0, or not in it: nobody).
    longest_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def occupancy(self) -> float | None:
        return occupancy(self.agents)


def build_presence_reports(states: Iterable[tuple[str, QueuePresence]], now: float) -> list[PresenceReport]:
    return sorted(
        (PresenceReport(queue, agents_by_state(state), longest_in_state(state, now)) for queue, state in states),
        key=lambda r: r.queue,
    )


def reports_to_json(reports: list[QueueReport], presence: list[PresenceReport], now: float) -> dict[str, Any]:
    """The ``/api/kpis`` document."""
    return {
        "generated_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "agents": [
            {
                "queue": r.queue,
                "states": r.agents,
                "occupancy_ratio": r.occupancy,
                "longest_in_state_seconds": r.longest_seconds,
            }
            for r in presence
        ],
        "queues": [
            {
                "queue": r.queue,
                "channel": r.channel,
                "contacts_waiting": r.waiting.contacts_waiting,
                "oldest_waiting_seconds": r.waiting.oldest_waiting_seconds,
                "wait_threshold_seconds": r.targets.wait_alert_seconds,
                "service_level_seconds": r.targets.service_level_seconds,
                "service_level_target_ratio": r.targets.service_level_target,
                "targets": r.targets.kpis,
                "staffing": {
                    **r.staffing.as_dict(),
                    "agents_staffed": r.agents.staffed if r.agents else None,
                    "agents_available": r.agents.available if r.agents else None,
                },
                "windows": {
                    name: {"kpis": kpis, "targets_met": r.targets_met(name)} for name, kpis in r.windows.items()
                },
            }
            for r in reports
        ],
    }
