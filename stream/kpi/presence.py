"""Agent presence: each agent's latest state, counted per queue served (SPEC §4 'agents by state').

Agent events arrive keyed by agent. The agent stage keeps each agent's latest update (by
event time, so an older update arriving late changes nothing) and tells every queue the
agent serves, and every queue it stopped serving, through a :class:`Presence` routed to
that queue's partition. The queue side again keeps the latest per agent, so a re-delivered
or reordered message cannot bring an old state back.

Two states of an agent often share an instant (made available and handed the next contact at
once). They are ordered by their place in the input (:data:`Place`: partition and offset of the
agent event), which a re-delivered copy keeps: after a rebalance or a crash, an earlier state
read again, or an old owner's output arriving after the new owner's, cannot replace the later
one. Updates without a place (:data:`NO_PLACE`, stored before places were recorded) fall back
to the later to arrive winning.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stream.kpi.ids import id_key
from stream.kpi.wire import Row

AGENT_STATES = ("available", "busy", "wrapup", "away", "offline")

#: Partition and offset of an agent event in its input topic.
Place = tuple[int, int]
#: The place of an update whose place is not known; before every known place.
NO_PLACE: Place = (-1, -1)
#: What orders an agent's states: event time, then place in the input.
Version = tuple[float, Place]


@dataclass(frozen=True, slots=True)
class AgentUpdate:
    """A validated ``agent.state`` event."""

    agent_id: str
    ts: float
    state: str
    queues: tuple[str, ...]
    place: Place = NO_PLACE
    #: Since when (event time) the agent has been in ``state``, as the agent stage keeps it (None:
    #: from ``ts``); not part of what the update says, so not compared.
    since: float | None = field(default=None, compare=False)

    @property
    def version(self) -> Version:
        return self.ts, self.place

    @property
    def in_state_since(self) -> float:
        return self.ts if self.since is None else self.since

    def to_wire(self) -> list[Any]:
        return _AGENT_UPDATE_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> AgentUpdate:
        return _AGENT_UPDATE_WIRE.from_wire(row)


@dataclass(frozen=True, slots=True)
class Presence:
    """An agent's state in one queue as of ``ts``; ``state`` None: no longer serves it."""

    queue: str
    agent_id: str
    state: str | None
    ts: float
    place: Place = NO_PLACE

    @property
    def version(self) -> Version:
        return self.ts, self.place

    def to_wire(self) -> list[Any]:
        return _PRESENCE_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> Presence:
        return _PRESENCE_WIRE.from_wire(row)


#: A place travels as a list of two; a row without one was written before places were recorded.
_AGENT_UPDATE_WIRE = Row(
    AgentUpdate,
    encode={"queues": list, "place": list},
    decode={"queues": tuple, "place": tuple},
    optional=("since",),
)
_PRESENCE_WIRE = Row(Presence, encode={"place": list}, decode={"place": tuple})


def kept_update(latest: AgentUpdate | None, update: AgentUpdate) -> AgentUpdate:
    """``update`` as the agent stage keeps it: in the same state as ``latest``, since ``latest``'s start."""
    since = latest.in_state_since if latest is not None and latest.state == update.state else update.ts
    return replace(update, since=since)


def apply_agent_update(latest: AgentUpdate | None, update: AgentUpdate) -> list[Presence] | None:
    """What the queues must learn from ``update``; ``None`` when it is a duplicate or older than
    ``latest`` (by :attr:`AgentUpdate.version`), in which case it must not be stored either."""
    if latest is not None and (update == latest or update.version < latest.version):
        return None
    serves = dict.fromkeys(update.queues)  # ordered, without repeats
    left = [queue for queue in (latest.queues if latest else ()) if queue not in serves]
    return [Presence(queue, update.agent_id, update.state, update.ts, update.place) for queue in serves] + [
        Presence(queue, update.agent_id, None, update.ts, update.place) for queue in left
    ]


#: What a queue knows of one agent: state (None: no longer serves it), as of, place, the worker's
#: clock when it was recorded, and since when (event time) the agent has been in that state.
Entry = tuple[str | None, float, Place, float, float]
#: Agents one queue keeps, far above real use (hundreds; a few thousand in the largest centres),
#: so that invented agent ids cannot grow its changelog record past what the broker accepts:
#: about 90 bytes of JSON each (with a full-length place and times), 720 KB full.
MAX_AGENTS_PER_QUEUE = 8_000


@dataclass(slots=True)
class QueuePresence:
    """The agents of one queue, by agent id digest (stream.kpi.ids)."""

    agents: dict[str, Entry] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            agent: [state, ts, list(place), at, since] for agent, (state, ts, place, at, since) in self.agents.items()
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QueuePresence:
        return cls({id_key(agent): _entry(row) for agent, row in data.items()})

    def has_room_for(self, agent_id: str) -> bool:
        return id_key(agent_id) in self.agents or len(self.agents) < MAX_AGENTS_PER_QUEUE


def apply_presence(state: QueuePresence, presence: Presence, now: float) -> bool:
    """Keep ``presence``, recorded at ``now``, unless what is known of the agent is newer (or the
    same); True if kept."""
    key = id_key(presence.agent_id)
    known = state.agents.get(key)
    if known is not None and ((known[1], known[2]) > presence.version or known[:3] == _seen(presence)):
        return False
    # A repeat of the state the agent is already in (a change of its queues) keeps its start.
    since = known[4] if known is not None and known[0] == presence.state else presence.ts
    state.agents[key] = (*_seen(presence), now, since)
    return True


def _seen(presence: Presence) -> tuple[str | None, float, Place]:
    return presence.state, presence.ts, presence.place


def agents_by_state(state: QueuePresence) -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent_state, *_ in state.agents.values():
        if agent_state is not None:
            counts[agent_state] += 1
    return counts


def agents_serving(latest: Iterable[AgentUpdate], queues: Collection[str], now: float) -> list[dict[str, Any]]:
    """The agents serving any of ``queues``, with their state and how long they have been in it at
    ``now``, in :func:`listing_order`."""
    listed = [
        {
            "agent_id": u.agent_id,
            "state": u.state,
            "in_state_seconds": max(0.0, now - u.in_state_since),
            "queues": list(u.queues),
        }
        for u in latest
        if not queues.isdisjoint(u.queues)
    ]
    return sorted(listed, key=listing_order)


_STATE_ORDER = {state: n for n, state in enumerate(AGENT_STATES)}


def listing_order(agent: Mapping[str, Any]) -> tuple[int, float, str]:
    """Where a listed agent (:func:`agents_serving`) goes: by state, then longest in it first (what a
    supervisor scans for: who has been away longest)."""
    return _STATE_ORDER[agent["state"]], -agent["in_state_seconds"], agent["agent_id"]


def longest_in_state(state: QueuePresence, now: float) -> dict[str, float]:
    """Per state (every state), how long the agent longest in it has been in it at ``now`` (0: nobody)."""
    longest = dict.fromkeys(AGENT_STATES, 0.0)
    for agent_state, _, _, _, since in state.agents.values():
        if agent_state is not None:
            longest[agent_state] = max(longest[agent_state], now - since)
    return longest


def distinct_agents_by_state(latest: Iterable[AgentUpdate]) -> dict[str, int]:
    """Agents per latest state, each agent once however many queues it serves (every state, 0
    included): the count over the agents' own table, not over the queues'."""
    counts = dict.fromkeys(AGENT_STATES, 0)
    for update in latest:
        counts[update.state] += 1
    return counts


def forget_gone(state: QueuePresence, now: float, retention: float, silent_ttl: float) -> bool:
    """Drop agents whose departure from the queue was recorded more than ``retention`` ago, and
    agents whose latest state is older than ``silent_ttl``; True if any went.

    A departure is remembered so an older update re-delivered after it (a crash, a rebalance)
    cannot re-add the agent. Such a copy comes within a while of the departure being recorded,
    however old the departure itself, so the worker's clock measures the while. Silence is the
    agent's own (no state for so long, by event time): logged off without saying so.
    """
    gone = [
        agent
        for agent, (in_state, ts, _, at, _) in state.agents.items()
        if (now - at > retention if in_state is None else now - ts > silent_ttl)
    ]
    for agent in gone:
        del state.agents[agent]
    return bool(gone)


def agent_expired(latest: AgentUpdate, now: float, silent_ttl: float) -> bool:
    """Whether an agent's latest state is older than ``silent_ttl`` (by event time, as the queues
    forget it, :func:`forget_gone`)."""
    return now - latest.ts > silent_ttl


def agent_kept_until(latest: AgentUpdate, silent_ttl: float) -> float:
    """Until when an agent's latest state is kept: :func:`agent_expired` is False at any ``now`` up
    to this time and True at any later one."""
    return latest.ts + silent_ttl


def _place(wire: list[Any]) -> Place:
    """A place from its wire form (a list of two; nothing: written before places were recorded)."""
    return (wire[0][0], wire[0][1]) if wire else NO_PLACE


def _entry(row: list[Any]) -> Entry:
    """An entry from its wire form; one written before the worker's clock or the state's start were
    recorded with it takes its event time for them."""
    state, ts, *rest = row
    return state, ts, _place(rest[:1]), rest[1] if len(rest) > 1 else ts, rest[2] if len(rest) > 2 else ts
