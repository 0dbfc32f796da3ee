import asyncio

import pytest

from stream.pipeline.loop_stalls import INTERVAL_SECONDS, RECENT_SECONDS, LoopStalls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_late_wake_up_is_recorded_as_a_stall_of_its_lateness() -> None:
    clock, observed = Clock(), []
    stalls = LoopStalls(observed.append, clock)
    held = iter([0.0, 0.3, 0.001, 1.5])

    async def sleep(seconds: float) -> None:
        clock.now += seconds + next(held)  # the loop ran something else that long

    asyncio.run(stalls.watch(sleep=sleep, clock=clock, rounds=4))
    assert observed == pytest.approx([0.3, 1.5])  # on-time and jitter-sized wake-ups are not stalls
    assert stalls.longest() == pytest.approx(1.5)


def test_longest_is_of_the_recent_minute_only() -> None:
    clock = Clock()
    stalls = LoopStalls(lambda _: None, clock)
    stalls.record(2.0)
    clock.now += RECENT_SECONDS / 2
    stalls.record(0.2)
    assert stalls.longest() == 2.0
    clock.now += RECENT_SECONDS / 2 + 1
    assert stalls.longest() == 0.2
    clock.now += RECENT_SECONDS
    assert stalls.longest() == 0.0


def test_the_watch_asks_to_wake_every_interval() -> None:
    clock, asked = Clock(), []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        clock.now += seconds

    asyncio.run(LoopStalls(lambda _: None, clock).watch(sleep=sleep, clock=clock, rounds=3))
    assert asked == [INTERVAL_SECONDS] * 3
