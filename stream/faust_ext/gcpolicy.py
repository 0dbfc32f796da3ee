"""The cyclic garbage collector, kept out of the worker's way.

CPython's cyclic collector holds the event loop while it runs. Two things made it costly here:

- A full collection walks every object the collector tracks. A worker has many of them from its
  imports before it starts, and more from Faust, the Kafka clients and the tables it recovers,
  nearly all of which live until it exits. :func:`freeze_long_lived` moves every object alive at
  that moment into the permanent generation, which collections skip; reference counting still
  frees such an object once nothing refers to it.
- Each event allocates short-lived objects (decoded JSON, facts, records), so with CPython's
  default threshold of 700 the youngest generation was collected many times a second at live
  rates, and every tenth of those collected the middle one too. :data:`YOUNG_GENERATION_THRESHOLD`
  makes those collections rarer.

The pauses and the collector's CPU before and after: docs/architecture.md.

Relies on Faust's ``Worker.on_startup_finished``, which the app calls once its tables are
recovered and its web server and timers started (``tests/unit/faust_ext/test_internals.py``).
"""

from __future__ import annotations

import gc

from faust.worker import Worker

#: Allocations (less deallocations) of tracked objects between two collections of the youngest generation.
YOUNG_GENERATION_THRESHOLD = 10_000


def freeze_long_lived() -> None:
    """Collect what is garbage now, then exempt everything still alive from later collections."""
    gc.collect()
    gc.freeze()


def collect_less_often() -> None:
    """Collect the youngest generation every :data:`YOUNG_GENERATION_THRESHOLD` allocations."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


class FreezingWorker(Worker):  # type: ignore[misc]
    """Faust's worker, with :func:`freeze_long_lived` once it has started and recovered its tables."""

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_long_lived()
