"""Batches that close when nothing more is waiting (stream.batching), on a Faust agent under
``test_context()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import faust
import pytest

from stream.batching import FALLBACK_WINDOW_SECONDS, batches, take_ready


@asynccontextmanager
async def batching_agent(max_: int, linger: float, suspend_at: int | None = None,
                         ) -> AsyncIterator[tuple[Any, list[list[int]], Callable[[int], Any]]]:  # fmt: skip
    """An agent that records the values of each batch ``take_ready`` gives it, and whether any of
    them was acknowledged while the batch was being processed; ``until(n)`` waits for n values.
    The flow is suspended, as by a rebalance, once the stream has taken value ``suspend_at``."""
    app = faust.App(f"batching-{uuid4().hex[:8]}", broker="kafka://127.0.0.1:9", store="memory://")
    app.finalize()
    app.flow_control.resume()
    seen: list[list[int]] = []
    acked_early: list[bool] = []
    counted = asyncio.Condition()

    @app.agent()
    async def collect(stream: faust.StreamT[int]) -> None:
        if suspend_at is not None:
            stream.add_processor(lambda value: app.flow_control.suspend() if value == suspend_at else None)
        async for events in take_ready(stream, max_, linger):
            acked_early.append(any(event.message.acked for event in events))
            async with counted:
                seen.append([event.value for event in events])
                counted.notify_all()

    async def until(values: int) -> None:
        async with counted:
            await asyncio.wait_for(counted.wait_for(lambda: sum(map(len, seen)) >= values), timeout=5)

    async with collect.test_context() as agent:
        yield agent, seen, until
    assert acked_early and not any(acked_early)


async def test_messages_that_arrive_together_are_one_batch_closed_at_once() -> None:
    async with batching_agent(max_=100, linger=0.0) as (agent, seen, until):
        for value in range(3):
            await agent.put(value, wait=False)
        started = asyncio.get_running_loop().time()
        await until(3)
        took = asyncio.get_running_loop().time() - started
    assert seen == [[0, 1, 2]]
    assert took < 1.0  # no batch timer: Faust's take_events would have waited for ``within``


async def test_a_batch_never_holds_more_than_max() -> None:
    async with batching_agent(max_=2, linger=0.0) as (agent, seen, until):
        for value in range(5):
            await agent.put(value, wait=False)
        await until(5)
    assert seen == [[0, 1], [2, 3], [4]]


async def test_a_message_after_a_pause_starts_a_new_batch_unless_the_batch_lingers() -> None:
    async with batching_agent(max_=100, linger=0.0) as (agent, seen, until):
        await agent.put(0, wait=False)
        await until(1)
        await agent.put(1, wait=False)
        await until(2)
    assert seen == [[0], [1]]
    async with batching_agent(max_=100, linger=0.5) as (agent, seen, until):
        await agent.put(0, wait=False)
        await asyncio.sleep(0.1)
        await agent.put(1, wait=False)
        await until(2)
    assert seen == [[0, 1]]


async def test_a_batch_closes_when_a_rebalance_stops_the_stream_passing_on_what_is_waiting() -> None:
    """While the flow is suspended the stream skips waiting messages without passing them to the
    batch, so the batch never hears that nothing more is waiting; it must close anyway, because
    the rebalance waits for the events it holds to be acknowledged."""
    async with batching_agent(max_=100, linger=0.0, suspend_at=0) as (agent, seen, until):
        await agent.put(0, wait=False)
        await agent.put(1, wait=False)
        await until(1)
    assert seen == [[0]]


def test_an_unchecked_faust_version_gets_fausts_timed_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """take_ready relies on the stream internals of the Faust versions it was checked against."""
    calls: list[tuple[int, float]] = []
    stream = SimpleNamespace(take_events=lambda max_, within: calls.append((max_, within)) or "timed batches")
    monkeypatch.setattr(faust, "__version__", "99.0.0")
    assert batches(stream, 10, 0.0) == "timed batches"  # type: ignore[arg-type]
    assert batches(stream, 10, 0.2) == "timed batches"  # type: ignore[arg-type]
    assert calls == [(10, FALLBACK_WINDOW_SECONDS), (10, 0.2)]
