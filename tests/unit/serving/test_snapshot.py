"""stream.serving.snapshot.Snapshots: a body is built at most once a second per key, and keys are bounded."""

from __future__ import annotations

from stream.serving.snapshot import Snapshots

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
