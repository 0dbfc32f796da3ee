"""Agent presence: each agent's latest state, counted per queue served (SPEC §4 'agents by state').

Agent events arrive keyed by agent. The agent stage keeps each agent's latest update (by
event time, so an older update arriving late changes nothing) and tells every queue the
agent serves, and every queue it stopped serving, through a :class:`Presence` routed to
that queue's partition. The queue side again keeps the latest per agent, so a re-delivered
or reordered message cannot bring an old state back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AGENT_STATES = ("available", "busy", "wrapup", "away", "offline")


@dataclass(frozen=True, slots=True)
class AgentUpdate:
    """A validated ``agent.state`` event."""

    agent_id: str
    ts: float
    state: str
    queues: tuple[str, ...]

    def to_wire(self) -> list[Any]:
        return [self.agent_id, self.ts, self.state, list(self.queues)]

    @classmethod
    def from_wire(cls, row: list[Any]) -> AgentUpdate:
        agent_id, ts, state, queues = row
        return cls(agent_id, ts, state, tuple(queues))


@dataclass(frozen=True, slots=True)
class Presence:
    """An agent's state in one queue as of ``ts``; ``state`` None: no longer serves it."""

    queue: str
    agent_id: str
    state: str | None
    ts: float

    def to_wire(self) -> list[Any]:
        return [self.queue, self.agent_id, self.state, self.ts]

    @classmethod
    def from_wire(cls, row: list[Any]) -> Presence:
        return cls(*row)


def apply_agent_update(latest: AgentUpdate | None, update: AgentUpdate) -> list[Presence] | None:
    """What the queues must learn from ``update``; ``None`` when it is a duplicate or older than
    ``latest``, in which case it must not be stored either. Of two different updates at the same
    instant (available, then busy at once), the later to arrive wins."""
    if latest is not None and (update == latest or update.ts < latest.ts):
        return None
    serves = dict.fromkeys(update.queues)  # ordered, without repeats
    left = [queue for queue in (latest.queues if latest else ()) if queue not in serves]
    return [Presence(queue, update.agent_id, update.state, update.ts) for queue in serves] + [
        Presence(queue, update.agent_id, None, update.ts) for queue in left
    ]


@dataclass(slots=True)
class QueuePresence:
    """The agents of one queue: agent id -> (state or None, as of)."""

    agents: dict[str, tuple[str | None, float]] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {agent: list(entry) for agent, entry in self.agents.items()}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> QueuePresence:
        return cls({agent: (state, ts) for agent, (state, ts) in data.items()})


def apply_presence(state: QueuePresence, presence: Presence) -> bool:
    """Keep ``presence`` unless what is known of the agent is newer (or the same); True if kept."""
    known = state.agents.get(presence.agent_id)
    if known is not None and (known[1] > presence.ts or known == (presence.state, presence.ts)):
        return False
    state.agents[presence.agent_id] = (presence.state, presence.ts)
    return True


def agents_by_state(state: QueuePresence) -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent_state, _ in state.agents.values():
        if agent_state is not None:
            counts[agent_state] += 1
    return counts


def forget_departed(state: QueuePresence, now: float, retention: float) -> bool:
    """Drop agents that left the queue more than ``retention`` ago; True if any went.

    A departure is remembered for a while so an older, reordered update cannot re-add the agent.
    """
    gone = [agent for agent, (agent_state, ts) in state.agents.items() if agent_state is None and now - ts > retention]
    for agent in gone:
        del state.agents[agent]
    return bool(gone)
