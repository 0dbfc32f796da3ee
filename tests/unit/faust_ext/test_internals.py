"""Every private internal of Faust, mode and aiokafka that stream.faust_ext relies on, checked in the installed
libraries: their source, signatures and behaviour.

The worker starts only on the versions in ``stream.faust_ext.compat.VERIFIED``. To upgrade one: install it, run
these tests, re-read the library wherever one fails (each test says which override depends on what it checks,
and what would break), adapt the override and this test, then change ``VERIFIED``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import faust.channels
import faust.streams
import faust.tables.recovery
import faust.topics
import mode
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.consumer.consumer import AIOKafkaConsumer
from aiokafka.producer.message_accumulator import BatchBuilder, MessageAccumulator
from faust.app.base import App
from faust.serializers import codecs
from faust.stores import base as faust_stores
from faust.stores import memory as faust_memory
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.base import Collection
from faust.tables.table import Table
from faust.transport import base as faust_transport
from faust.transport import conductor as faust_conductor
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.worker import Worker
from mode.services import WaitResults
from mode.utils.collections import ManagedUserDict
from mode.utils.queues import ThrowableQueue

from stream.faust_ext import consumer, gcpolicy, lost_records, producer, stores
from stream.ingest.partitioning import partition_for

Function = Callable[..., Any]


def source(function: Function) -> str:
    return textwrap.dedent(inspect.getsource(function))


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space, so line breaks do not matter to a search."""
    return re.sub(r"\s+", " ", text)


def calls(function: Function, name: str) -> list[ast.Call]:
    """The calls of ``name`` or ``<anything>.name`` in ``function``."""
    return [
        node
        for node in ast.walk(ast.parse(source(function)))
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) == name or getattr(node.func, "id", None) == name)
    ]


def calls_everything(function: Function) -> set[str]:
    """The names of every function and method ``function`` calls."""
    names = set()
    for node in ast.walk(ast.parse(source(function))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name is not None:
                names.add(name)
    return names


def in_order(text: str, *parts: str) -> bool:
    """Whether every one of ``parts`` is in ``text``, each after the one before."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def own_methods(cls: type) -> dict[str, Function]:
    return {name: value for name, value in vars(cls).items() if inspect.isfunction(value)}


# --- Signatures -----------------------------------------------------------------------------------------------

#: (class or module, name, its parameters, "sync" | "async" | "asyncgen", what in stream.faust_ext depends on it).
SIGNATURES: list[tuple[Any, str, list[str], str, str]] = [
    (
        mode.Service,
        "wait_first",
        ["self", "coros", "timeout"],
        "async",
        "consumer.InlineHandoff overrides it and calls it for the messages it does not run inline",
    ),
    (
        faust_consumer.Consumer,
        "_wait_next_records",
        ["self", "timeout"],
        "async",
        "lost_records.NoSkippedRecords overrides it to see what was taken from the client",
    ),
    (
        faust_consumer.Consumer,
        "getmany",
        ["self", "timeout"],
        "asyncgen",
        "lost_records.NoSkippedRecords overrides it to check that each partition's records follow each other",
    ),
    (
        faust_consumer.Consumer,
        "seek",
        ["self", "partition", "offset"],
        "async",
        "lost_records.NoSkippedRecords moves a partition back with it",
    ),
    (
        faust_consumer.Consumer,
        "perform_seek",
        ["self"],
        "async",
        "lost_records.NoSkippedRecords overrides it to learn where each partition starts again",
    ),
    (
        faust_consumer.Consumer,
        "_new_offset",
        ["self", "tp"],
        "sync",
        "lost_records.OneAckPerOffset overrides it to take repeated offsets out of the acknowledged list",
    ),
    (
        faust_consumer.Consumer,
        "_commit_tps",
        ["self", "tps", "start_new_transaction"],
        "async",
        "consumer.FlushBeforeCommit overrides it to write held table states first",
    ),
    (
        faust_consumer.Consumer,
        "track_message",
        ["self", "message"],
        "sync",
        "batching.take_ready tracks each event it takes, so a rebalance waits for its batch",
    ),
    (
        faust_aiokafka.Consumer,
        "_new_consumer_thread",
        ["self"],
        "sync",
        "consumer.consumer_class overrides it to put its ConsumerThread in",
    ),
    (
        faust_aiokafka.AIOKafkaConsumerThread,
        "_create_worker_consumer",
        ["self", "transport"],
        "sync",
        "consumer.consumer_class's ConsumerThread overrides it to set the fetch wait",
    ),
    (
        faust_aiokafka.AIOKafkaConsumerThread,
        "_highwaters",
        ["self", "partitions"],
        "async",
        "consumer.consumer_class's ConsumerThread overrides it to give recovery the real ends (endoffsets)",
    ),
    (
        faust_aiokafka.AIOKafkaConsumerThread,
        "seek_to_committed",
        ["self"],
        "async",
        "consumer.consumer_class's ConsumerThread overrides it to start never-committed partitions at the beginning",
    ),
    (
        faust_aiokafka.AIOKafkaConsumerThread,
        "seek_to_beginning",
        ["self", "partitions"],
        "async",
        "consumer.consumer_class's ConsumerThread calls it for never-committed partitions",
    ),
    (
        faust_aiokafka,
        "credentials_to_aiokafka_auth",
        ["credentials", "ssl_context"],
        "sync",
        "consumer.consumer_class's ConsumerThread builds endoffsets' client with Faust's TLS and SASL options",
    ),
    (
        faust_aiokafka,
        "server_list",
        ["urls", "default_port"],
        "sync",
        "consumer.consumer_class's ConsumerThread gives endoffsets' client the brokers",
    ),
    (
        faust_producer.Producer,
        "send_soon",
        ["self", "fut"],
        "sync",
        "producer.DrainingProducer overrides it to know the last record buffered",
    ),
    (
        faust_aiokafka.Producer,
        "flush",
        ["self"],
        "async",
        "producer.DrainingProducer overrides it to wait for every record and record batch",
    ),
    (
        faust_aiokafka.Producer,
        "_ensure_producer",
        ["self"],
        "sync",
        "producer.DrainingProducer hands record batches to the client it returns",
    ),
    (
        faust_producer.ProducerBuffer,
        "wait_until_ebb",
        ["self"],
        "async",
        "producer.DrainingProducer replaces it on the buffer with a method without arguments",
    ),
    (
        faust_producer.ProducerBuffer,
        "flush_atmost",
        ["self", "max_messages"],
        "async",
        "producer.DrainingProducer's wait_until_ebb drains the buffer with it",
    ),
    (AIOKafkaProducer, "create_batch", ["self"], "sync", "producer.DrainingProducer builds record batches with it"),
    (
        AIOKafkaProducer,
        "send_batch",
        ["self", "batch", "topic", "partition"],
        "async",
        "producer.DrainingProducer hands each record batch over with it",
    ),
    (
        BatchBuilder,
        "append",
        ["self", "timestamp", "key", "value", "headers"],
        "sync",
        "producer._batches fills each record batch with it",
    ),
    (BatchBuilder, "record_count", ["self"], "sync", "producer.DrainingProducer reports a batch's last offset"),
    (RocksDBStore, "_set", ["self", "key", "value"], "sync", "stores.PartitionedRocksDB overrides it"),
    (RocksDBStore, "_del", ["self", "key"], "sync", "stores.PartitionedRocksDB overrides it"),
    (RocksDBStore, "_get", ["self", "key"], "sync", "stores.PartitionedRocksDB overrides it"),
    (RocksDBStore, "_contains", ["self", "key"], "sync", "stores.PartitionedRocksDB overrides it"),
    (
        RocksDBStore,
        "_db_for_partition",
        ["self", "partition"],
        "sync",
        "stores.PartitionedRocksDB writes each key into the database it returns",
    ),
    (
        RocksDBStore,
        "set_persisted_offset",
        ["self", "tp", "offset"],
        "sync",
        "changelog.write_states records each partition's last change with it",
    ),
    (
        faust_memory.Store,
        "set_persisted_offset",
        ["self", "tp", "offset"],
        "sync",
        "changelog.write_states calls it on every store",
    ),
    (Collection, "_new_store_by_url", ["self", "url"], "sync", "stores.KpiTable overrides it"),
    (
        App,
        "_new_transport",
        ["self"],
        "sync",
        "stream.faust_ext.transport.KpiApp overrides it to use transport.transport_class",
    ),
    (Worker, "on_startup_finished", ["self"], "async", "gcpolicy.FreezingWorker overrides it"),
]


def _kind(function: Function) -> str:
    if inspect.isasyncgenfunction(function):
        return "asyncgen"
    return "async" if inspect.iscoroutinefunction(function) else "sync"


@pytest.mark.parametrize(
    ("owner", "name", "parameters", "kind", "because"),
    SIGNATURES,
    ids=[f"{owner.__name__}.{name}" for owner, name, *_ in SIGNATURES],
)
def test_what_is_called_or_overridden_has_the_signature_assumed(
    owner: Any, name: str, parameters: list[str], kind: str, because: str
) -> None:
    """Each of these is overridden or called by stream.faust_ext (``because`` says where). An override with other
    parameters would be called wrongly (a TypeError at best, arguments in the wrong place at worst); a coroutine
    that became a plain function, or the reverse, would not run or not be awaited."""
    function = getattr(owner, name)
    assert list(inspect.signature(function).parameters) == parameters, because
    assert _kind(function) == kind, because


# --- stream.faust_ext.consumer ----------------------------------------------------------------------------------


def test_the_drain_loop_hands_each_message_off_with_the_one_call_the_inline_hand_off_recognises() -> None:
    """InlineHandoff recognises the hand-off by its shape: ``wait_first`` with two coroutines and no timeout, the
    second ``suspend_flow.wait()``, and returns its own results, which the drain loop must discard. With another
    call the inline path would never be taken (Faust's four tasks per message again, silently) or taken for a call
    whose results matter."""
    drain = faust_consumer.Consumer._drain_messages
    tree = ast.parse(source(drain))
    (handoff,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "wait_first"
    ]
    assert ast.unparse(handoff.func) == "self.wait_first"
    assert [ast.unparse(arg) for arg in handoff.args] == ["callback(message)", "self.suspend_flow.wait()"]
    assert handoff.keywords == []
    awaited_alone = [
        node.value.value for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Await)
    ]
    assert any(call is handoff for call in awaited_alone), "the drain loop now uses what wait_first returns"
    assert "callback = self.callback" in source(drain)


def test_suspend_flow_is_an_asyncio_event_whose_wait_the_hand_off_recognises_by_its_code() -> None:
    """InlineHandoff tells ``suspend_flow.wait()`` from any other coroutine by its code object, that of the wait
    of ``type(self.suspend_flow)``. Were ``suspend_flow`` of a class whose ``wait`` is inherited or wrapped, the
    comparison would fail and the inline path would never be taken."""
    assert "self.suspend_flow = Event()" in source(faust_consumer.Consumer.__init__)
    assert faust_consumer.Event is asyncio.Event
    waiting = asyncio.Event().wait()
    try:
        assert waiting.cr_code is asyncio.Event.wait.__code__
    finally:
        waiting.close()


def test_fausts_consumer_races_with_modes_wait_first_whose_results_the_inline_path_returns() -> None:
    """InlineHandoff returns ``WaitResults(done, results, stopped)`` itself for a callback that finished inline,
    and passes the others to ``super().wait_first``, which must be mode's race (Faust does not override it)."""
    assert faust_consumer.Consumer.wait_first is mode.Service.wait_first
    assert WaitResults._fields == ("done", "results", "stopped")
    assert inspect.signature(mode.Service.wait_first).parameters["timeout"].default is None


def test_every_record_taken_from_the_client_passes_through_wait_next_records() -> None:
    """NoSkippedRecords counts a record as taken when ``_wait_next_records`` returns it, and getmany must deliver
    records from that return value (records, active partitions). A fetch that bypassed it would let records be
    dropped unnoticed around a rebalance; one returning another shape would break the override outright."""
    fetches = {
        f"{cls.__name__}.{name}"
        for cls in (faust_consumer.Consumer, faust_aiokafka.Consumer, faust_consumer.ThreadDelegateConsumer)
        for name, method in own_methods(cls).items()
        if calls(method, "_getmany")
    }
    assert fetches == {"Consumer._wait_next_records"}
    assert "records, active_partitions = await self._wait_next_records(timeout)" in source(
        faust_consumer.Consumer.getmany
    )
    assert "return records, active_partitions" in source(faust_consumer.Consumer._wait_next_records)


def test_perform_seek_sets_read_offset_to_the_committed_offsets() -> None:
    """After ``perform_seek`` NoSkippedRecords reads ``Consumer._read_offset`` as each partition's next offset
    (None: never committed). If the seek kept its offsets elsewhere, every partition would look like a jump, or
    none would."""
    assert "self._read_offset = defaultdict(lambda: None)" in source(faust_consumer.Consumer.__init__)
    assert in_order(
        flat(source(faust_consumer.Consumer.perform_seek)),
        "read_offset = self._read_offset",
        "await self.seek_to_committed()",
        "read_offset.update(",
    )


async def test_the_clients_position_moves_only_as_records_are_handed_out() -> None:
    """NoSkippedRecords reads a position past the partition's next record as records handed to Faust and never
    delivered. That holds only if aiokafka advances a partition's position when it hands records out, not when
    it fetches them ahead; otherwise every prefetch would look like dropped records and be read again."""
    from aiokafka.consumer import fetcher
    from aiokafka.consumer.subscription_state import SubscriptionState

    # Read as NoSkippedRecords._client_position reads it, from the thread's client, without waiting.
    assert "self._consumer = self._create_consumer(" in source(faust_aiokafka.AIOKafkaConsumerThread.on_start)
    assert "self._subscription = SubscriptionState(" in source(AIOKafkaConsumer.__init__)
    state = SubscriptionState()
    state.assign_from_user({TopicPartition("calls", 0)})
    assignment = state.subscription.assignment
    partition = assignment.state_value(TP("calls", 0))
    assert not partition.has_valid_position  # waiting for its committed offset: not read
    partition.seek(7)
    assert partition.has_valid_position and partition.position == 7
    assert assignment.state_value(TP("calls", 1)) is None  # not assigned

    assert "state.consumed_to(self._partition_records.next_fetch_offset)" in source(
        fetcher.FetchResult._update_position
    )
    consumed_to = {
        name for name, method in own_methods(fetcher.FetchResult).items() if calls(method, "_update_position")
    }
    assert consumed_to == {"getone", "getall"}
    assert "flow_active" in vars(faust_consumer.Consumer)  # NoSkippedRecords checks only while the flow runs


def test_what_a_lost_record_at_a_commit_point_is_told_from() -> None:
    """NoSkippedRecords counts the record at a partition's commit point as lost when it is neither in
    ``_acked_index`` nor among ``_unacked_messages`` (messages handed to a stream, added by ``track_message``
    and taken out on acknowledgement) nor in a ``_gap`` interval tree, with ``_committed_offset`` the commit
    point. Were any of these kept elsewhere, records in flight would be read again at every check, or lost ones
    never; the drain loop's drop below the read offset is what makes such records lost."""
    init = flat(source(faust_consumer.Consumer.__init__))
    for line in (
        "self._acked_index = defaultdict(set)",
        "self._gap = defaultdict(IntervalTree)",
        "self._committed_offset = defaultdict(lambda: None)",
        "self._unacked_messages = WeakSet()",
    ):
        assert line in init
    assert "self._unacked_messages.add(message)" in source(faust_consumer.Consumer.track_message)
    ack = flat(source(faust_consumer.Consumer.ack))
    assert in_order(ack, "self._unacked_messages.discard(message)", "acked_index.add(offset)")
    assert in_order(
        flat(source(faust_consumer.Consumer._drain_messages)),
        "r_offset = get_read_offset(tp)",
        "if r_offset is None or offset >= r_offset:",
        "set_read_offset(tp, offset)",
        '"DROPPED MESSAGE ROFF %r: k=%r v=%r"',
    )
    # A record in a stream's buffer is tracked only when the stream takes it; the buffers are those of the
    # channels the conductor holds: the iterator each topic registers when a stream starts reading it.
    assert in_order(
        flat(source(faust.topics.Topic.__aiter__)),
        "channel = self.clone(is_iterator=True)",
        "self.app.topics.add(cast(TopicT, channel))",
    )
    assert "return iter(self._topics)" in source(faust_conductor.Conductor.__iter__)
    assert "self._queue = queue" in source(faust.channels.Channel.__init__)
    from intervaltree import IntervalTree

    gaps = IntervalTree()
    gaps.addi(5, 8)  # offsets 5, 6 and 7
    assert gaps.overlaps(5) and gaps.overlaps(7) and not gaps.overlaps(8)


def test_fausts_acknowledged_offsets_are_a_sorted_list_whose_first_run_is_committed() -> None:
    """OneAckPerOffset replaces a partition's list in ``Consumer._acked`` by its sorted unique offsets after each
    ``_new_offset``: right only while ``_new_offset`` reads that list, sorts it and commits the end of its first
    run of consecutive numbers, removing that run from the front."""
    assert "self._acked = defaultdict(list)" in source(faust_consumer.Consumer.__init__)
    assert in_order(
        flat(source(faust_consumer.Consumer._new_offset)),
        "acked = self._acked[tp]",
        "acked.sort()",
        "batch = next(consecutive_numbers(acked))",
        "acked[: len(batch)] = []",
        "return batch[-1] + 1",
    )


def test_fausts_commit_chooses_the_offsets_before_it_first_waits_then_flushes_the_producer() -> None:
    """FlushBeforeCommit writes the held table states synchronously, right before ``_commit_tps``: nothing can be
    processed between its callbacks and the choice of offsets only if ``_commit_tps`` chooses them before its
    first wait; and the held states reach the broker before the offsets only if the commit flushes the producer
    first. Otherwise offsets could be committed ahead of the table writes that rest on them: lost on a crash."""
    commit_tps = source(faust_consumer.Consumer._commit_tps)
    assert commit_tps.index("self._filter_committable_offsets(tps)") < commit_tps.index("await ")
    assert "await self._commit_tps(" in source(faust_consumer.Consumer.force_commit)
    assert in_order(
        source(faust_consumer.Consumer._commit_offsets),
        "else:",
        "await self.app.producer.flush()",
        "await self._commit(committable_offsets)",
    )


def test_the_fetch_wait_set_on_the_worker_consumer_is_read_when_it_starts() -> None:
    """The ConsumerThread sets aiokafka's private ``_fetch_max_wait_ms`` on the consumer Faust has just created
    (Faust passes a fixed 1500 ms) and relies on aiokafka reading it only in ``start``, after that. Otherwise
    KPI_FETCH_WAIT_MS would do nothing, and events would wait up to 1.5 s at each stage at low rates."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    assert in_order(source(thread.on_start), "self._consumer = self._create_consumer(", "await self._consumer.start()")
    assert "return self._create_worker_consumer(transport)" in source(thread._create_consumer)
    assert "return aiokafka.AIOKafkaConsumer(" in source(thread._create_worker_consumer)
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in source(AIOKafkaConsumer.__init__)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms," in source(AIOKafkaConsumer.start)


def test_table_recovery_reads_changelogs_up_to_the_highwaters_of_the_consumer_thread() -> None:
    """The ConsumerThread corrects ``_highwaters`` to each changelog's real end (stream.faust_ext.endoffsets);
    recovery must get its ends through it, or tables would miss their latest writes on the embedded broker."""
    delegate, thread = faust_consumer.ThreadDelegateConsumer, faust_aiokafka.AIOKafkaConsumerThread
    assert "return await self._thread.highwaters(*partitions)" in source(delegate.highwaters)
    assert "self.call_thread(self._highwaters, partitions)" in source(thread.highwaters)
    recovery = Path(inspect.getfile(faust.tables.recovery.Recovery)).read_text()
    assert "consumer.highwaters(" in recovery


def test_seek_to_committed_returns_every_partitions_committed_offset() -> None:
    """The ConsumerThread reads the committed offset of every partition from ``seek_to_committed`` (no offset:
    never committed) and the consumer's ``perform_seek`` goes through the thread's. aiokafka leaves a partition
    without a committed offset where it is: the reason those are sent back to the beginning."""
    assert "return await self._thread.seek_to_committed()" in source(
        faust_consumer.ThreadDelegateConsumer.seek_to_committed
    )
    thread = faust_aiokafka.AIOKafkaConsumerThread
    assert "self._ensure_consumer().seek_to_committed" in source(thread.seek_to_committed)
    committed = flat(source(AIOKafkaConsumer.seek_to_committed))
    assert in_order(
        committed, "committed_offsets[tp] = offset", "if offset and offset > 0:", "return committed_offsets"
    )


def test_the_consumer_builds_its_thread_with_new_consumer_thread() -> None:
    """consumer_class replaces ``_new_consumer_thread`` to put its ConsumerThread in, built as Faust builds its
    own; if the thread were made elsewhere, the fetch wait, the real changelog ends and the seek to the beginning
    would all be lost without an error."""
    assert "self._thread = self._new_consumer_thread()" in source(faust_consumer.ThreadDelegateConsumer.__init__)
    assert "AIOKafkaConsumerThread(self, loop=self.loop, beacon=self.beacon)" in source(
        faust_aiokafka.Consumer._new_consumer_thread
    )
    assert isinstance(faust_aiokafka.Transport.default_port, int)


# --- stream.faust_ext.batching ----------------------------------------------------------------------------------


async def test_iterating_a_channel_registers_an_iterator_whose_queue_the_conductor_fills() -> None:
    """take_ready reads ``aiter(stream.channel).queue``: the iterator must be registered with the conductor, and
    the conductor must put each event on that very queue. Otherwise the stages would read nothing."""
    app = faust.App("test-internals-channel", broker="kafka://127.0.0.1:9", store="memory://")
    topic = app.topic("calls")
    iterator = aiter(topic)
    assert iterator.is_iterator and aiter(iterator) is iterator
    assert iterator in app.topics
    assert isinstance(iterator.queue, ThrowableQueue)
    on_message = flat(source(faust_conductor.ConductorCompiler.build))
    assert "queue = chan.queue" in on_message and "queue.put_nowait_enhanced(" in on_message


async def test_the_channel_queue_raises_thrown_errors_and_resumes_a_paused_partition_as_it_empties() -> None:
    """take_ready takes events with the queue's own ``get``/``get_nowait``, relying on them to raise an error
    thrown into the channel (a decode error) and to call the conductor's callback that resumes a partition it
    paused while the queue was full. Without the first errors would vanish; without the second a busy partition
    would stay paused forever."""
    app = faust.App("test-internals-queue", broker="kafka://127.0.0.1:9", store="memory://")
    iterator = aiter(app.topic("calls"))
    await iterator.throw(ValueError("cannot decode"))
    with pytest.raises(ValueError, match="cannot decode"):
        iterator.queue.get_nowait()
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    resumed: list[bool] = []
    pressure: list[bool] = []
    for value in range(queue.pressure_high_size + 1):
        pressure.append(
            queue.put_nowait_enhanced(
                value, on_pressure_high=lambda: None, on_pressure_drop=lambda: resumed.append(True)
            )
        )
    assert any(pressure)
    while queue.qsize() > queue.pressure_drop_size:
        queue.get_nowait()
    queue.get_nowait()  # at or under the drop size, taking one more endorses the drop
    assert resumed == [True]


def _stream_loops() -> dict[str, str]:
    """Faust's per-event stream loop: the Python one, and the Cython one that runs when it is built."""
    loops = {"python": source(faust.streams.Stream._py_aiter)}
    if faust.streams._CStreamIterator is not None:
        loops["cython"] = (Path(faust.streams.__file__).parent / "_cython" / "streams.pyx").read_text()
    return loops


@pytest.mark.parametrize("loop", sorted(_stream_loops()))
def test_take_ready_repeats_the_stream_loops_rules_for_each_event(loop: str) -> None:
    """take_ready bypasses the stream's loop and repeats what it does with each event for offsets and rebalances:
    skip (and acknowledge) an event taken while the flow is suspended or fetched in an earlier generation; track
    an event of an acknowledged topic before processing it; run the stream's processors, leaving out an event for
    which one raises Skip; and call ``on_message_out`` once the last stream acknowledged it. A new rule here would
    be missing from the stages' batches: offsets committed for unprocessed events, or rebalances not waiting."""
    text = flat(_stream_loops()[loop])
    for rule in (
        "not self.app.flow_control.is_active() or message.generation_id != self.app.consumer_generation_id",
        r"if topic in (self\.)?acking_topics and not message\.tracked: message\.tracked = True",
        r"for processor in (self\.)?processors:",
        r"maybe_async\(processor\(value\)\)",
        "except Skip:",
        r"if last_stream_to_ack: (self\.)?on_message_out\(tp, offset, message\)",
    ):
        assert re.search(rule if "\\" in rule else re.escape(rule), text), rule


def test_processors_are_the_streams_processors_list_and_tracking_is_track_message() -> None:
    """take_ready runs ``Stream._processors`` on each event, and tracks with ``Consumer.track_message`` what the
    stream loop tracks inline (the set a rebalance's ``wait_empty`` waits on), acknowledging through
    ``Event.ack``, which reaches ``Consumer.ack``."""
    app = faust.App("test-internals-processors", broker="kafka://127.0.0.1:9", store="memory://")
    stream = app.stream(app.topic("calls"))

    def processor(value: Any) -> Any:
        return value

    stream.add_processor(processor)
    assert stream._processors == [processor]
    assert in_order(
        flat(source(faust_consumer.Consumer.track_message)),
        "self._unacked_messages.add(message)",
        "self._on_message_in(message.tp, message.offset, message)",
    )
    assert "self._unacked_messages" in source(faust_consumer.Consumer.wait_empty)
    assert "return self.message.ack(self.app.consumer)" in source(faust.Event.ack)
    assert "return consumer.ack(self)" in source(faust.types.tuples.ConsumerMessage.on_final_ack)
    assert "self._unacked_messages.discard(message)" in source(faust_consumer.Consumer.ack)
    assert app.topics.acking_topics is app.topics._acking_topics  # what the Cython loop reads


# --- stream.faust_ext.producer ----------------------------------------------------------------------------------


def test_the_conductor_waits_on_the_buffers_wait_until_ebb_looked_up_when_it_builds_its_callback() -> None:
    """DrainingProducer replaces ``wait_until_ebb`` on its buffer when it is created; the conductor must look it
    up on the producer's buffer when it builds its per-message callback, later, and await it before each message.
    Otherwise the streams would not wait for a full buffer (a commit's flush could grow without bound) or Faust's
    warning would be logged for each wait again."""
    build = flat(source(faust_conductor.ConductorCompiler.build))
    assert in_order(
        build, "wait_until_producer_ebb = app.producer.buffer.wait_until_ebb", "await wait_until_producer_ebb()"
    )
    assert "self.buffer = ProducerBuffer(" in source(faust_producer.Producer.__init__)
    ebb = flat(source(faust_producer.ProducerBuffer.wait_until_ebb))
    assert in_order(ebb, "if self.size > self.max_messages:", "await self.flush_atmost(self.max_messages)")


def test_records_sent_soon_are_handed_over_one_at_a_time_in_order() -> None:
    """DrainingProducer's flush waits for the last record buffered before it, taking every record before it as
    handed over too: true only if ``send_soon`` puts records in the buffer's FIFO queue and ``_handle_pending``
    sends them one at a time (a mode ``Service.task``). With the threaded producer or concurrent sends, a flush
    could return early."""
    assert "self.buffer.put(fut)" in source(faust_producer.Producer.send_soon)
    assert "self.pending.put_nowait(fut)" in source(faust_producer.ProducerBuffer.put)
    assert "self.pending = asyncio.Queue()" in source(faust_producer.ProducerBuffer.__post_init__)
    assert in_order(
        flat(source(faust_producer.ProducerBuffer._handle_pending.fun)),
        "while not self.should_stop:",
        "msg = await get_pending()",
        "await send_pending(msg)",
    )
    app = faust.App("test-internals-producer", broker="kafka://127.0.0.1:9", store="memory://")
    assert app.conf.producer_threaded is False


def test_the_producers_flush_flushes_its_buffer_then_the_client_which_waits_for_every_record_batch() -> None:
    """DrainingProducer's flush calls Faust's, relying on it to flush the buffer and then the aiokafka client,
    whose flush waits for every batch added with ``send_batch``; and it hands batches to the client that
    ``_ensure_producer`` returns. Otherwise table changes could still be on their way when offsets are committed."""
    assert in_order(source(faust_aiokafka.Producer.flush), "await self.buffer.flush()", "await self._producer.flush()")
    assert in_order(
        source(faust_aiokafka.Producer._ensure_producer), "if self._producer is None:", "return self._producer"
    )
    assert "self._message_accumulator.add_batch(" in source(AIOKafkaProducer.send_batch)
    assert "self._message_accumulator.flush()" in source(AIOKafkaProducer.flush)
    assert "self._append_batch(builder, tp)" in source(MessageAccumulator.add_batch)
    accumulator_flush = source(MessageAccumulator.flush)
    assert "self._batches.values()" in accumulator_flush and "self._pending_batches" in accumulator_flush


def test_a_rebalance_waits_for_the_events_taken_then_commits_and_flushes_the_producer() -> None:
    """Before giving partitions up, Faust suspends the flow, waits until every tracked event is acknowledged
    (committing, so FlushBeforeCommit writes the held states), then flushes the producer, DrainingProducer's
    flush. take_ready's tracking and DrainingProducer's flush rely on this order; without it the new owner could
    restore its tables before the old owner's last table writes reached the changelogs."""
    assert in_order(
        flat(source(App._on_partitions_revoked)),
        "T(self.flow_control.suspend)()",
        "await T(self._consumer_wait_empty)(consumer, on_timeout)",
        "await T(self._producer_flush)(on_timeout)",
    )
    assert "await self._producer.flush()" in source(App._producer_flush)
    assert in_order(
        flat(source(faust_consumer.Consumer.wait_empty)),
        "while not self.should_stop and self._unacked_messages:",
        "await T(self.commit)()",
    )


# --- stream.faust_ext.changelog ---------------------------------------------------------------------------------


def _table(name: str) -> faust.TableT:
    """A table as stream.pipeline.tables declares them: raw keys, a codec for values, the producer's partitioner."""
    app = faust.App(f"test-internals-{name}", broker="kafka://127.0.0.1:9", store="memory://")
    table = app.Table(name, key_type=str, partitions=4, use_partitioner=True)
    table.key_serializer = "raw"
    table.value_serializer = "json"
    return table


def test_a_table_write_is_on_key_set_then_a_write_into_the_store() -> None:
    """write_states writes ``table.data`` and sends the changelog records itself, as ``table[key] = state`` would:
    that is the same write only while ``__setitem__``/``__delitem__`` are ``on_key_set``/``on_key_del`` followed by
    the store's, and writing the store does not send a record of its own (it would be sent twice)."""
    table = _table("writes")
    heard: list[tuple[str, Any]] = []
    table.on_key_set = lambda key, value: heard.append(("set", key))  # type: ignore[method-assign]
    table.on_key_del = lambda key: heard.append(("del", key))  # type: ignore[method-assign]
    table["k"] = {"n": 1}
    assert heard == [("set", "k")] and table.data["k"] == {"n": 1}
    table.data["quiet"] = {"n": 2}
    del table["k"]
    assert heard == [("set", "k"), ("del", "k")] and "k" not in table.data and table["quiet"] == {"n": 2}
    assert Table.__setitem__ is ManagedUserDict.__setitem__ and Table.__delitem__ is ManagedUserDict.__delitem__


def test_on_key_set_sends_a_changelog_record_and_does_nothing_else_for_a_table_that_is_not_windowed() -> None:
    """write_states does what ``on_key_set``/``on_key_del`` do, except sensors: send the changelog record. If they
    did more (expiry bookkeeping beyond windowed tables, say), the worker's tables would miss it."""
    assert calls_everything(Table.on_key_set) == {
        "send_changelog",
        "partition_for_key",
        "_maybe_set_key_ttl",
        "_sensor_on_set",
    }
    assert calls_everything(Table.on_key_del) == {
        "send_changelog",
        "partition_for_key",
        "_maybe_del_key_ttl",
        "_sensor_on_del",
    }
    assert not _table("plain")._should_expire_keys()


def test_the_changelog_record_faust_sends_is_the_one_write_states_sends() -> None:
    """Recovery and standby replicas read the records write_states sends as Faust's own: the raw key, the value
    in the table's codec, a tombstone (None) for a deletion, on the partition the producer's partitioner gives the
    key (Faust passes None with ``use_partitioner``). A difference would make recovered tables differ."""
    table = _table("records")
    sent: list[dict[str, Any]] = []

    def send_soon(**record: Any) -> Any:
        sent.append(record)
        return SimpleNamespace(message=SimpleNamespace(partition=0))

    table.changelog_topic.send_soon = send_soon  # type: ignore[method-assign]
    table.on_key_set("k", {"n": 1})
    table.on_key_del("k")
    (written, deleted) = sent
    topic = table.changelog_topic
    assert written["partition"] is None and deleted["partition"] is None
    key, _ = topic.prepare_key(written["key"], written["key_serializer"])
    value, _ = topic.prepare_value(written["value"], written["value_serializer"])
    tombstone, _ = topic.prepare_value(deleted["value"], deleted["value_serializer"])
    assert (key, value, tombstone) == (b"k", codecs.get_codec(table.value_serializer).dumps({"n": 1}), None)
    partitioner = table.app.producer.partitioner
    for key_text in ("sales/voice", "contact-0001", "agent-17", "ü-unicode"):
        assert partitioner(key_text.encode(), [0, 1, 2, 3], [0, 1, 2, 3]) == partition_for(key_text, 4)


def test_faust_records_the_offset_of_a_change_on_the_broker_with_set_persisted_offset() -> None:
    """write_states calls ``set_persisted_offset`` with each partition's last offset once its batch is on the
    broker, as Faust does per record; a RocksDB table recovers from that offset on, so another bookkeeping would
    make it replay too little or too much."""
    assert "self.data.set_persisted_offset(res.topic_partition, res.offset)" in source(Collection._on_changelog_sent)


# --- stream.faust_ext.stores ------------------------------------------------------------------------------------

KEY_METHODS = {"__setitem__": "_set", "__getitem__": "_get", "__delitem__": "_del", "__contains__": "_contains"}


@pytest.mark.parametrize(("mapping", "method"), KEY_METHODS.items())
def test_every_read_and_write_of_a_key_goes_through_the_four_overridden_methods(mapping: str, method: str) -> None:
    """PartitionedRocksDB files keys by their own partition in ``_set``/``_del``/``_get``/``_contains`` only; a
    store operation that reached RocksDB another way would look in the wrong database (keys not found)."""
    assert method in calls_everything(getattr(faust_stores.SerializedStore, mapping))
    assert method in vars(stores.PartitionedRocksDB)


def test_only_the_overridden_methods_choose_a_database_by_the_current_event() -> None:
    """Faust's RocksDB store files a key under the partition of the message being processed
    (``current_event()``), or finds it through its key index; PartitionedRocksDB overrides every method that does
    either. A new one would file or look up keys by the wrong partition: a batch mixes partitions, and timers write
    outside any message."""
    methods = own_methods(RocksDBStore)
    by_event = {name for name, method in methods.items() if "current_event" in calls_everything(method)}
    by_index = {
        name for name, method in methods.items() if calls_everything(method) & {"_dbs_for_key", "_get_bucket_for_key"}
    }
    assert by_event | by_index <= set(vars(stores.PartitionedRocksDB))
    assert "self._dbs = {}" in source(RocksDBStore.__init__)
    assert "self.table = table" in source(faust_stores.Store.__init__)


def test_recovery_writes_each_changelog_record_into_its_messages_partition() -> None:
    """Recovery writes a record into the database of its changelog partition, which PartitionedRocksDB makes the
    key's own partition; were it filed some other way, recovered keys would not be found."""
    assert in_order(
        flat(source(RocksDBStore.apply_changelog_batch)),
        "batches[msg.partition].put(msg.key, msg.value)",
        "self._db_for_partition(partition).write(batch)",
    )


def _store_call(function: Function) -> str:
    """The arguments ``function`` builds a store with (the call passing ``table_name``)."""
    (call,) = [
        node
        for node in ast.walk(ast.parse(source(function)))
        if isinstance(node, ast.Call) and any(keyword.arg == "table_name" for keyword in node.keywords)
    ]
    return ", ".join([ast.unparse(arg) for arg in call.args] + [ast.unparse(kw) for kw in call.keywords])


def test_kpi_table_builds_its_store_with_the_arguments_faust_passes() -> None:
    """KpiTable builds PartitionedRocksDB itself in ``_new_store_by_url``; if Faust passed its stores other
    arguments, the table's stores would silently be built without them."""
    assert _store_call(stores.KpiTable._new_store_by_url) == _store_call(Collection._new_store_by_url)


# --- stream.faust_ext.transport, endoffsets, gcpolicy -----------------------------------------------------------


def test_the_transport_builds_its_consumer_and_producer_from_its_class_attributes() -> None:
    """transport_class puts the worker's consumer and producer in as the ``Consumer`` and ``Producer`` attributes;
    the app must build its transport with ``_new_transport`` (which transport.KpiApp overrides), and the
    transport its clients from those attributes, or the worker would run on Faust's own consumer and producer."""
    assert "return self.Consumer(self, callback=callback" in source(faust_transport.Transport.create_consumer)
    assert "return self.Producer(self, **kwargs)" in source(faust_transport.Transport.create_producer)
    assert "self._transport = self._new_transport()" in source(App.transport.fget)
    assert issubclass(faust_aiokafka.Transport, faust_transport.Transport)
    for name in ("create_consumer", "create_producer"):
        assert name not in vars(faust_aiokafka.Transport)


def test_fausts_tp_and_aiokafkas_topic_partition_are_the_same_key() -> None:
    """endoffsets reads aiokafka's ends and updates Faust's by key: both must be equal, equally hashed tuples."""
    assert TP("calls", 3) == TopicPartition("calls", 3)
    assert hash(TP("calls", 3)) == hash(TopicPartition("calls", 3))


def test_the_worker_is_told_it_started_once_tables_are_recovered() -> None:
    """FreezingWorker freezes what is alive in ``on_startup_finished``, expecting the app to call it once its
    tables are recovered: called earlier, the recovered tables would stay in every full collection."""
    assert "self.app.on_startup_finished = self.on_startup_finished" in source(Worker.on_init_dependencies)
    assert in_order(
        source(App.on_started), "await self._wait_for_table_recovery_completed()", "await self.on_startup_finished()"
    )
    assert gcpolicy.FreezingWorker.on_startup_finished is not Worker.on_startup_finished


# --- Completeness ---------------------------------------------------------------------------------------------


def _consumer_thread() -> type:
    """consumer_class's ConsumerThread, a class local to it, through the closure of ``_new_consumer_thread``."""
    thread: type = inspect.getclosurevars(consumer.consumer_class(100)._new_consumer_thread).nonlocals["ConsumerThread"]
    return thread


#: Each class of stream.faust_ext that overrides methods, and the library class it overrides them of.
OVERRIDING: list[tuple[Callable[[], type], type]] = [
    (lambda: consumer.InlineHandoff, faust_consumer.Consumer),
    (lambda: lost_records.NoSkippedRecords, faust_consumer.Consumer),
    (lambda: lost_records.OneAckPerOffset, faust_consumer.Consumer),
    (lambda: consumer.FlushBeforeCommit, faust_consumer.Consumer),
    (lambda: consumer.consumer_class(100), faust_aiokafka.Consumer),
    (_consumer_thread, faust_aiokafka.AIOKafkaConsumerThread),
    (lambda: producer.DrainingProducer, faust_aiokafka.Producer),
    (lambda: stores.PartitionedRocksDB, RocksDBStore),
    (lambda: stores.KpiTable, Table),
    (lambda: gcpolicy.FreezingWorker, Worker),
]


@pytest.mark.parametrize(("overriding", "base"), OVERRIDING, ids=[base.__name__ for _, base in OVERRIDING])
def test_every_method_overridden_in_faust_ext_is_checked_here(overriding: Callable[[], type], base: type) -> None:
    """Every library method a class of stream.faust_ext overrides must be in :data:`SIGNATURES`, so that an
    override added later is checked against the library like the others. (``__init__`` overrides only add to
    Faust's; what DrainingProducer's replaces is checked in the producer's tests above.)"""
    checked = {name for owner, name, *_ in SIGNATURES if isinstance(owner, type) and owner in base.__mro__}
    overridden = {name for name in own_methods(overriding()) if name != "__init__" and hasattr(base, name)}
    assert overridden, "no longer overrides anything of " + base.__name__
    assert overridden <= checked


def test_no_module_but_compat_looks_at_library_versions() -> None:
    """The gate in stream.faust_ext.compat is the one check of versions: a module that looked at them itself
    (a fallback to Faust's own path, say) would be a second policy for the same upgrade, and untested."""
    package = Path(inspect.getfile(consumer)).parent
    reading = sorted(
        path.name
        for path in package.glob("*.py")
        if path.name != "compat.py" and re.search(r"__version__|importlib\.metadata", path.read_text())
    )
    assert reading == []
