"""Faust's aiokafka producer with a flush that waits for every buffered record.

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
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import FutureMessage

log = logging.getLogger(__name__)

#: How often, at most, the worker says that its streams waited for the send buffer.
BUFFER_WAIT_LOG_SECONDS = 60.0


class DrainingProducer(faust_aiokafka.Producer):
    _last_buffered: FutureMessage | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
            log.warning("waits of the streams for the producer's send buffer (over %d records) to drain: %d since "
                        "the last such message", buffer.max_messages, self._buffer_waits)  # fmt: skip
            self._buffer_waits, self._buffer_wait_logged = 0, now
        await buffer.flush_atmost(buffer.max_messages)

    def send_soon(self, fut: FutureMessage) -> None:
        self._last_buffered = fut
        super().send_soon(fut)

    async def flush(self) -> None:
        last = self._last_buffered
        await super().flush()
        if last is not None and not last.done():
            # The buffer is sent in order: once ``last`` has been handed over, so has every
            # record before it, and the Kafka client's own flush then waits for their delivery.
            # Waited on, not awaited: cancelling this flush must not cancel the record.
            await asyncio.wait({last})
            last.result()
            await super().flush()
