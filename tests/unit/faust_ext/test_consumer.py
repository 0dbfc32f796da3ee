"""stream.faust_ext.consumer and lost_records: the inline hand-off keeps what Faust's race guarantees, without
its tasks; records Faust drops are read again, and commits go past records acknowledged twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, NamedTuple

import mode
import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import SubscriptionState
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from intervaltree import IntervalTree

from stream.faust_ext import lost_records
from stream.faust_ext.consumer import FlushBeforeCommit, InlineHandoff, consumer_class
from stream.faust_ext.lost_records import NoSkippedRecords, OneAckPerOffset


class Drainer(InlineHandoff, mode.Service):
    """The two things the hand-off uses from Faust's consumer: ``suspend_flow`` and ``wait_first``."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()

    async def hand_off(self, callback: Any) -> Any:
        # The exact call of Consumer._drain_messages.
        return await self.wait_first(callback, self.suspend_flow.wait())


@contextmanager
def counting_tasks() -> Iterator[list[asyncio.Task[Any]]]:
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(None)


async def test_a_callback_that_does_not_wait_runs_inline_without_tasks() -> None:
    drainer = Drainer()
    handled = []

    async def on_message() -> str:
        handled.append("m1")
        return "done"

    with counting_tasks() as tasks:
        results = await drainer.hand_off(on_message())
    assert handled == ["m1"] and results.results == ["done"] and not results.stopped
    assert tasks == []


async def test_a_callback_blocked_on_a_full_buffer_finishes_once_there_is_room() -> None:
    drainer = Drainer()
    buffer: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
    buffer.put_nowait("m1")
    blocked = asyncio.Event()

    async def on_message() -> None:
        blocked.set()  # nothing yields to the loop between this and the put's wait
        await buffer.put("m2")

    async def agent() -> list[str]:
        await blocked.wait()
        return [await buffer.get(), await buffer.get()]

    consumed = asyncio.ensure_future(agent())
    with counting_tasks() as tasks:
        await drainer.hand_off(on_message())
    assert await consumed == ["m1", "m2"]
    assert tasks, "the waiting callback goes through Faust's race"


async def test_a_rebalance_interrupts_a_callback_blocked_on_a_full_buffer() -> None:
    drainer = Drainer()
    buffer: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
    buffer.put_nowait("m1")
    outcome = []
    blocked = asyncio.Event()

    async def on_message() -> None:
        try:
            blocked.set()  # nothing yields to the loop between this and the put's wait
            await buffer.put("m2")
            outcome.append("delivered")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def rebalance() -> None:
        await blocked.wait()
        drainer.suspend_flow.set()

    asyncio.ensure_future(rebalance())
    results = await asyncio.wait_for(drainer.hand_off(on_message()), timeout=5)
    await asyncio.sleep(0)  # let the cancellation reach the callback
    assert results.results == [True]  # the suspended flow won the race
    assert outcome == ["cancelled"] and buffer.qsize() == 1


async def test_a_resumed_callback_gets_the_results_and_errors_of_what_it_awaits() -> None:
    drainer = Drainer()

    async def on_message() -> int:
        # Awaits that really suspend it (a timer each), so the drainer resumes it twice.
        value = await asyncio.sleep(0.01, result=20)
        try:
            await asyncio.sleep(0.01)
            raise KeyError("bad")
        except KeyError:
            return value + 1

    assert (await drainer.hand_off(on_message())).results == [21]


async def test_an_error_of_an_inline_callback_reaches_the_drain_loop() -> None:
    drainer = Drainer()

    async def on_message() -> None:
        raise ValueError("cannot decode")

    with pytest.raises(ValueError, match="cannot decode"):
        await drainer.hand_off(on_message())


async def test_while_the_flow_is_suspended_the_message_goes_through_fausts_race() -> None:
    drainer = Drainer()
    drainer.suspend_flow.set()
    ran = []

    async def on_message() -> None:
        await asyncio.Event().wait()  # never done: only the suspended flow can end the race
        ran.append(True)

    with counting_tasks() as tasks:
        await asyncio.wait_for(drainer.hand_off(on_message()), timeout=5)
    assert tasks and ran == []


async def test_other_calls_of_wait_first_are_fausts_own() -> None:
    drainer = Drainer()
    never = asyncio.Event()
    results = await drainer.wait_first(never.wait(), timeout=0.01)
    assert results.results == []  # Faust's wait_first honoured the timeout


def test_the_consumer_has_every_override_on_fausts_aiokafka_consumer() -> None:
    """No per-version fallback: stream.faust_ext.compat refuses other versions before the worker starts."""
    consumer = consumer_class(100)
    assert issubclass(consumer, faust_aiokafka.Consumer)
    overrides = (InlineHandoff, NoSkippedRecords, OneAckPerOffset, FlushBeforeCommit)
    assert all(issubclass(consumer, override) for override in overrides)


Records = list[tuple[str, int]]
#: A fetch: the records Faust delivers, or the records taken from the client and the ones Faust delivers.
Fetch = Records | tuple[Records, Records]


class Fetched:
    """What NoSkippedRecords wraps: Faust's getmany (which takes records from the client with
    _wait_next_records and delivers them, or some of them), seek and perform_seek, over scripted
    fetches."""

    def __init__(self, fetches: list[Fetch]) -> None:
        # The conductor's channels: each stream's buffer of records its agent has not taken yet.
        self.buffer: asyncio.Queue[Any] = asyncio.Queue()
        self.app = SimpleNamespace(
            tables=SimpleNamespace(changelog_topics={"app-queues-changelog"}),
            topics=[SimpleNamespace(_queue=self.buffer), SimpleNamespace(_queue=None)],
        )
        self.fetches = fetches
        self.seeks: list[tuple[TP, int]] = []
        self.committed: dict[TP, int | None] = {}
        self._read_offset: dict[TP, int | None] = {}
        self._taken: Records = []
        self.flow_active = True
        #: The client's position per partition: the offset after the last record it handed out.
        self.positions: dict[TP, int] = {}
        # What the commits read: the committed offsets, the acknowledged offsets, the gaps counted
        # as empty and the messages handed to a stream and not yet acknowledged.
        self._committed_offset: dict[TP, int | None] = {}
        self._acked_index: defaultdict[TP, set[int]] = defaultdict(set)
        self._gap: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
        self._unacked_messages: set[Any] = set()

    async def _wait_next_records(self, timeout: float) -> tuple[dict[TP, list[Any]], None]:
        records: dict[TP, list[Any]] = defaultdict(list)
        for topic, offset in self._taken:
            records[TP(topic, 0)].append(SimpleNamespace(offset=offset))
            self.positions[TP(topic, 0)] = offset + 1
        return records, None

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        fetch = self.fetches.pop(0)
        self._taken, delivered = fetch if isinstance(fetch, tuple) else (fetch, fetch)
        await self._wait_next_records(timeout)
        for topic, offset in delivered:
            yield TP(topic, 0), SimpleNamespace(offset=offset)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    async def perform_seek(self) -> None:
        # What Faust's does: every assigned partition's read offset becomes its committed offset.
        self._read_offset.update(self.committed)


class Checked(NoSkippedRecords, Fetched):
    def _client_position(self, tp: TP) -> int | None:
        return self.positions.get(tp)


async def delivered(consumer: Checked) -> list[tuple[str, int]]:
    return [(tp.topic, message.offset) async for tp, message in consumer.getmany(timeout=1.0)]


async def test_a_jump_in_a_partition_moves_it_back_and_leaves_out_the_rest_of_the_fetch() -> None:
    consumer = Checked(
        [
            (
                [("calls", 5), ("calls", 6), ("calls", 7), ("calls", 8), ("chats", 1)],
                [("calls", 5), ("calls", 6), ("chats", 1)],
            ),  # 7 and 8 were taken from the client and dropped
            [("calls", 9), ("chats", 2), ("calls", 10)],
            [("calls", 7), ("calls", 8)],
        ]
    )
    assert await delivered(consumer) == [("calls", 5), ("calls", 6), ("chats", 1)]
    assert await delivered(consumer) == [("chats", 2)]
    assert consumer.seeks == [(TP("calls", 0), 7)]
    assert await delivered(consumer) == [("calls", 7), ("calls", 8)]


async def test_a_jump_seen_twice_at_the_same_place_is_real() -> None:
    """Offsets taken by transaction markers never come back: the second time, the records go on."""
    consumer = Checked([[("calls", 5)], [("calls", 7)], [("calls", 7), ("calls", 8)]])
    await delivered(consumer)
    assert await delivered(consumer) == []
    assert await delivered(consumer) == [("calls", 7), ("calls", 8)]
    assert consumer.seeks == [(TP("calls", 0), 6)]


async def test_records_dropped_twice_at_the_same_place_are_read_again_both_times() -> None:
    """The same jump, but the client gave records inside it that Faust did not deliver: not real."""
    dropping = ([("calls", 5), ("calls", 6)], [("calls", 5)])
    consumer = Checked([dropping, [("calls", 7)], ([("calls", 6)], []), [("calls", 7)], [("calls", 6), ("calls", 7)]])
    assert await delivered(consumer) == [("calls", 5)]
    assert await delivered(consumer) == []
    assert await delivered(consumer) == []
    assert await delivered(consumer) == []
    assert consumer.seeks == [(TP("calls", 0), 6), (TP("calls", 0), 6)]
    assert await delivered(consumer) == [("calls", 6), ("calls", 7)]


async def test_changelogs_are_not_checked() -> None:
    consumer = Checked([[("app-queues-changelog", 3), ("app-queues-changelog", 9), ("calls", 40)]])
    assert await delivered(consumer) == [("app-queues-changelog", 3), ("app-queues-changelog", 9), ("calls", 40)]
    assert consumer.seeks == []


async def test_after_a_seek_to_committed_offsets_records_must_start_there() -> None:
    """Records fetched before the seek can still come through after it: one past the committed
    offset is a jump; a partition never committed takes whatever comes first."""
    consumer = Checked([[("calls", 40), ("chats", 7)], [("calls", 41), ("chats", 3)], [("calls", 12)]])
    assert await delivered(consumer) == [("calls", 40), ("chats", 7)]
    consumer.committed = {TP("calls", 0): 12, TP("chats", 0): None}
    await consumer.perform_seek()
    assert await delivered(consumer) == [("chats", 3)]
    assert consumer.seeks == [(TP("calls", 0), 12)]
    assert await delivered(consumer) == [("calls", 12)]


async def test_records_handed_out_and_never_processed_are_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted worker committed at 1: records 1 to 3 were handed out and delivered, and neither
    processed nor in a stream's buffer (Faust's drain loop dropped them). Nothing follows them, and
    the commits would stay at 1 for good; two checks in a row see it, and the partition is read again."""
    monkeypatch.setattr(lost_records, "LOST_CHECK_SECONDS", 0.0)
    calls = TP("calls", 0)
    consumer = Checked([[("calls", 1), ("calls", 2), ("calls", 3)], [], [], [("calls", 1), ("calls", 2), ("calls", 3)]])
    consumer._committed_offset[calls] = 1
    assert await delivered(consumer) == [("calls", 1), ("calls", 2), ("calls", 3)]
    assert await delivered(consumer) == []  # seen once: a commit may be under way
    assert consumer.seeks == []
    assert await delivered(consumer) == []
    assert consumer.seeks == [(calls, 1)]
    assert await delivered(consumer) == [("calls", 1), ("calls", 2), ("calls", 3)]


class InFlight(NamedTuple):
    tp: TP
    offset: int


@pytest.mark.parametrize(
    "state", ["acknowledged", "in flight", "waiting in a buffer", "in a gap", "not handed out", "never committed"]
)
async def test_a_commit_point_that_will_move_is_not_read_again(monkeypatch: pytest.MonkeyPatch, state: str) -> None:
    monkeypatch.setattr(lost_records, "LOST_CHECK_SECONDS", 0.0)
    calls = TP("calls", 0)
    consumer = Checked([[("calls", 1), ("calls", 2)], [], []])
    consumer._committed_offset[calls] = None if state == "never committed" else 1
    if state == "acknowledged":
        consumer._acked_index[calls] = {1, 2}
    elif state == "in flight":
        consumer._unacked_messages = {InFlight(calls, 1)}
    elif state == "waiting in a buffer":  # not tracked until its agent takes it
        consumer.buffer.put_nowait(InFlight(calls, 1))
    elif state == "in a gap":
        consumer._gap[calls].addi(1, 2)  # no record at 1 (a transaction marker), 2 acknowledged
        consumer._acked_index[calls] = {2}
    await delivered(consumer)
    if state == "not handed out":
        consumer.positions[calls] = 1
    await delivered(consumer)
    await delivered(consumer)
    assert consumer.seeks == []


async def test_offsets_without_records_at_the_end_of_a_partition_are_let_be(monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction marker after the last record: moved back once, the client hands out nothing
    and comes back to the same position, so the partition is not moved back again."""
    monkeypatch.setattr(lost_records, "LOST_CHECK_SECONDS", 0.0)
    consumer = Checked([[("calls", 8)], [], [], [], [], [], []])
    calls = TP("calls", 0)
    assert await delivered(consumer) == [("calls", 8)]
    consumer._committed_offset[calls] = 9  # 8 processed and committed
    consumer.positions[calls] = 10  # the client stepped over the marker at 9
    for _ in range(2):
        assert await delivered(consumer) == []
    assert consumer.seeks == [(calls, 9)]
    consumer.positions[calls] = 10  # moved back to 9, it handed out nothing and stepped over it again
    for _ in range(4):
        assert await delivered(consumer) == []
    assert consumer.seeks == [(calls, 9)]


async def test_the_clients_position_is_read_without_waiting_for_one() -> None:
    """A partition being reset has no position yet: it is skipped, not waited for."""
    state = SubscriptionState()
    state.assign_from_user({TopicPartition("calls", 0)})
    delivering = SimpleNamespace(_thread=SimpleNamespace(_consumer=SimpleNamespace(_subscription=state)))
    position = NoSkippedRecords._client_position
    assert position(delivering, TP("calls", 0)) is None
    state.subscription.assignment.state_value(TP("calls", 0)).seek(4)
    assert position(delivering, TP("calls", 0)) == 4
    assert position(delivering, TP("calls", 1)) is None  # not assigned
    delivering._thread._consumer = None  # not started
    assert position(delivering, TP("calls", 0)) is None


async def test_nothing_is_read_again_while_the_flow_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """During a rebalance the seek to the committed offsets places every partition."""
    monkeypatch.setattr(lost_records, "LOST_CHECK_SECONDS", 0.0)
    consumer = Checked([[("calls", 1), ("calls", 2)], [], []])
    consumer._committed_offset[TP("calls", 0)] = 1
    await delivered(consumer)
    consumer.flow_active = False
    await delivered(consumer)
    await delivered(consumer)
    assert consumer.seeks == []


class FaustAcks:
    """Faust's own ``_new_offset`` over a partition's acknowledged offsets, committed at ``committed``."""

    _new_offset = faust_consumer.Consumer._new_offset

    def __init__(self, acked: list[int], committed: int) -> None:
        self._acked = {TP("calls", 0): acked}
        self._acked_index = {TP("calls", 0): set(acked)}
        self._gap: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
        self._committed_offset = {TP("calls", 0): committed}

    def commits(self, rounds: int) -> list[int | None]:
        """The offsets ``rounds`` commits in a row choose, each committed before the next."""
        chosen = []
        for _ in range(rounds):
            offset = self._new_offset(TP("calls", 0))
            if offset is not None:
                self._committed_offset[TP("calls", 0)] = offset
            chosen.append(offset)
        return chosen


class Acks(OneAckPerOffset, FaustAcks):
    pass


def test_a_record_acknowledged_twice_holds_back_only_one_commit() -> None:
    """Offsets read again after a move back, each acknowledged twice: Faust alone commits one
    offset at a time."""
    twice = [7, 8, 8, 9, 9, 10, 10]
    assert FaustAcks(list(twice), committed=7).commits(3) == [9, 10, 11]
    acks = Acks(list(twice), committed=7)
    assert acks.commits(2) == [9, 11]
    assert acks._acked[TP("calls", 0)] == []


class Committing:
    """What FlushBeforeCommit wraps: Faust's ``_commit_tps``, which chooses offsets before its first wait."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.app = SimpleNamespace(before_commit=[lambda: log.append("flushed")])

    async def _commit_tps(self, tps: Any, start_new_transaction: bool) -> bool:
        self.log.append(f"offsets chosen for {sorted(tps)}")
        await asyncio.sleep(0)  # producer flush and commit
        self.log.append("committed")
        return True


class FlushingCommitter(FlushBeforeCommit, Committing):
    pass


async def test_held_table_writes_are_flushed_before_the_offsets_to_commit_are_chosen() -> None:
    log: list[str] = []
    assert await FlushingCommitter(log)._commit_tps([TP("calls", 0)], start_new_transaction=True)
    assert log == ["flushed", "offsets chosen for [TP(topic='calls', partition=0)]", "committed"]
