"""Batches that close as soon as nothing more is waiting.

Faust's ``Stream.take_events(max_, within)`` yields a batch every ``within`` seconds, or earlier
when ``max_`` events are buffered. At low rates every event therefore waits for the timer at
every stage, half of ``within`` on average and all of it at worst, however idle the worker is.

:func:`take_ready` closes a batch once the stream has taken every message delivered to it so far,
or ``max_`` of them (and at the latest :data:`STALLED_SECONDS` after the caller asked for it).
At low rates a batch is what one fetch brought; during a backlog messages pile
up while the previous batch is processed, and batches are ``max_`` long. ``linger`` (the idea of a
Kafka producer's ``linger.ms``) holds a batch open up to that much longer, for fewer and larger
batches at the price of latency.

Apart from when a batch closes this is Faust's ``take_events``: the stream is drained in the
background into the batch, which is frozen while the caller processes it, and every event is
acknowledged after its batch has been processed, so offsets are committed only for processed
messages. It uses the same stream internals, so it is used only with the Faust versions it was
checked against (:data:`stream.consumer.CHECKED_FAUST_VERSIONS`); with any other version
:func:`batches` falls back to ``take_events``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.types import EventT

from stream.consumer import CHECKED_FAUST_VERSIONS

#: The fixed window of Faust's ``take_events`` when this module's batching cannot be used.
FALLBACK_WINDOW_SECONDS = 0.05
#: At the latest, a batch closes this long after the caller asked for it, whatever it holds:
#: while a rebalance suspends the flow, the stream skips what is waiting without passing it to
#: the batch, which would never learn that nothing more is waiting, and the rebalance waits for
#: the batch's events to be acknowledged.
STALLED_SECONDS = 0.1


def batches(stream: faust.StreamT[Any], max_: int, linger: float) -> AsyncIterator[list[EventT]]:
    """:func:`take_ready` on a checked Faust version, else Faust's timed ``take_events``."""
    if faust.__version__ in CHECKED_FAUST_VERSIONS:
        return take_ready(stream, max_, linger)
    return stream.take_events(max_, within=linger or FALLBACK_WINDOW_SECONDS)  # type: ignore[return-value]


async def take_ready(stream: faust.StreamT[Any], max_: int, linger: float = 0.0) -> AsyncIterator[list[EventT]]:
    """Batches of at most ``max_`` events, each closed when no more are waiting (plus ``linger`` s)."""
    events: list[EventT] = []
    ready = asyncio.Event()  # the batch may close: nothing more waiting, or full
    full = asyncio.Event()
    consumed = asyncio.Event()
    frozen: asyncio.Future[None] | None = None  # set while the caller processes a batch
    channel = aiter(stream.channel)
    waiting = channel.queue  # delivered to the stream and not taken yet

    async def add(value: Any) -> Any:
        nonlocal frozen
        try:
            if frozen is not None:  # this event belongs to the next batch
                try:
                    await frozen
                finally:
                    frozen = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("batch found current_event is None")
            events.append(event)
            if len(events) >= max_:
                full.set()
                ready.set()
                consumed.clear()
                await stream.wait(consumed)  # type: ignore[arg-type]  # never more than max_ in a batch
            elif waiting.empty():
                ready.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to a batch: %r", exc)  # type: ignore[attr-defined]
            await stream.crash(exc)  # type: ignore[attr-defined]
        return value

    # Events are acknowledged here, after their batch, not when the stream takes them.
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(channel)  # type: ignore[attr-defined]
    while not stream.should_stop:  # type: ignore[attr-defined]
        await stream.wait_for_stopped(ready, timeout=STALLED_SECONDS)  # type: ignore[attr-defined]
        if linger and events and not full.is_set():
            await stream.wait_for_stopped(full, timeout=linger)  # type: ignore[attr-defined]
        if not events:
            continue
        frozen = stream.loop.create_future()  # type: ignore[attr-defined]
        try:
            yield list(events)
        finally:
            for event in events:
                await stream.ack(event)
            events.clear()
            ready.clear()
            full.clear()
            frozen.set_result(None)
            consumed.set()
