"""Expiry of table state: each key is visited once it could have expired, not every key every round.

Finished contacts and tickets, old visits, departed agents, window buckets that left every window
and stale waits are dropped by a timer, :meth:`Expiry.tick`, every :data:`TICK_SECONDS`. The
tables hold a month of tickets and a week of customers; reading a state is not free (RocksDB
decodes it), and between two ticks few of them can have expired. So each table's rule comes with
the time until which a state it keeps stays as it is (``kept_until`` in stream.kpi.contacts and
stream.kpi.tickets, ``next_expiry`` in stream.kpi.customers, ``agent_kept_until`` in
stream.kpi.presence), and a tick visits, per table:

1. the keys whose time has passed, from a heap ordered by it (queues and presence, few keys whose
   states hold many times of their own, are simply all visited every round, by the passes below:
   in replay, now is the latest event's time and stops with the input, so "a round later" by that
   clock would never come);
2. the keys the stages wrote since the last tick (:meth:`HeldWrites.take_put_keys`), since an event
   can bring that time forward (an earlier visit of a customer, a contact that completes);
3. after a start and after each change in the partitions this worker owns (a rebalance), and every
   round for queues and presence, a slice of a pass over all the table's keys, visiting those not
   planned yet: what the recovery or a
   newly assigned partition brought in. A pass walks a snapshot of the keys in :data:`SLICES`
   slices, one a tick (of at most :data:`LOOKS_PER_TICK` keys), looking at each key, not reading
   it. Between rebalances every key comes from a stage's write, so no pass is needed: listing a
   RocksDB table's keys decodes every one of them (about 1.3 s for 600,000 keys).

A tick visits at most :data:`VISITS_PER_TICK` keys of a table and leaves the rest to the next
ones, so it holds the event loop for a bounded while however large the tables, and costs no reads
while nothing can have expired. When this worker stops owning one of a table's partitions (a
rebalance; asked of ``owner_of`` through a key of each partition), the table's plan is dropped and
the passes make it again, so a partition that comes back, perhaps changed by another worker
meanwhile, is visited afresh rather than at times planned before.

Deletions and changed states are held like every stage's writes (``stream.pipeline.held_writes``),
so they go out with them, never as a burst, and always before offsets are committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache
from heapq import heappop, heappush
from itertools import islice
from typing import Any, NamedTuple

import faust

from stream.ingest.partitioning import partition_for
from stream.kpi.contacts import is_expired as contact_expired
from stream.kpi.contacts import kept_until as contact_kept_until
from stream.kpi.customers import CustomerState, expire_visits, next_expiry
from stream.kpi.presence import AgentUpdate, QueuePresence, agent_expired, agent_kept_until, forget_gone
from stream.kpi.queue_keys import split_queue_key
from stream.kpi.queue_state import QueueState, prune
from stream.kpi.tickets import is_expired as ticket_expired
from stream.kpi.tickets import kept_until as ticket_kept_until
from stream.kpi.windows import WindowSet
from stream.pipeline.held_writes import DELETED, HeldWrites
from stream.pipeline.ownership import Owns
from stream.pipeline.tables import Tables

#: A round looks at every key once, in this many ticks of TICK_SECONDS.
ROUND_SECONDS = 5.0
SLICES = 10
TICK_SECONDS = ROUND_SECONDS / SLICES
#: The most keys a tick visits per table. A visit reads a state (RocksDB decodes it); live, far fewer
#: keys are written or fall due per tick, and a backlog's are caught up with over the next ticks.
VISITS_PER_TICK = 2_000
#: The most keys a tick looks at (without reading them) in a pass; a pass over a larger table takes
#: more than a round.
LOOKS_PER_TICK = 20_000

#: What expiry does to a state: ``None`` deletes its key, True writes the changed state back.
Verdict = bool | None
Rule = Callable[[str, Any], Verdict]
#: Until when a state its rule kept stays as it is, by the clock of ``now``.
KeptUntil = Callable[[Any], float]


class Expiring(NamedTuple):
    table: faust.TableT
    rule: Rule
    #: None: every key of the table is visited once a round, whatever the stages write (a few keys).
    kept_until: KeptUntil | None


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
class _Plan:
    """One table's keys by when each is next to be visited, the keys written since, and the pass."""

    #: Key -> the time of its entry in ``heap``; an entry whose time is not its key's here is stale.
    due: dict[str, float] = field(default_factory=dict)
    heap: list[tuple[float, str]] = field(default_factory=list)
    #: Keys the stages wrote, to visit (a dict as an ordered set).
    written: dict[str, None] = field(default_factory=dict)
    #: The current pass: the keys still to look at, and how many a tick looks at.
    sweep: list[str] = field(default_factory=list)
    step: int = 0
    #: The partitions this worker owned at the last tick.
    owned: frozenset[int] | None = None
    #: Whether a pass is to start once the current one is over (at the start, and after a rebalance).
    pass_wanted: bool = True
    #: The tick from which the next round's pass of a table visited every round may start.
    next_round: int = 0

    def visit_after(self, key: str, at: float) -> None:
        """Visit ``key`` at the first tick after ``at``, or earlier if it is to be already (that
        visit plans the next)."""
        planned = self.due.get(key)
        if planned is None or at < planned:
            self.due[key] = at
            heappush(self.heap, (at, key))

    def take_due(self, now: float, limit: int) -> list[str]:
        """Up to ``limit`` keys whose time is before ``now``, no longer planned."""
        keys: list[str] = []
        while self.heap and self.heap[0][0] < now and len(keys) < limit:
            at, key = heappop(self.heap)
            if self.due.get(key) == at:
                del self.due[key]
                keys.append(key)
        return keys

    def drop(self) -> None:
        """Forget when every key is due; the passes plan them again."""
        self.due, self.heap = {}, []


@dataclass
class Expiry:
    """When each table's keys are next to be visited, and which are still to be looked at."""

    tables: Tables
    writes: HeldWrites
    retention: Retention
    clock: Callable[[], float]
    owner_of: Callable[[faust.TableT], Owns]
    health_problem: Callable[[], str | None]
    _plans: dict[str, _Plan] = field(default_factory=dict, init=False)
    _ticks: int = field(default=0, init=False)

    def tick(self) -> None:
        """Visit, in every table, the keys this worker owns that are due or were written, and the
        next slice of those not planned yet."""
        if self.health_problem() is not None:
            return  # tables may be half recovered during a rebalance; expire next time
        now = self.clock()
        self._ticks += 1
        for expiring in rules(self.tables, self.retention, now):
            self._tick(expiring, now)

    def _tick(self, expiring: Expiring, now: float) -> None:
        table, rule, kept_until = expiring
        plan = self._plans.setdefault(table.name, _Plan())
        owns = self.owner_of(table)
        owned = frozenset(partition for partition, key in enumerate(_probes(table.partitions)) if owns(key))
        if plan.owned is not None and owned != plan.owned:
            if not plan.owned <= owned:
                plan.drop()  # a partition went: what was planned for it no longer holds if it comes back
            plan.pass_wanted = True
        plan.owned = owned
        written_keys = self.writes.take_put_keys(table)
        if kept_until is not None:
            plan.written.update(dict.fromkeys(written_keys))

        def visit(key: str) -> None:
            """Apply the rule to the latest state (held ones included) of ``key``, and plan its next visit."""
            plan.written.pop(key, None)
            state = self.writes.get(table, key) if owns(key) else None
            if state is None:  # another worker's now, or deleted since
                plan.due.pop(key, None)
                return
            verdict = rule(key, state)
            if verdict is None:
                self.writes.put(table, key, DELETED, report=False)
                plan.due.pop(key, None)
                return
            if verdict:
                self.writes.put(table, key, state, report=False)
            if kept_until is not None:
                plan.visit_after(key, kept_until(state))

        due = plan.take_due(now, VISITS_PER_TICK)
        for key in due:
            visit(key)
        written = list(islice(plan.written, VISITS_PER_TICK - len(due)))
        for key in written:
            visit(key)
        budget = VISITS_PER_TICK - len(due) - len(written)
        if budget == 0:
            return  # the pass goes on in the next tick
        if not plan.sweep and (plan.pass_wanted or (kept_until is None and self._ticks >= plan.next_round)):
            plan.sweep = self.writes.keys(table)  # a new pass
            plan.step = min(math.ceil(len(plan.sweep) / SLICES), LOOKS_PER_TICK)
            plan.pass_wanted = False
            plan.next_round = self._ticks + SLICES
        if plan.sweep:
            looked = plan.sweep[-plan.step :]
            del plan.sweep[-plan.step :]
            unplanned = [key for key in looked if key not in plan.due and key not in plan.written and owns(key)]
            for key in unplanned[:budget]:
                visit(key)
            plan.sweep += unplanned[budget:]  # for the next tick


@cache
def _probes(partitions: int) -> tuple[str, ...]:
    """A key of each partition, by partition: whether this worker owns the key says whether it owns
    the partition."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        found.setdefault(partition_for(str(n), partitions), str(n))
        n += 1
    return tuple(found[partition] for partition in range(partitions))


def rules(tables: Tables, r: Retention, now: float) -> list[Expiring]:
    """Each table, its expiry rule at ``now`` and until when a state the rule keeps stays as it is.

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

    # A visit matters to the customer's contacts within the lookback after it started.
    visits_kept = r.fcr_lookback_seconds + r.contact_ttl_seconds

    def customer(key: str, state: CustomerState) -> Verdict:
        changed = expire_visits(state, now, visits_kept)
        return changed if state.history else None

    def agent(key: str, latest: AgentUpdate) -> Verdict:
        return None if agent_expired(latest, now, r.agent_ttl_seconds) else False

    def queue(key: str, state: QueueState) -> Verdict:
        if idle(split_queue_key(key)[0], state.active_at):
            return None
        changed = prune(state, r.window_set, now, r.contact_ttl_seconds, r.dedupe_seconds)
        return None if state.is_empty else changed

    def presence(key: str, state: QueuePresence) -> Verdict:
        if idle(key, max((at for _, _, _, at, _ in state.agents.values()), default=None)):
            return None
        changed = forget_gone(state, now, r.dedupe_seconds, r.agent_ttl_seconds)
        return changed if state.agents else None

    return [
        Expiring(
            tables.contacts, contact, lambda state: contact_kept_until(state, r.dedupe_seconds, r.contact_ttl_seconds)
        ),
        Expiring(
            tables.tickets,
            ticket,
            lambda state: ticket_kept_until(state, r.dedupe_seconds, r.ticket_ttl_seconds, r.orphan_ticket_ttl_seconds),
        ),
        # A customer without visits is deleted by its rule, so it always has a next expiry.
        Expiring(tables.customers, customer, lambda state: next_expiry(state, visits_kept) or now),
        Expiring(tables.agents, agent, lambda latest: agent_kept_until(latest, r.agent_ttl_seconds)),
        # Window buckets, waits and idleness each have their own times; a few keys, visited every
        # round of the worker's ticks, not at a time: in replay the event clock stops with the input.
        Expiring(tables.queues, queue, None),
        Expiring(tables.presence, presence, None),
    ]
