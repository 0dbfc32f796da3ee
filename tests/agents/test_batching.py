"""Batches that close when nothing more is waiting (stream.faust_ext.batching), on a Faust agent under
``test_context()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import faust

from stream.faust_ext.batching import take_ready

#: The agent under test, the values of each batch it was given, a wait for that many values in
#: batches, and a wait for that many values taken from the channel (into a batch still open).
Batching = tuple[Any, list[list[int]], Callable[[int], Any], Callable[[int], Any]]


@asynccontextmanager
async def batching_agent(
    max_: int, linger: float, weight: Callable[[Any], int] | None = None
) -> AsyncIterator[Batching]:
    """An agent that records the values of each batch ``take_ready`` gives it, and whether any of
    them was acknowledged while the batch was being processed; ``until(n)`` waits for n values in
    batches, ``taken(n)`` for n values taken (the stream's processors run on each as it is taken)."""
    app = faust.App(f"batching-{uuid4().hex[:8]}", broker="kafka://127.0.0.1:9", store="memory://")
    app.finalize()
    app.flow_control.resume()
    seen: list[list[int]] = []
    acked_early: list[bool] = []
    counted = asyncio.Condition()
    took: list[int] = []

    async def on_taken(value: int) -> int:
        async with counted:
            took.append(value)
            counted.notify_all()
        return value

    @app.agent()
    async def collect(stream: faust.StreamT[int]) -> None:
        stream.add_processor(on_taken)
        async for events in take_ready(stream, max_, linger, weight):
            acked_early.append(any(event.message.acked for event in events))
            async with counted:
                seen.append([event.value for event in events])
                counted.notify_all()

    async def until(values: int) -> None:
        async with counted:
            await asyncio.wait_for(counted.wait_for(lambda: sum(map(len, seen)) >= values), timeout=5)

    async def taken(values: int) -> None:
        async with counted:
            await asyncio.wait_for(counted.wait_for(lambda: len(took) >= values), timeout=5)

    async with collect.test_context() as agent:
        yield agent, seen, until, taken
    assert acked_early and not any(acked_early)


async def test_messages_that_arrive_together_are_one_batch_closed_at_once() -> None:
    async with batching_agent(max_=100, linger=0.0) as (agent, seen, until, _):
        for value in range(3):
            await agent.put(value, wait=False)
        started = asyncio.get_running_loop().time()
        await until(3)
        took = asyncio.get_running_loop().time() - started
    assert seen == [[0, 1, 2]]
    assert took < 1.0  # no batch timer: Faust's take_events would have waited for ``within``


async def test_a_batch_never_holds_more_than_max() -> None:
    async with batching_agent(max_=2, linger=0.0) as (agent, seen, until, _):
        for value in range(5):
            await agent.put(value, wait=False)
        await until(5)
    assert seen == [[0, 1], [2, 3], [4]]


async def test_a_message_after_a_pause_starts_a_new_batch_unless_the_batch_lingers() -> None:
    async with batching_agent(max_=100, linger=0.0) as (agent, seen, until, _):
        await agent.put(0, wait=False)
        await until(1)
        await agent.put(1, wait=False)
        await until(2)
    assert seen == [[0], [1]]
    # A linger no test step comes near; the batch closes when full (max_ 2), not at its end.
    async with batching_agent(max_=2, linger=60.0) as (agent, seen, until, taken):
        await agent.put(0, wait=False)
        await taken(1)  # the pause: 0 is taken, nothing else waiting, the batch lingers
        assert seen == []
        await agent.put(1, wait=False)
        await until(2)
    assert seen == [[0, 1]]


async def test_events_taken_during_a_rebalance_are_skipped_and_acknowledged_as_the_stream_does() -> None:
    """Events taken while the flow is suspended, or fetched in an earlier consumer generation, are
    left out of every batch and acknowledged (the consumer reads their partitions again from the
    committed offsets); events of the batch being processed are acknowledged after it."""
    app = faust.App(f"batching-{uuid4().hex[:8]}", broker="kafka://127.0.0.1:9", store="memory://")
    app.finalize()
    app.flow_control.resume()
    release = asyncio.Event()
    seen: list[list[int]] = []

    @app.agent()
    async def collect(stream: faust.StreamT[int]) -> None:
        async for events in take_ready(stream, 100, 0.0):
            seen.append([event.value for event in events])
            if len(seen) == 1:
                await release.wait()  # the batch is being processed while the rebalance starts

    async with collect.test_context() as agent:
        first = await agent.put(0, wait=False)
        await wait_until(lambda: seen == [[0]])
        during = [await agent.put(value, wait=False) for value in (1, 2)]
        app.flow_control.suspend()
        assert not first.message.acked  # its batch is still being processed
        release.set()
        await wait_until(lambda: all(event.message.acked for event in (first, *during)))
        app.flow_control.resume()
        stale = await agent.put(3, wait=False)
        app.consumer_generation_id += 1  # fetched before the rebalance that this number counts
        await wait_until(lambda: stale.message.acked)
        await agent.put(4, wait=False)
        await wait_until(lambda: len(seen) == 2)
    assert seen == [[0], [4]]


async def test_an_event_is_judged_when_taken_so_a_rebalance_during_a_linger_keeps_it() -> None:
    """Once taken into a batch an event is tracked, and a rebalance waits for it; one starting
    while the batch lingers must not skip it when the batch closes."""
    # The batch can close only at the linger's end while the flow is suspended (an event taken
    # then is skipped): a linger long enough that the rebalance surely starts before it ends.
    async with batching_agent(max_=100, linger=1.0) as (agent, seen, until, taken):
        app = agent.app
        event = await agent.put(0, wait=False)
        await taken(1)
        app.flow_control.suspend()
        assert seen == []  # the rebalance started while the batch lingered
        await until(1)
        app.flow_control.resume()
    assert seen == [[0]] and event.message.acked


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def test_weighed_events_fill_a_batch_by_weight_and_a_heavy_first_one_still_goes() -> None:
    async with batching_agent(max_=10, linger=0.0, weight=lambda event: event.value) as (agent, seen, until, _):
        for value in (4, 4, 4, 30, 1):
            await agent.put(value, wait=False)
        await until(5)
    assert seen == [[4, 4, 4], [30], [1]]
