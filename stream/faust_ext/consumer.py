"""Faust's Kafka consumer with a cheaper hand-off of each message, no records skipped around a
rebalance, held table writes flushed before each commit, and a configurable fetch wait.

Faust's ``Consumer._drain_messages`` hands every fetched message to the topic conductor with
``self.wait_first(callback(message), self.suspend_flow.wait())``. ``wait_first`` wraps each of
those, plus the consumer's stopped and crashed events, in a task: four tasks per message, which
is most of Faust's own per-message cost. The race exists so a rebalance (which sets
``suspend_flow``) can abandon a callback blocked on a full stream buffer.

Nearly every callback finishes without waiting. :class:`InlineHandoff` runs it inline; only when
it has to wait does the rest of it go through Faust's original race, so a rebalance interrupts it
exactly as before.

Records Faust drops around a rebalance or a recovery are read again
(:mod:`stream.faust_ext.lost_records`, whose classes :func:`consumer_class` puts in), and stream
partitions with no committed offset yet are read from the beginning
(``ConsumerThread.seek_to_committed``).

Faust also fetches with a fixed ``fetch_max_wait_ms=1500``: at low rates each fetch then waits
up to 1.5 s for data, which is what an event takes to reach the gauges. :func:`consumer_class`
takes the wait from ``KPI_FETCH_WAIT_MS``, and gives table recovery the real end of each changelog
(:mod:`stream.faust_ext.endoffsets`).

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):

- ``Consumer._drain_messages``: the exact call above, its result unused, with ``suspend_flow`` an
  ``asyncio.Event`` (the hand-off recognises the call by the code object of ``Event.wait``);
  ``mode.Service.wait_first`` and its ``WaitResults``, which the inline path returns;
- ``Consumer._commit_tps``, which chooses the offsets before its first wait, and
  ``_commit_offsets``, which flushes the producer before committing: why held writes are safe;
- ``AIOKafkaConsumerThread._create_worker_consumer`` and aiokafka's ``AIOKafkaConsumer._fetch_max_wait_ms``,
  read when the consumer starts its fetcher: the only way to change Faust's fixed fetch wait;
- ``AIOKafkaConsumerThread._highwaters`` (the ends table recovery reads up to), ``seek_to_committed``
  and ``Consumer._new_consumer_thread`` (how the thread class is chosen).

Why and by how much each of these helps: docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Generator, Iterable, Mapping
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.drivers.aiokafka import server_list
from faust.types import TP
from mode.services import WaitResults

from stream.faust_ext.endoffsets import record_ends
from stream.faust_ext.lost_records import NoSkippedRecords, OneAckPerOffset

log = logging.getLogger(__name__)


class InlineHandoff:
    """Runs the per-message callback of ``_drain_messages`` inline while it does not wait."""

    suspend_flow: asyncio.Event

    async def wait_first(self, *coros: Any, timeout: float | None = None) -> WaitResults:
        if not self._is_message_handoff(coros, timeout):
            return await super().wait_first(*coros, timeout=timeout)  # type: ignore[misc]
        callback, suspended = coros
        try:
            waiting_on = callback.send(None)
        except StopIteration as done:
            suspended.close()
            return WaitResults([callback], [done.value], False)
        except BaseException:
            suspended.close()
            raise
        # The callback has to wait (full buffer, paused flow, busy producer): from here on, race
        # it against a suspended flow as Faust does, so a rebalance can still interrupt it.
        return await super().wait_first(_Resumed(callback, waiting_on).run(), suspended)  # type: ignore[misc]

    def _is_message_handoff(self, coros: tuple[Any, ...], timeout: float | None) -> bool:
        """The call ``wait_first(callback(message), self.suspend_flow.wait())``, while the flow runs."""
        return (
            timeout is None
            and len(coros) == 2
            and getattr(coros[1], "cr_code", None) is type(self.suspend_flow).wait.__code__
            and isinstance(coros[0], Coroutine)
            and not self.suspend_flow.is_set()
        )


class FlushBeforeCommit:
    """Runs the app's ``before_commit`` callbacks right before the offsets to commit are chosen.

    They run synchronously, and Faust's ``_commit_tps`` chooses the offsets before its first
    wait, so nothing processed in between can be committed without them; the producer is then
    drained before the commit (``stream.faust_ext.producer``). ``stream.pipeline.held_writes`` relies on this.
    """

    app: faust.types.AppT

    async def _commit_tps(self, tps: Iterable[TP], start_new_transaction: bool) -> bool:
        for callback in getattr(self.app, "before_commit", ()):
            callback()
        return await super()._commit_tps(tps, start_new_transaction)  # type: ignore[misc,no-any-return]


class _Resumed:
    """A coroutine that has already run up to its first wait, made awaitable again."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    async def run(self) -> Any:
        return await self

    def __await__(self) -> Generator[Any, Any, Any]:
        # What ``yield from`` does for a coroutine, starting after its first yield.
        waiting_on = self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                self._coro.close()
                raise
            except BaseException as exc:  # cancellation included: it goes to the callback
                try:
                    waiting_on = self._coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = self._coro.send(sent)
                except StopIteration as done:
                    return done.value


def consumer_class(fetch_wait_ms: int) -> type[faust_aiokafka.Consumer]:
    """Faust's aiokafka consumer with ``fetch_wait_ms`` and this module's overrides."""

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read when the consumer starts its fetcher
            return consumer

        async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
            # Table recovery reads changelogs up to these: make them the real ends (stream.faust_ext.endoffsets).
            reported = await super()._highwaters(partitions)
            conf = self.app.conf
            auth = faust_aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context)
            return await record_ends(server_list(self.transport.url, self.transport.default_port), reported, auth=auth)

        async def seek_to_committed(self) -> Mapping[TP, int]:
            # After a rebalance Faust seeks its stream partitions back to their committed offsets,
            # but aiokafka leaves a partition without one where it is, which may be past records
            # fetched and dropped during the rebalance: they would never be read. Start those
            # from the beginning, as a consumer without a committed offset does (earliest).
            committed = await super().seek_to_committed()
            changelogs = self.app.tables.changelog_topics
            never_committed = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
            if never_committed:
                await self.seek_to_beginning(*never_committed)
            return committed

    def _new_consumer_thread(self: faust_aiokafka.Consumer) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    bases = (InlineHandoff, FlushBeforeCommit, OneAckPerOffset, NoSkippedRecords, faust_aiokafka.Consumer)
    return type("Consumer", bases, {"_new_consumer_thread": _new_consumer_thread})
