"""stream.serving.snapshot: a body is built at most once a second per key, keys are bounded, and an
asynchronous build is shared by the requests that come while it runs."""

from __future__ import annotations

import asyncio

import pytest

from stream.serving.snapshot import AsyncSnapshots, Snapshots

T = 5000.0  # any monotonic reading


class Clock:
    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> float:
        return self.now


class Builder:
    """Counts builds per key; each body says which build of its key it is."""

    def __init__(self) -> None:
        self.builds: dict[str | None, int] = {}

    def __call__(self, key: str | None) -> bytes:
        self.builds[key] = self.builds.get(key, 0) + 1
        return f"{key}#{self.builds[key]}".encode()


def test_requests_within_a_second_get_one_build_and_a_later_request_a_new_one() -> None:
    clock, build = Clock(), Builder()
    snapshots = Snapshots(build, size=1, clock=clock)
    for offset in (0.0, 0.001, 0.25, 0.5, 0.999):  # as fast as a client can loop, and then some
        clock.now = T + offset
        for _ in range(200):
            assert snapshots.get(None) == b"None#1"
    assert build.builds == {None: 1}
    clock.now = T + 1.0  # a second after the build: a new one
    assert snapshots.get(None) == b"None#2"
    clock.now = T + 1.9
    assert snapshots.get(None) == b"None#2"  # a second is counted from the last build, not from T
    clock.now = T + 2.0
    assert snapshots.get(None) == b"None#3"
    assert build.builds == {None: 3}


def test_each_key_has_its_own_snapshot_and_age() -> None:
    clock, build = Clock(), Builder()
    snapshots = Snapshots(build, size=2, clock=clock)
    assert snapshots.get("sales") == b"sales#1"
    clock.now = T + 0.6
    assert snapshots.get("support") == b"support#1"
    assert snapshots.get("sales") == b"sales#1"
    clock.now = T + 1.2  # sales is 1.2 s old, support 0.6 s
    assert snapshots.get("sales") == b"sales#2"
    assert snapshots.get("support") == b"support#1"


def test_invented_keys_evict_the_least_recently_asked_and_never_grow_it() -> None:
    clock, build = Clock(), Builder()
    snapshots = Snapshots(build, size=3, clock=clock)
    snapshots.get("sales")
    snapshots.get("support")
    for n in range(10_000):
        snapshots.get(f"invented-{n}")
        snapshots.get("sales")  # asked all along: stays
        assert len(snapshots) <= 3
    assert snapshots.get("sales") == b"sales#1"
    assert build.builds["sales"] == 1
    assert snapshots.get("support") == b"support#2"  # evicted by the flood: built again


async def test_requests_during_a_build_wait_for_that_build() -> None:
    now = [0.0]
    builds: list[str] = []
    release = asyncio.Event()

    async def build(key: str) -> str:
        builds.append(key)
        await release.wait()
        return f"{key}@{now[0]}"

    snapshots = AsyncSnapshots(build, size=2, max_age=1.0, clock=lambda: now[0])
    waiting = [asyncio.ensure_future(snapshots.get("a")) for _ in range(3)]
    await asyncio.sleep(0)  # let them all ask
    release.set()
    assert await asyncio.gather(*waiting) == ["a@0.0"] * 3
    assert builds == ["a"]
    now[0] = 1.0
    assert await snapshots.get("a") == "a@1.0"
    assert builds == ["a", "a"]


async def test_a_failed_build_is_not_kept() -> None:
    attempts = []

    async def build(key: str) -> str:
        attempts.append(key)
        if len(attempts) == 1:
            raise RuntimeError("peer down")
        return key

    snapshots = AsyncSnapshots(build, size=2, max_age=60.0, clock=lambda: 0.0)
    with pytest.raises(RuntimeError):
        await snapshots.get("a")
    assert await snapshots.get("a") == "a"
