"""Long-lived objects moved out of the way of the cyclic garbage collector.

A full collection of CPython's cyclic collector walks every object it tracks, and holds the event
loop while it does. A worker has about 90,000 such objects from its imports before it starts, and
more from Faust, the Kafka clients and the tables it recovers, nearly all of which live until it
exits: live, full collections took 150-270 ms each, several times a minute at 500 events/s, the
longest pauses of the worker's event loop (BENCHMARKS.md). :func:`freeze_long_lived` moves every
object alive at that moment into the permanent generation, which collections skip; reference
counting still frees such an object once nothing refers to it.
"""

from __future__ import annotations

import gc

from faust.worker import Worker


def freeze_long_lived() -> None:
    """Collect what is garbage now, then exempt everything still alive from later collections."""
    gc.collect()
    gc.freeze()


class FreezingWorker(Worker):  # type: ignore[misc]
    """Faust's worker, with :func:`freeze_long_lived` once it has started and recovered its tables."""

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_long_lived()
