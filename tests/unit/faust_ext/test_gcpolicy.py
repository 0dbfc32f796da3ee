"""Long-lived objects leave the cyclic collector's full collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import faust
import pytest

from stream.faust_ext.gcpolicy import YOUNG_GENERATION_THRESHOLD, FreezingWorker, collect_less_often, freeze_long_lived


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    """An object the collector tracks, in a cycle so only the collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_what_is_alive_is_frozen_and_what_is_garbage_is_collected_first() -> None:
    kept = [Node() for _ in range(1000)]
    garbage = weakref.ref(Node())  # only the collector frees it
    freeze_long_lived()
    assert garbage() is None
    assert gc.get_freeze_count() >= len(kept)


async def test_the_worker_freezes_once_it_has_started() -> None:
    app = faust.App("test-gcpolicy", broker="memory://", store="memory://")
    worker = FreezingWorker(app, loglevel="warning")
    worker.spinner = None
    assert gc.get_freeze_count() == 0
    await worker.on_startup_finished()
    assert gc.get_freeze_count() > 0


def test_the_youngest_generation_is_collected_less_often_and_the_others_as_before() -> None:
    _, middle, oldest = gc.get_threshold()
    collect_less_often()
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, oldest)
