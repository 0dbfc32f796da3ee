"""Per-queue KPI reports at an instant: what /metrics, /api/kpis and the wallboard show."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stream.kpi.presence import QueuePresence, agents_by_state
from stream.kpi.queue_keys import split_queue_key
from stream.kpi.queue_state import QueueState, WaitingNow, waiting_now, window_totals
from stream.kpi.targets import QueueTargets
from stream.kpi.window_cache import WindowKpis, WindowKpisCache
from stream.kpi.windows import WindowSet

#: A queue's name -> its targets.
TargetsOf = Callable[[str], QueueTargets]


@dataclass(frozen=True, slots=True)
class QueueReport:
    queue: str
    channel: str
    targets: QueueTargets
    waiting: WaitingNow
    windows: WindowKpis

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
) -> list[QueueReport]:
    """Reports of ``states`` over every window (or the windows named in ``only``); ``cache``: the
    window KPIs of earlier reports, reused where nothing they depend on changed."""
    chosen = [window for window in window_set.windows if only is None or window.name in only]
    tz = window_set.tz
    reports = []
    for key, state in states:
        queue, channel = split_queue_key(key)
        if cache is not None:
            windows = cache.kpis(key, state, chosen, tz, now)
        else:
            windows = {window.name: window_totals(state, window, tz, now).kpis() for window in chosen}
        reports.append(QueueReport(queue, channel, targets_of(queue), waiting_now(state, now), windows))
    reports.sort(key=lambda r: (r.queue, r.channel))
    return reports


@dataclass(frozen=True, slots=True)
class PresenceReport:
    queue: str
    #: agent state -> agents whose latest state it is (every state, 0 included).
    agents: dict[str, int]


def build_presence_reports(states: Iterable[tuple[str, QueuePresence]]) -> list[PresenceReport]:
    return sorted((PresenceReport(queue, agents_by_state(state)) for queue, state in states), key=lambda r: r.queue)


def reports_to_json(reports: list[QueueReport], presence: list[PresenceReport], now: float) -> dict[str, Any]:
    """The ``/api/kpis`` document."""
    return {
        "generated_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "agents": [{"queue": r.queue, "states": r.agents} for r in presence],
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
                "windows": {
                    name: {"kpis": kpis, "targets_met": r.targets_met(name)} for name, kpis in r.windows.items()
                },
            }
            for r in reports
        ],
    }
