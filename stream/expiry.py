"""Expiry of table state, a slice of each table at a time.

Finished contacts and tickets, old visits, departed agents, window buckets that left every
window and stale waits are dropped by a timer. A day's state is tens of thousands of contacts
and customers, and visiting every key at once held the event loop, and so every stage, for
50 ms and more every few seconds. :class:`Expiry` takes a snapshot of each table's keys and
visits it in :data:`SLICES` slices over :data:`ROUND_SECONDS`, one slice per tick; keys added meanwhile are visited in
the next round.

Deletions and changed states are held like every stage's writes (``stream.deferred``), so they
go out with them, never as a burst, and always before offsets are committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import faust

from stream.aggregates import QueueState, prune
from stream.contacts import is_expired as contact_expired
from stream.customers import CustomerState, expire_visits
from stream.deferred import DELETED
from stream.presence import QueuePresence, forget_departed
from stream.tickets import is_expired as ticket_expired

if TYPE_CHECKING:
    from stream.app import Pipeline

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


def rules(p: Pipeline, now: float) -> list[tuple[faust.TableT, faust.TopicT, Callable[[Any], Verdict]]]:
    """Each table, the topic whose partitions its keys follow, and its expiry rule at ``now``.

    What recognises a duplicate (contacts, tickets, survey ids, departed agents) is kept
    KPI_DEDUPE_SECONDS by the worker's clock after it was last changed, so a backlog is as well
    protected as live input; what is about the events' own time (an unfinished contact's TTL,
    a ticket's reopening, the FCR lookback, window buckets) ages by event time against now.
    Nothing ages by how long an event took to arrive.
    """
    s = p.settings
    tables, topics = p.tables, p.topics

    def contact(state: Any) -> Verdict:
        return None if contact_expired(state, now, s.dedupe_seconds, s.contact_ttl_seconds) else False

    def ticket(state: Any) -> Verdict:
        return None if ticket_expired(state, now, s.dedupe_seconds, s.ticket_ttl_seconds) else False

    def customer(state: CustomerState) -> Verdict:
        # A visit matters to the customer's contacts within the lookback after it started.
        changed = expire_visits(state, now, s.fcr_lookback_seconds + s.contact_ttl_seconds)
        return changed if state.visits else None

    def queue(state: QueueState) -> Verdict:
        changed = prune(state, p.window_set, now, s.contact_ttl_seconds, s.dedupe_seconds)
        return None if state.is_empty else changed

    def presence(state: QueuePresence) -> Verdict:
        changed = forget_departed(state, now, s.dedupe_seconds)
        return changed if state.agents else None

    return [
        (tables.contacts, topics.contact_events, contact),
        (tables.tickets, topics.contact_events, ticket),
        (tables.customers, topics.customer_visits, customer),
        (tables.queues, topics.queue_facts, queue),
        (tables.presence, topics.queue_presence, presence),
    ]


def visit(p: Pipeline, table: faust.TableT, owns: Callable[[str], bool], update: Callable[[Any], Verdict],
          keys: list[str]) -> None:  # fmt: skip
    """Apply ``update`` to the latest state (held ones included) of each owned key still there."""
    for key in keys:
        if not owns(key):
            continue
        state = p.writes.get(table, key)
        if state is None:
            continue  # deleted since the round began
        verdict = update(state)
        if verdict is None:
            p.writes.put(table, key, DELETED)
        elif verdict:
            p.writes.put(table, key, state)
