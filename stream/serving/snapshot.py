"""Response bodies rebuilt at most once per interval, so polling in a loop costs the stages nothing more."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Snapshots(Generic[Key, Value]):
    """What ``build(key)`` returns, kept for ``max_age`` seconds per key; only the ``size`` most
    recently asked keys are kept, so keys a client invents cannot grow it."""

    def __init__(
        self,
        build: Callable[[Key], Value],
        size: int,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._size = size
        self._max_age = max_age
        self._clock = clock
        #: key -> (when built, value), least recently asked first.
        self._bodies: OrderedDict[Key, tuple[float, Value]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, key: Key) -> Value:
        now = self._clock()
        kept = self._bodies.get(key)
        if kept is None or now - kept[0] >= self._max_age:
            kept = (now, self._build(key))
        self._bodies[key] = kept
        self._bodies.move_to_end(key)
        if len(self._bodies) > self._size:
            self._bodies.popitem(last=False)
        return kept[1]


class AsyncSnapshots(Generic[Key, Value]):
    """:class:`Snapshots` of a coroutine: requests that come while a value is being built wait for
    that one build instead of starting their own."""

    def __init__(
        self,
        build: Callable[[Key], Awaitable[Value]],
        size: int,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._size = size
        self._max_age = max_age
        self._clock = clock
        self._values: OrderedDict[Key, tuple[float, asyncio.Future[Value]]] = OrderedDict()

    async def get(self, key: Key) -> Value:
        now = self._clock()
        kept = self._values.get(key)
        if kept is None or now - kept[0] >= self._max_age or (kept[1].done() and kept[1].exception()):
            kept = (now, asyncio.ensure_future(self._build(key)))
        self._values[key] = kept
        self._values.move_to_end(key)
        if len(self._values) > self._size:
            self._values.popitem(last=False)
        return await asyncio.shield(kept[1])
