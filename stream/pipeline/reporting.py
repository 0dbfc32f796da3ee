"""Reports of the queues this worker owns, from the latest states (held writes included)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import faust

from stream.kpi.presence import agents_serving, distinct_agents_by_state
from stream.kpi.queue_keys import split_queue_key
from stream.kpi.report import (
    PresenceReport,
    QueueReport,
    TargetsOf,
    build_presence_reports,
    build_reports,
)
from stream.kpi.staffing import RequiredAgentsCache, StaffingWindows
from stream.kpi.window_cache import WindowKpisCache
from stream.kpi.windows import WindowSet
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.ownership import Owns


@dataclass
class Reporting:
    queues: faust.TableT
    presence: faust.TableT
    #: Each agent's latest state, by agent id.
    agents: faust.TableT
    writes: HeldWrites
    owner_of: Callable[[faust.TableT], Owns]
    targets_of: TargetsOf
    window_set: WindowSet
    staffing_windows: StaffingWindows
    clock: Callable[[], float]
    #: Window KPIs of the full reports (every owned queue, every window) last built.
    _cache: WindowKpisCache = field(default_factory=WindowKpisCache, init=False)
    #: Agents required per owned queue key, kept a few seconds (the search is the costly part).
    _required: RequiredAgentsCache = field(default_factory=RequiredAgentsCache, init=False)

    def reports(
        self, now: float | None = None, queues: Collection[str] | None = None, windows: Collection[str] | None = None
    ) -> list[QueueReport]:
        """Reports of the owned queues (or of ``queues``' channels only), over every window (or ``windows``)."""
        owns = self.owner_of(self.queues)
        owned = self.writes.items(
            self.queues, lambda key: owns(key) and (queues is None or split_queue_key(key)[0] in queues)
        )
        now = self.clock() if now is None else now
        if queues is not None or windows is not None:
            return build_reports(
                owned,
                self.targets_of,
                self.window_set,
                now,
                windows,
                staffing_windows=self.staffing_windows,
                required_cache=self._required,
            )
        keys = {key for key, _ in owned}
        self._cache.keep_only(keys)
        self._required.keep_only(keys)
        return build_reports(
            owned,
            self.targets_of,
            self.window_set,
            now,
            cache=self._cache,
            staffing_windows=self.staffing_windows,
            required_cache=self._required,
        )

    def presence_reports(self, queues: Collection[str] | None = None, now: float | None = None) -> list[PresenceReport]:
        owns = self.owner_of(self.presence)
        owned = self.writes.items(self.presence, lambda name: owns(name) and (queues is None or name in queues))
        return build_presence_reports(owned, self.clock() if now is None else now)

    def queue_agents(self, queues: Collection[str], now: float | None = None) -> list[dict[str, Any]]:
        """The agents of this worker's partitions serving any of ``queues``, with state and time in it."""
        owns = self.owner_of(self.agents)
        latest = (update for _, update in self.writes.items(self.agents, owns))
        return agents_serving(latest, queues, self.clock() if now is None else now)

    def agents_distinct(self) -> dict[str, int]:
        """The agents of the partitions this worker owns per latest state, each once whatever its
        queues (summed over the workers: the centre's)."""
        owns = self.owner_of(self.agents)
        return distinct_agents_by_state(latest for _, latest in self.writes.items(self.agents, owns))
