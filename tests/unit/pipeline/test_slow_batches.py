"""A batch that waits too long is reported with where it waits; one that finishes is not."""

from __future__ import annotations

import asyncio
import logging

import pytest

from stream.pipeline.slow_batches import await_chain, watched


async def deliver(sent: asyncio.Event) -> int:
    await acknowledged(sent)
    return 7


async def acknowledged(sent: asyncio.Event) -> None:
    await sent.wait()


async def test_a_waiting_batch_is_reported_with_its_awaits_until_it_finishes(caplog: pytest.LogCaptureFixture) -> None:
    sent = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="stream")
    batch = asyncio.ensure_future(watched("ingest", 12, deliver(sent), every=0.02))
    while len(caplog.records) < 2:  # reported again while it lasts
        await asyncio.sleep(0.01)
    message = caplog.records[0].getMessage()
    assert message.startswith("stage ingest: a batch of 12 messages has run for 0 s; waiting in deliver (")
    steps = message.split("; waiting in ", 1)[1].split(" -> ")
    assert steps == [
        "deliver (pipeline/test_slow_batches.py:14)",
        "acknowledged (pipeline/test_slow_batches.py:19)",
        f"Event.wait (asyncio/locks.py:{steps[2].rsplit(':', 1)[1]}",
    ]
    sent.set()
    assert await batch == 7
    reported = len(caplog.records)
    await asyncio.sleep(0.06)  # three more periods: the timer went with the batch
    assert len(caplog.records) == reported


async def test_a_batch_that_finishes_in_time_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stream")
    sent = asyncio.Event()
    sent.set()
    assert await watched("queues", 3, deliver(sent), every=0.02) == 7
    await asyncio.sleep(0.05)
    assert caplog.records == []


async def test_a_failing_batch_raises_through_and_stops_the_reports(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        await asyncio.sleep(0.03)
        raise ValueError("bad batch")

    caplog.set_level(logging.WARNING, logger="stream")
    with pytest.raises(ValueError, match="bad batch"):
        await watched("contacts", 1, fail(), every=0.02)
    reported = len(caplog.records)
    await asyncio.sleep(0.05)
    assert reported == 1 and len(caplog.records) == 1


def test_await_chain_of_a_finished_coroutine_is_empty() -> None:
    async def nothing() -> None:
        return None

    coro = nothing()
    try:
        coro.send(None)
    except StopIteration:
        pass
    assert await_chain(coro) == []
