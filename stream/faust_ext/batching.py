"""Batches read straight from a stream's channel, each closed as soon as nothing more is waiting.

Faust's ``Stream.take_events(max_, within)`` yields a batch every ``within`` seconds, or earlier
when ``max_`` events are buffered. At low rates every event therefore waits for the timer at
every stage, half of ``within`` on average and all of it at worst, however idle the worker is.
And each event still goes through the stream's own loop, which gives the event loop a turn
(``await asyncio.sleep(0)``), runs the stream's processors and sensors and sets the current
event, one event at a time: a large part of the worker's CPU from a backlog (the measurements are
in docs/architecture.md).

:func:`take_ready` reads the events the conductor has delivered to the stream's channel in one go,
up to ``max_`` of them, and yields them as a batch as soon as none is left waiting. At low rates
a batch is what one fetch brought; during a backlog, messages pile up while the previous batch is
processed, and batches are ``max_`` long. ``linger`` (the idea of a Kafka producer's
``linger.ms``) holds a batch open up to that much longer, for fewer and larger batches at the
price of latency.

It keeps what the stream's loop does for each event that matters to offsets and rebalances:

- an event taken while the flow is suspended (a rebalance) or fetched in an earlier consumer
  generation is skipped, and acknowledged, as the stream does; the consumer reads its partition
  again from the committed offset after the rebalance;
- an event of an acknowledged topic is tracked as unacknowledged before its batch is processed,
  so a rebalance waits for the batch (``Consumer.wait_empty``);
- the stream's processors run on each event as it is taken (a processor raising ``Skip`` leaves
  the event out, acknowledged);
- every event is acknowledged after its batch has been processed, so offsets are committed only
  for processed messages;
- taking from the channel's queue raises the errors thrown into the channel, and lets the
  conductor resume a partition it paused while the queue was full.

The streams' own sensors (``on_stream_event_in``/``out``) are not called.

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):
``aiter(channel)`` registers the iterator with the conductor, which puts each event on that
iterator's ``queue``, a ``mode`` ``ThrowableQueue`` whose ``get`` raises what was thrown into the
channel and resumes paused partitions; ``Stream._processors``, which the stream's loop applies to
each value; and that loop's rules for skipping, tracking (``Consumer.track_message``) and
acknowledging an event, which :func:`take_ready` repeats, so offsets and rebalances behave as
with Faust's own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust
from faust.exceptions import Skip
from faust.types import EventT
from mode.utils.futures import maybe_async


async def take_ready(
    stream: faust.StreamT[Any], max_: int, linger: float = 0.0, weight: Callable[[EventT], int] | None = None
) -> AsyncIterator[list[EventT]]:
    """Batches of at most ``max_`` events, each closed when no more are waiting (plus ``linger`` s).

    ``weight``: what an event counts towards ``max_`` (1 by default). A message of an internal topic
    carries many rows: counted as one, a batch taken from a backlog held millions of rows and its
    processing held the event loop for seconds. A batch always takes its first event, whatever its
    weight.
    """
    app = stream.app
    queue = aiter(stream.channel).queue  # the iterator registered with the conductor
    consumer = app.consumer
    flow_control = app.flow_control
    acking_topics = app.topics.acking_topics
    on_message_out = app.sensors.on_message_out
    processors = stream._processors  # type: ignore[attr-defined]  # none in the worker's stages
    batch: list[EventT] = []
    weighed = [0]  # the batch's total weight

    async def admit(event: EventT) -> None:
        """Decide about ``event`` the moment it is taken, as the stream's loop does: a rebalance
        starting later must wait for it (``Consumer.wait_empty``) if it is in the batch."""
        message = event.message
        if not flow_control.is_active() or message.generation_id != app.consumer_generation_id:
            event.ack()  # as the stream does: the partition is read again from its committed offset
            return
        if message.topic in acking_topics and not message.tracked:
            message.tracked = True
            consumer.track_message(message)
        try:
            for processor in processors:  # for what they do; the batch holds the events
                await maybe_async(processor(event.value))
        except Skip:
            event.ack()
            return
        batch.append(event)
        weighed[0] += 1 if weight is None else weight(event)

    while True:
        failure: Exception | None = None
        try:
            await _take_waiting(queue, admit, lambda: weighed[0] >= max_, linger)
        except StopAsyncIteration:  # the channel's end: the agent is stopping, nothing is committed
            return
        except Exception as exc:  # thrown into the channel: raised after what was taken before it
            failure = exc
        if batch:
            try:
                yield list(batch)
            finally:
                for event in batch:
                    if event.ack():
                        message = event.message
                        on_message_out(message.tp, message.offset, message)
                batch.clear()
                weighed[0] = 0
        if failure is not None:
            raise failure


async def _take_waiting(
    queue: asyncio.Queue[EventT], admit: Callable[[EventT], Awaitable[None]], full: Callable[[], bool], linger: float
) -> None:
    """Take the next event, every one waiting behind it and those arriving within ``linger`` s,
    until ``full()``, each passed to ``admit`` as it is taken."""
    await admit(await queue.get())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger
    while True:
        while not full() and not queue.empty():
            await admit(queue.get_nowait())
        if full() or loop.time() >= deadline:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await admit(await asyncio.wait_for(queue.get(), deadline - loop.time()))
