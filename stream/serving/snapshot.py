"""Response bodies rebuilt at most once per interval, so polling in a loop costs the stages nothing more."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class Snapshots(Generic[Key]):
    """The body ``build(key)`` returns, kept for ``max_age`` seconds per key; only the ``size`` most
    recently asked keys are kept, so keys a client invents cannot grow it."""

    def __init__(
        self,
        build: Callable[[Key], bytes],
        size: int,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._size = size
        self._max_age = max_age
        self._clock = clock
        #: key -> (when built, body), least recently asked first.
        self._bodies: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, key: Key) -> bytes:
        now = self._clock()
        kept = self._bodies.get(key)
        if kept is None or now - kept[0] >= self._max_age:
            kept = (now, self._build(key))
        self._bodies[key] = kept
        self._bodies.move_to_end(key)
        if len(self._bodies) > self._size:
            self._bodies.popitem(last=False)
        return kept[1]
