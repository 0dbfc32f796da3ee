"""Expiry of table state (stream.pipeline.expiry): what a tick reads, and when a state goes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import faust
import pytest

from stream.ingest.partitioning import partition_for
from stream.kpi.contacts import ContactState
from stream.kpi.customers import CustomerState, Visit, apply_visit
from stream.kpi.presence import AgentUpdate
from stream.kpi.queue_state import QueueState
from stream.kpi.tickets import TicketState
from stream.kpi.windows import WindowSet, parse_windows
from stream.pipeline.expiry import SLICES, TICK_SECONDS, VISITS_PER_TICK, Expiry, Retention
from stream.pipeline.held_writes import DELETED, HeldWrites
from stream.pipeline.ownership import Owns
from stream.pipeline.tables import TABLE_NAMES, Tables

#: 2026-11-22 10:00:00 UTC
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
PARTITIONS = 4
RETENTION = Retention(
    dedupe_seconds=DAY,
    contact_ttl_seconds=4 * 3600.0,
    ticket_ttl_seconds=30 * DAY,
    orphan_ticket_ttl_seconds=3600.0,
    fcr_lookback_seconds=7 * DAY,
    agent_ttl_seconds=8 * 3600.0,
    idle_queue_seconds=DAY,
    configured_queues=frozenset(),
    window_set=WindowSet(parse_windows("15m"), ZoneInfo("UTC")),
)


class Table(dict[str, Any]):
    """A table as expiry sees it: a mapping with a name and partitions, which counts the states
    read from it (a RocksDB table decodes each)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.partitions = PARTITIONS
        self.reads: Counter[str] = Counter()
        self.listings = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] += 1
        return super().get(key, default)

    def keys(self) -> Any:
        self.listings += 1  # a RocksDB table decodes every key it lists
        return super().keys()


def write(table: Table, states: Sequence[tuple[str, Any]]) -> None:
    for key, state in states:
        if state is DELETED:
            table.pop(key, None)
        else:
            table[key] = state


class Worker:
    """An :class:`Expiry` over stand-in tables, with a clock, owned partitions and health to set."""

    def __init__(self, now: float = T0, retention: Retention = RETENTION) -> None:
        self.tables = Tables(**{name: Table(name) for name in TABLE_NAMES})
        self.writes = HeldWrites(write)
        self.now = now
        self.owned = set(range(PARTITIONS))
        self.problem: str | None = None
        self.expiry = Expiry(self.tables, self.writes, retention, lambda: self.now, self.owner_of, lambda: self.problem)

    def owner_of(self, table: faust.TableT) -> Owns:
        owned = frozenset(self.owned)
        if len(owned) == PARTITIONS:
            return lambda key: True
        return lambda key: partition_for(key, PARTITIONS) in owned

    def table(self, name: str) -> Table:
        table: Table = getattr(self.tables, name)
        return table

    def tick(self, at: float | None = None, ticks: int = 1) -> None:
        if at is not None:
            self.now = at
        for _ in range(ticks):
            self.expiry.tick()

    def kept(self, name: str, key: str) -> bool:
        """Whether ``key`` is still in the table once expiry's held writes are written."""
        self.writes.flush()
        return key in self.table(name)

    def reads(self, name: str) -> int:
        return self.table(name).reads.total()


def customer(*started: float) -> CustomerState:
    state = CustomerState()
    for n, at in enumerate(started):
        apply_visit(state, Visit("k-1", f"c-{n}", "sales", "voice", at), RETENTION.fcr_lookback_seconds)
    return state


def key_of(partition: int, prefix: str) -> str:
    return next(f"{prefix}{n}" for n in range(1000) if partition_for(f"{prefix}{n}", PARTITIONS) == partition)


VISITS_KEPT = RETENTION.fcr_lookback_seconds + RETENTION.contact_ttl_seconds


@pytest.mark.parametrize(
    ("name", "state", "kept_until"),
    [
        ("contacts", ContactState("voice", "sales", queued=T0 - 60, abandoned=T0 - 10, changed_at=T0), T0 + DAY),
        ("contacts", ContactState("voice", "sales", queued=T0 - 60, changed_at=T0), T0 + DAY),  # waiting: TTL < dedupe
        ("tickets", TicketState("billing", None, T0 - DAY, solves=(T0,), changed_at=T0), T0 + 30 * DAY),
        ("tickets", TicketState(replies=(T0 - 60,), changed_at=T0), T0 + 3600),  # never created
        ("customers", customer(T0, T0 - DAY), T0 - DAY + VISITS_KEPT),  # the earlier visit goes, then the customer
        ("agents", AgentUpdate("a-1", T0, "available", ("sales",)), T0 + 8 * 3600),
    ],
    ids=["complete-contact", "waiting-contact", "ticket", "orphan-ticket", "customer", "agent"],
)
def test_a_state_is_read_once_until_its_time_and_goes_at_the_first_tick_after(
    name: str, state: Any, kept_until: float
) -> None:
    worker = Worker(T0 + 1)
    table = worker.table(name)
    table["k-1"] = state
    worker.tick()
    assert table.reads["k-1"] == 1
    for at in (T0 + 2, kept_until - 60, kept_until - TICK_SECONDS, kept_until):
        worker.tick(at, ticks=SLICES)  # whole rounds: every pass looks at the key, none reads it
    assert table.reads["k-1"] == 1 and worker.kept(name, "k-1")
    worker.tick(kept_until + TICK_SECONDS)
    assert table.reads["k-1"] == 2
    if name == "customers":  # one visit went; the customer goes with the other
        assert worker.kept(name, "k-1") and len(table["k-1"].visits) == 1
    else:
        assert not worker.kept(name, "k-1")


def test_a_state_a_stage_changed_is_read_again_as_it_may_now_go_sooner() -> None:
    """With a TTL longer than the dedupe time, a contact that completes goes the dedupe time after."""
    worker = Worker(T0, replace(RETENTION, dedupe_seconds=600.0, contact_ttl_seconds=3600.0))
    contacts = worker.table("contacts")
    contacts["c-1"] = waiting = ContactState("voice", "sales", queued=T0, changed_at=T0)  # kept until T0 + 3600
    worker.tick(T0 + 1)
    worker.writes.put(contacts, "c-1", replace(waiting, abandoned=T0 + 10, changed_at=T0 + 10))  # until T0 + 610
    worker.writes.flush()  # read from the table, so that the read is counted
    worker.tick(T0 + 11)
    assert contacts.reads["c-1"] == 2
    worker.tick(T0 + 610, ticks=SLICES)
    assert contacts.reads["c-1"] == 2 and worker.kept("contacts", "c-1")
    worker.tick(T0 + 610.5)
    assert not worker.kept("contacts", "c-1")


def test_expirys_own_writes_do_not_bring_a_key_back_sooner() -> None:
    worker = Worker(T0)
    customers = worker.table("customers")
    customers["k-1"] = customer(T0, T0 - VISITS_KEPT)  # the earlier visit is due
    worker.tick(T0 + 1)
    worker.writes.flush()
    assert len(customers["k-1"].visits) == 1 and customers.reads["k-1"] == 1
    worker.tick(T0 + 2, ticks=SLICES)
    assert customers.reads["k-1"] == 1


def test_keys_present_at_the_start_are_read_once_in_a_round_a_slice_a_tick() -> None:
    worker = Worker(T0)
    tickets = worker.table("tickets")
    old = TicketState("billing", None, T0 - 40 * DAY, changed_at=T0 - 40 * DAY)
    new = TicketState("billing", None, T0 - DAY, changed_at=T0 - DAY)
    for n in range(25):
        tickets[f"t-{n}"] = old if n % 5 == 0 else new
    read = []
    for _ in range(SLICES):
        worker.tick()
        read.append(worker.reads("tickets"))
    assert read[0] == math.ceil(25 / SLICES) and read[-1] == 25
    assert set(tickets.reads.values()) == {1}
    worker.writes.flush()
    assert sorted(tickets) == sorted(f"t-{n}" for n in range(25) if n % 5)


def test_a_tick_reads_a_bounded_number_of_states_and_none_once_every_key_is_planned() -> None:
    worker = Worker(T0)
    tickets = worker.table("tickets")
    fresh = TicketState("billing", None, T0, changed_at=T0)
    keys = 100_000
    tickets.update((f"t-{n}", fresh) for n in range(keys))
    read = [0]
    while read[-1] < keys:
        worker.tick()
        read.append(worker.reads("tickets"))
    assert max(b - a for a, b in zip(read, read[1:], strict=False)) == VISITS_PER_TICK
    assert len(read) - 1 == math.ceil(keys / VISITS_PER_TICK)
    worker.tick(T0 + DAY, ticks=3 * SLICES)  # three more rounds
    assert worker.reads("tickets") == keys


def test_keys_falling_due_together_are_visited_so_many_a_tick() -> None:
    worker = Worker(T0)
    agents = worker.table("agents")
    keys = 5 * VISITS_PER_TICK // 2
    agents.update((f"a-{n}", AgentUpdate(f"a-{n}", T0, "available", ("sales",))) for n in range(keys))
    worker.tick(ticks=SLICES)
    assert worker.reads("agents") == keys
    kept = []
    for _ in range(3):
        worker.tick(T0 + 8 * 3600 + 1)
        kept.append(sum(worker.kept("agents", f"a-{n}") for n in range(keys)))
    assert kept == [keys - VISITS_PER_TICK, keys - 2 * VISITS_PER_TICK, 0]


def test_a_partition_that_comes_back_is_read_afresh_and_another_workers_keys_are_not_read() -> None:
    worker = Worker(T0)
    customers = worker.table("customers")
    mine, back, other = key_of(0, "mine-"), key_of(1, "back-"), key_of(1, "other-")
    customers[mine] = customers[back] = customer(T0)
    worker.tick(ticks=SLICES)
    assert (customers.reads[mine], customers.reads[back]) == (1, 1)

    worker.owned = {0, 2, 3}
    del customers[back]  # the store lets a revoked partition go
    customers[other] = customer(T0)  # a standby copy of another worker's key
    worker.tick(T0 + 1, ticks=2 * SLICES)
    assert customers.reads[other] == 0  # looked at as another worker's, never read
    assert customers.reads[mine] == 2  # every key is planned again once a partition went

    del customers[other]
    customers[back] = customer(T0, T0 - DAY)  # the other worker recorded an earlier visit meanwhile
    worker.owned = set(range(PARTITIONS))
    worker.tick(T0 + 2, ticks=SLICES)
    assert customers.reads[back] == 2  # read afresh, not at the time planned before it went

    worker.tick(T0 - DAY + VISITS_KEPT + TICK_SECONDS)
    worker.writes.flush()
    assert len(customers[back].visits) == 1


@pytest.mark.parametrize("clock_moves", [True, False], ids=["live", "replay-ended"])
def test_a_queue_is_visited_once_a_round_of_ticks_however_often_written_and_whatever_the_clock(
    clock_moves: bool,
) -> None:
    worker = Worker(T0)
    queues = worker.table("queues")
    state = QueueState(waiting={"c-1": T0})
    rounds = 3
    for n in range(1, rounds * SLICES + 1):
        worker.writes.put(queues, "sales/voice", state)
        worker.writes.flush()
        # In replay the event clock stops with the input; the queue's waits must still be pruned.
        worker.tick(T0 + n * TICK_SECONDS if clock_moves else T0)
    assert queues.reads["sales/voice"] == rounds


def test_nothing_is_read_while_the_worker_is_not_consuming() -> None:
    worker = Worker(T0)
    contacts = worker.table("contacts")
    contacts["c-1"] = ContactState(
        "voice", "sales", queued=T0 - 2 * DAY, abandoned=T0 - 2 * DAY, changed_at=T0 - 2 * DAY
    )
    worker.problem = "rebalancing"
    worker.tick(ticks=SLICES)
    assert contacts.reads["c-1"] == 0
    worker.problem = None
    worker.tick()
    assert not worker.kept("contacts", "c-1")


def test_keys_are_listed_after_the_start_and_after_a_rebalance_only() -> None:
    worker = Worker(T0)
    tickets = worker.table("tickets")
    for n in range(100):
        tickets[f"t-{n}"] = TicketState("billing", None, T0 - DAY, solves=(T0,), changed_at=T0)
    worker.tick(ticks=3 * SLICES)
    assert tickets.listings == 1 and len(tickets.reads) == 100
    worker.owned = {0, 1, 2}  # a partition went to another worker
    worker.tick()
    worker.owned = {0, 1, 2, 3}  # and came back, perhaps changed meanwhile
    worker.tick(ticks=3 * SLICES)
    assert tickets.listings == 3
