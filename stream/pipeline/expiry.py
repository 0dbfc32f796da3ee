"""Expiry of table state, a slice of each table at a time.

Finished contacts and tickets, old visits, departed agents, window buckets that left every
window and stale waits are dropped by a timer. Visiting every key of a day's state at once would
hold the event loop, and so every stage, for a long while; :class:`Expiry` takes a snapshot of each
table's keys and visits it in :data:`SLICES` slices over :data:`ROUND_SECONDS`, one slice per tick;
keys added meanwhile are visited in the next round.

Deletions and changed states are held like every stage's writes (``stream.pipeline.held_writes``),
so they go out with them, never as a burst, and always before offsets are committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import faust

from stream.kpi.contacts import is_expired as contact_expired
from stream.kpi.customers import CustomerState, expire_visits
from stream.kpi.presence import AgentUpdate, QueuePresence, agent_expired, forget_gone
from stream.kpi.queue_keys import split_queue_key
from stream.kpi.queue_state import QueueState, prune
from stream.kpi.tickets import is_expired as ticket_expired
from stream.kpi.windows import WindowSet
from stream.pipeline.held_writes import DELETED, HeldWrites
from stream.pipeline.ownership import Owns
from stream.pipeline.tables import Tables

#: A round visits every key once, in this many ticks of TICK_SECONDS.
ROUND_SECONDS = 5.0
SLICES = 10
TICK_SECONDS = ROUND_SECONDS / SLICES

#: What expiry does to a state: ``None`` deletes its key, True writes the changed state back.
Verdict = bool | None
Rule = Callable[[str, Any], Verdict]


@dataclass(frozen=True)
class Retention:
    """How long each kind of state is kept (the KPI_*_SECONDS settings), and which queues are never idle."""

    dedupe_seconds: float
    contact_ttl_seconds: float
    ticket_ttl_seconds: float
    orphan_ticket_ttl_seconds: float
    fcr_lookback_seconds: float
    agent_ttl_seconds: float
    idle_queue_seconds: float
    configured_queues: Collection[str]
    window_set: WindowSet


@dataclass
class Expiry:
    """The keys of each table still to visit in the current round, and how many per tick."""

    tables: Tables
    writes: HeldWrites
    retention: Retention
    clock: Callable[[], float]
    owner_of: Callable[[faust.TableT], Owns]
    health_problem: Callable[[], str | None]
    #: Per table, the keys still to visit in the current round and how many a tick visits.
    _rounds: dict[str, tuple[list[str], int]] = field(default_factory=dict, init=False)

    def tick(self) -> None:
        """Visit the next slice of every table's keys that this worker actively owns."""
        if self.health_problem() is not None:
            return  # tables may be half recovered during a rebalance; expire next time
        for table, rule in rules(self.tables, self.retention, self.clock()):
            keys, step = self._rounds.get(table.name) or ([], 0)
            if not keys:  # a new round
                keys = self.writes.keys(table)
                step = math.ceil(len(keys) / SLICES)
            self._rounds[table.name] = (keys, step)
            self._visit(table, rule, keys[-step:] if step else [])
            del keys[-step:]

    def _visit(self, table: faust.TableT, rule: Rule, keys: list[str]) -> None:
        """Apply ``rule`` to the latest state (held ones included) of each owned key still there."""
        owns = self.owner_of(table)
        for key in keys:
            if not owns(key):
                continue
            state = self.writes.get(table, key)
            if state is None:
                continue  # deleted since the round began
            verdict = rule(key, state)
            if verdict is None:
                self.writes.put(table, key, DELETED)
            elif verdict:
                self.writes.put(table, key, state)


def rules(tables: Tables, r: Retention, now: float) -> list[tuple[faust.TableT, Rule]]:
    """Each table and its expiry rule at ``now``.

    What recognises a duplicate (contacts, tickets, survey ids, departed agents) is kept
    KPI_DEDUPE_SECONDS by the worker's clock after it was last changed, so a backlog is as well
    protected as live input; what is about the events' own time (an unfinished contact's TTL,
    a ticket's reopening, the FCR lookback, window buckets, an agent's silence) ages by event
    time against now. Nothing ages by how long an event took to arrive. A queue that no event
    has reached for KPI_IDLE_QUEUE_SECONDS by the worker's clock is forgotten, unless KPI_CONFIG
    names it, so invented queue names stop counting against KPI_MAX_QUEUES.
    """

    def idle(queue: str, active_at: float | None) -> bool:
        return queue not in r.configured_queues and active_at is not None and now - active_at > r.idle_queue_seconds

    def contact(key: str, state: Any) -> Verdict:
        return None if contact_expired(state, now, r.dedupe_seconds, r.contact_ttl_seconds) else False

    def ticket(key: str, state: Any) -> Verdict:
        expired = ticket_expired(state, now, r.dedupe_seconds, r.ticket_ttl_seconds, r.orphan_ticket_ttl_seconds)
        return None if expired else False

    def customer(key: str, state: CustomerState) -> Verdict:
        # A visit matters to the customer's contacts within the lookback after it started.
        changed = expire_visits(state, now, r.fcr_lookback_seconds + r.contact_ttl_seconds)
        return changed if state.visits else None

    def agent(key: str, latest: AgentUpdate) -> Verdict:
        return None if agent_expired(latest, now, r.agent_ttl_seconds) else False

    def queue(key: str, state: QueueState) -> Verdict:
        if idle(split_queue_key(key)[0], state.active_at):
            return None
        changed = prune(state, r.window_set, now, r.contact_ttl_seconds, r.dedupe_seconds)
        return None if state.is_empty else changed

    def presence(key: str, state: QueuePresence) -> Verdict:
        if idle(key, max((at for *_, at in state.agents.values()), default=None)):
            return None
        changed = forget_gone(state, now, r.dedupe_seconds, r.agent_ttl_seconds)
        return changed if state.agents else None

    return [
        (tables.contacts, contact),
        (tables.tickets, ticket),
        (tables.customers, customer),
        (tables.agents, agent),
        (tables.queues, queue),
        (tables.presence, presence),
    ]
