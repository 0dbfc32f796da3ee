"""Faust's aiokafka producer with a flush that waits for every buffered record, and a way to hand
records to the Kafka client in whole record batches.

Table writes do not go to Kafka at once: Faust puts each changelog record in a buffer that a
background task hands to the Kafka client. Before it commits input offsets, and before it gives
up partitions in a rebalance, Faust flushes the producer. But ``ProducerBuffer.flush`` returns as
soon as no record has left the buffer for 0.1 s, which happens whenever a large batch keeps the
event loop busy or the broker is slow. Offsets could then be committed while the table writes
that rest on them were still buffered: a worker handing the partitions over in a rebalance would
write them after the new owner had restored its tables (or a crash would lose them), and the new
owner would never read that input again.

:class:`DrainingProducer`'s flush returns only once the last record buffered before the call
has been delivered, and everything before it with it. It also logs the streams' waits for a full
buffer once a minute with a count, where Faust logs each one.

:meth:`DrainingProducer.send_batches_soon` takes the records of many keys at once (the table
writes of ``stream.faust_ext.changelog``) and hands them to the Kafka client in one record batch per
partition, without Faust's per-record buffer, futures and callbacks; a flush waits for them too.

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):
``ProducerBuffer.wait_until_ebb``, replaced on the producer's buffer, which the conductor looks up
when it builds its per-partition callback, and whose wait (``size``, ``max_messages``,
``flush_atmost``) the replacement keeps; ``Producer.send_soon`` putting each record in that
buffer, which ``_handle_pending`` sends one at a time in order, so the last record buffered is the
last handed over; ``Producer.flush`` flushing the buffer and then the Kafka client, whose own
flush waits for every record batch added with ``send_batch``; and ``Producer._ensure_producer``,
the started aiokafka client the record batches are handed to.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, FutureMessage

log = logging.getLogger(__name__)

#: How often, at most, the worker says that its streams waited for the send buffer.
BUFFER_WAIT_LOG_SECONDS = 60.0

#: A key and a value (``None``: a tombstone).
Record = tuple[bytes, bytes | None]
#: Records for one partition, and what to call with the offset of the last one once it is on the broker.
PartitionRecords = tuple[TP, Sequence[Record], Callable[[int], None]]


class DrainingProducer(faust_aiokafka.Producer):
    _last_buffered: FutureMessage | None = None
    #: Hands the records of the latest :meth:`send_batches_soon` to the client, after the one before.
    _handing_over: asyncio.Task[None] | None = None
    #: Why records handed over could not be delivered; every flush raises it from then on.
    _undelivered: BaseException | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Batches handed to the client, until their outcome is known.
        self._deliveries: set[asyncio.Future[Any]] = set()
        self._buffer_waits = 0
        self._buffer_wait_logged = -math.inf
        # Faust's conductor awaits this before handing each input message to the streams.
        self.buffer.wait_until_ebb = self._wait_until_ebb  # type: ignore[method-assign]

    async def _wait_until_ebb(self) -> None:
        """Faust's ``ProducerBuffer.wait_until_ebb``, saying so once a minute rather than each time.

        While the buffer holds more than ``max_messages`` records every stream waits for it to
        drain; the write-out of held table states before each commit, and a backlog's batches, go
        out in such bursts, and Faust's warning for each wait filled the log many times a second.
        The wait stays: it keeps the buffer, and so each commit's flush, short.
        """
        buffer = self.buffer
        if buffer.size <= buffer.max_messages:
            return
        self._buffer_waits += 1
        now = time.monotonic()
        if now - self._buffer_wait_logged >= BUFFER_WAIT_LOG_SECONDS:
            log.warning(
                "waits of the streams for the producer's send buffer (over %d records) to drain: %d since "
                "the last such message",
                buffer.max_messages,
                self._buffer_waits,
            )
            self._buffer_waits, self._buffer_wait_logged = 0, now
        await buffer.flush_atmost(buffer.max_messages)

    def send_soon(self, fut: FutureMessage) -> None:
        self._last_buffered = fut
        super().send_soon(fut)

    def send_batches_soon(self, records: Sequence[PartitionRecords]) -> None:
        """Send each partition's records in as few record batches as ``producer_max_batch_size``
        allows (a record larger than that alone), after every record passed here before, so each
        partition gets its records in the order they were passed."""
        previous = self._handing_over
        self._handing_over = asyncio.ensure_future(self._hand_over(previous, records))

    def handing_over(self) -> bool:
        """Whether records passed to :meth:`send_batches_soon` are still waiting for the client to take them."""
        return self._handing_over is not None and not self._handing_over.done()

    async def _hand_over(self, previous: asyncio.Task[None] | None, records: Sequence[PartitionRecords]) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        for tp, rows, on_delivered in records:
            try:
                client = self._ensure_producer()
                for batch in _batches(client, rows):
                    delivered = await client.send_batch(batch, tp.topic, partition=tp.partition)
                    self._deliveries.add(delivered)
                    delivered.add_done_callback(
                        partial(self._on_delivered, last=batch.record_count() - 1, report=on_delivered)
                    )
            except BaseException as exc:  # the other partitions' records still go out
                self._failed(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

    def _on_delivered(self, done: asyncio.Future[Any], last: int, report: Callable[[int], None]) -> None:
        self._deliveries.discard(done)
        if done.cancelled():
            self._failed(asyncio.CancelledError())
        elif done.exception() is not None:
            self._failed(done.exception())  # type: ignore[arg-type]
        elif done.result() is not None:  # None: acks=0, no offsets known
            report(done.result().offset + last)

    def _failed(self, exc: BaseException) -> None:
        log.error("table changes were not delivered to their changelogs: %r", exc)
        self._undelivered = self._undelivered or exc

    async def flush(self) -> None:
        handing_over = self._handing_over
        if handing_over is not None:
            # Waited on, not awaited: cancelling this flush must not cancel the hand-over.
            await asyncio.wait({handing_over})
        last = self._last_buffered
        await super().flush()  # the client's flush waits for every batch handed over
        if self._deliveries:
            # Each batch's outcome reaches _on_delivered through a future the client resolves a
            # loop turn after its own: wait for those, so a failure is known before returning.
            await asyncio.wait(set(self._deliveries))
        if last is not None and not last.done():
            # The buffer is sent in order: once ``last`` has been handed over, so has every
            # record before it, and the Kafka client's own flush then waits for their delivery.
            # Waited on, not awaited: cancelling this flush must not cancel the record.
            await asyncio.wait({last})
            last.result()
            await super().flush()
        if self._undelivered is not None:
            raise RuntimeError("table changes were not delivered to their changelogs") from self._undelivered


def _batches(client: aiokafka.AIOKafkaProducer, records: Sequence[Record]) -> list[Any]:
    """``records`` in record batches of the client's batch size; the first record of a batch always fits."""
    batches = [client.create_batch()]
    for key, value in records:
        if batches[-1].append(key=key, value=value, timestamp=None) is None:
            batches.append(client.create_batch())
            batches[-1].append(key=key, value=value, timestamp=None)
    return batches
