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
has been delivered, and everything before it with it.
"""

from __future__ import annotations

import asyncio

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import FutureMessage


class DrainingProducer(faust_aiokafka.Producer):
    _last_buffered: FutureMessage | None = None

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
