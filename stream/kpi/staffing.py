"""Staffing now, per queue and channel (SPEC §4): the agents needed to meet the service-level
target, the service level the agents staffed now would give, and the wait of a contact arriving now.

The demand comes from the queue's own windows: the arrival rate from one rolling window (offered
over the time the window's live buckets span), the handle time and the patience from another
(usually longer, as handle times vary more than arrivals). The model is Erlang A
(stream.kpi.queueing); a queue whose window has no abandon has no measured patience and is
modelled with none (Erlang C). Chat agents handle ``chat_concurrency`` chats at once: the model's
servers are chat slots, and the agents needed are the slots needed divided by the concurrency,
rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from stream.kpi import queueing
from stream.kpi.aggregators import Results
from stream.kpi.windows import Window

#: Fewer contacts handled in the handle window than this give no handle time to staff by: an
#: average of a handful of contacts swings by minutes from one to the next.
MIN_HANDLED = 5
#: The channels whose contacts wait in a queue for an agent: the ones a queue's agents are told to.
QUEUED_CHANNELS = ("voice", "chat")


@dataclass(frozen=True, slots=True)
class StaffingWindows:
    """The windows the staffing KPIs read: arrivals from a rolling one, handle time and patience from another."""

    arrivals: Window
    handling: Window


@dataclass(frozen=True, slots=True)
class Staffing:
    """A queue's agents now: those staffed (available, busy or in wrap-up) and those available."""

    staffed: int
    available: int


@dataclass(frozen=True, slots=True)
class Demand:
    arrival_rate: float  # contacts per second
    handle_seconds: float
    #: 1 / mean patience; 0 when no contact abandoned in the window (nobody is known to give up).
    abandon_rate: float


@dataclass(frozen=True, slots=True)
class StaffingKpis:
    """None where too little is known (SPEC §4: absent, never 0)."""

    agents_required: int | None = None
    predicted_service_level: float | None = None
    expected_wait_seconds: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "agents_required": self.agents_required,
            "predicted_service_level_ratio": self.predicted_service_level,
            "expected_wait_seconds": self.expected_wait_seconds,
        }


NOTHING_KNOWN = StaffingKpis()


def demand_of(arrivals: Results, arrival_span_seconds: float, handling: Results) -> Demand | None:
    """The demand on a queue from its arrival window's KPIs (over ``arrival_span_seconds``) and its
    handle window's; None when the handle window has fewer than :data:`MIN_HANDLED` contacts
    handled or nothing was offered."""
    offered, handle = arrivals["contacts_offered"], handling["average_handle_seconds"]
    if not offered or handle is None or handle <= 0 or (handling["contacts_handled"] or 0) < MIN_HANDLED:
        return None
    patience = handling["patience_seconds"]
    abandon_rate = 1.0 / patience if patience else 0.0
    return Demand(offered / max(arrival_span_seconds, 1.0), handle, abandon_rate)


def agents_required(demand: Demand, service_level_seconds: float, target: float, concurrency: int) -> int | None:
    """The fewest agents that meet ``target`` within ``service_level_seconds``; None for a target of
    0 or 1, or one no sensible count reaches."""
    try:
        slots = queueing.required_agents(
            demand.arrival_rate, demand.handle_seconds, service_level_seconds, target, demand.abandon_rate
        )
    except ValueError:
        return None
    return math.ceil(slots / concurrency)


def staffing_kpis(
    demand: Demand | None,
    staffing: Staffing | None,
    contacts_waiting: int,
    service_level_seconds: float,
    concurrency: int,
    required: int | None,
) -> StaffingKpis:
    """With the agents staffed now, the predicted service level and the expected wait of a contact
    arriving now, beside ``required`` (:func:`agents_required` of the same demand)."""
    if demand is None:
        return NOTHING_KNOWN
    if staffing is None:
        return StaffingKpis(required)
    slots_staffed = staffing.staffed * concurrency
    try:
        predicted: float | None = queueing.erlang_a(
            demand.arrival_rate, demand.handle_seconds, slots_staffed, demand.abandon_rate, service_level_seconds
        ).service_level
    except ValueError:  # a patience so long that an overload's queue has no end: no steady state to predict
        predicted = None
    free = min(staffing.available * concurrency, slots_staffed)
    wait = queueing.expected_wait_seconds(
        contacts_waiting, slots_staffed, free, demand.handle_seconds, demand.abandon_rate
    )
    return StaffingKpis(required, predicted, wait if math.isfinite(wait) else None)


class RequiredAgentsCache:
    """Agents required per queue key, searched again at most every ``max_age`` seconds.

    The search evaluates Erlang A at every count from a lower bound up: about 1 ms at 50 Erlangs,
    15 ms at 500, for each queue at each report (every second). Its inputs are 15-minute and
    hour-long windows, which a few seconds move by a fraction of a per cent, so the count is kept
    for a few seconds; the predicted service level and the expected wait, one evaluation each, are
    computed at every report.
    """

    def __init__(self, max_age: float = 5.0) -> None:
        self._max_age = max_age
        #: key -> (searched at, what it was searched for, the count).
        self._kept: dict[str, tuple[float, tuple[float, float, int], int | None]] = {}

    def get(
        self, key: str, demand: Demand, service_level_seconds: float, target: float, concurrency: int, now: float
    ) -> int | None:
        rules = (service_level_seconds, target, concurrency)
        kept = self._kept.get(key)
        if kept is not None and kept[1] == rules and 0 <= now - kept[0] < self._max_age:
            return kept[2]
        required = agents_required(demand, service_level_seconds, target, concurrency)
        self._kept[key] = (now, rules, required)
        return required

    def keep_only(self, keys: Collection[str]) -> None:
        for key in self._kept.keys() - set(keys):
            del self._kept[key]


def occupancy(agents: Mapping[str, int]) -> float | None:
    """Agents busy or in wrap-up over agents staffed, now (a state not in ``agents``: nobody);
    None with nobody staffed."""
    staffing = staffing_now(agents)
    return (staffing.staffed - staffing.available) / staffing.staffed if staffing.staffed else None


def staffing_now(agents: Mapping[str, int]) -> Staffing:
    """The staffing of a queue whose agents by state are ``agents`` (a state not in it: nobody)."""
    available = agents.get("available", 0)
    return Staffing(available + agents.get("busy", 0) + agents.get("wrapup", 0), available)
