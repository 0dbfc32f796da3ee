"""Expiry of table state, a slice of each table at a time.

Finished contacts and tickets, old visits, departed agents, window buckets that left every
window and stale waits are dropped by a timer. A day's state is tens of thousands of contacts
and customers, and visiting every key at once held the event loop, and so every stage, for
50 ms and more every few seconds. :class:`Expiry` takes a snapshot of each table's keys and
visits it in :data:`SLICES` slices over :data:`ROUND_SECONDS`, one slice per tick; keys added meanwhile are visited in
the next round.

Deletions and changed states are held like every stage's writes (``stream.pipeline.held_writes``), so they
go out with them, never as a burst, and always before offsets are committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust

from stream.ingest.partitioning import split_queue_key
from stream.kpi.aggregates import QueueState, prune
from stream.kpi.contacts import is_expired as contact_expired
from stream.kpi.customers import CustomerState, expire_visits
from stream.kpi.presence import AgentUpdate, QueuePresence, agent_expired, forget_gone
from stream.kpi.tickets import is_expired as ticket_expired
from stream.pipeline.held_writes import DELETED

if TYPE_CHECKING:
    from stream.pipeline.app import Pipeline

#: A round visits every key once, in this many ticks of TICK_SECONDS.
ROUND_SECONDS = 5.0
SLICES = 10
TICK_SECONDS = ROUND_SECONDS / SLICES

#: What expiry does to a state: ``None`` deletes its key, True writes the changed state back.
Verdict = bool | None


class Expiry:
    """The keys of each table still to visit in the current round, and how many per tick."""

    def __init__(self, p: Pipeline) -> None:
        self._p = p
        self._rounds: dict[str, tuple[list[str], int]] = {}

    def tick(self) -> None:
        """Visit the next slice of every table's keys that this worker actively owns."""
        p = self._p
        if p.health_problem() is not None:
            return  # tables may be half recovered during a rebalance; expire next time
        for table, topic, update in rules(p, p.clock()):
            keys, step = self._rounds.get(table.name) or ([], 0)
            if not keys:  # a new round
                keys = p.writes.keys(table)
                step = math.ceil(len(keys) / SLICES)
            self._rounds[table.name] = (keys, step)
            visit(p, table, p.owner(topic), update, keys[-step:] if step else [])
            del keys[-step:]


def rules(p: Pipeline, now: float) -> list[tuple[faust.TableT, faust.TopicT, Callable[[str, Any], Verdict]]]:
    """Each table, the topic whose partitions its keys follow, and its expiry rule at ``now``.

    What recognises a duplicate (contacts, tickets, survey ids, departed agents) is kept
    KPI_DEDUPE_SECONDS by the worker's clock after it was last changed, so a backlog is as well
    protected as live input; what is about the events' own time (an unfinished contact's TTL,
    a ticket's reopening, the FCR lookback, window buckets, an agent's silence) ages by event
    time against now. Nothing ages by how long an event took to arrive. A queue that no event
    has reached for KPI_IDLE_QUEUE_SECONDS by the worker's clock is forgotten, unless KPI_CONFIG
    names it, so invented queue names stop counting against KPI_MAX_QUEUES.
    """
    s = p.settings
    tables, topics = p.tables, p.topics
    configured = s.queue_config.queues

    def idle(queue: str, active_at: float | None) -> bool:
        return queue not in configured and active_at is not None and now - active_at > s.idle_queue_seconds

    def contact(key: str, state: Any) -> Verdict:
        return None if contact_expired(state, now, s.dedupe_seconds, s.contact_ttl_seconds) else False

    def ticket(key: str, state: Any) -> Verdict:
        expired = ticket_expired(state, now, s.dedupe_seconds, s.ticket_ttl_seconds, s.orphan_ticket_ttl_seconds)
        return None if expired else False

    def customer(key: str, state: CustomerState) -> Verdict:
        # A visit matters to the customer's contacts within the lookback after it started.
        changed = expire_visits(state, now, s.fcr_lookback_seconds + s.contact_ttl_seconds)
        return changed if state.visits else None

    def agent(key: str, latest: AgentUpdate) -> Verdict:
        return None if agent_expired(latest, now, s.agent_ttl_seconds) else False

    def queue(key: str, state: QueueState) -> Verdict:
        if idle(split_queue_key(key)[0], state.active_at):
            return None
        changed = prune(state, p.window_set, now, s.contact_ttl_seconds, s.dedupe_seconds)
        return None if state.is_empty else changed

    def presence(key: str, state: QueuePresence) -> Verdict:
        if idle(key, max((at for *_, at in state.agents.values()), default=None)):
            return None
        changed = forget_gone(state, now, s.dedupe_seconds, s.agent_ttl_seconds)
        return changed if state.agents else None

    return [
        (tables.contacts, topics.contact_events, contact),
        (tables.tickets, topics.contact_events, ticket),
        (tables.customers, topics.customer_visits, customer),
        (tables.agents, topics.agent_events, agent),
        (tables.queues, topics.queue_facts, queue),
        (tables.presence, topics.queue_presence, presence),
    ]


def visit(p: Pipeline, table: faust.TableT, owns: Callable[[str], bool], update: Callable[[str, Any], Verdict],
          keys: list[str]) -> None:  # fmt: skip
    """Apply ``update`` to the latest state (held ones included) of each owned key still there."""
    for key in keys:
        if not owns(key):
            continue
        state = p.writes.get(table, key)
        if state is None:
            continue  # deleted since the round began
        verdict = update(key, state)
        if verdict is None:
            p.writes.put(table, key, DELETED)
        elif verdict:
            p.writes.put(table, key, state)
