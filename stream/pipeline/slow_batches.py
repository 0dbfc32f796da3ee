"""Batches that take too long: what a stage is waiting on when one batch has run for minutes.

A stage that waits forever (on the broker's acknowledgement of its output, on a table write-out)
stops its input without an error: the loop keeps running, the worker stays healthy, only the
committed offsets stop moving. :func:`watched` says so in the log while it lasts, every
:data:`WARN_EVERY_SECONDS`, with the chain of awaits the batch is suspended in, so that the log
of a stuck worker names the await to look at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path
from types import CoroutineType, GeneratorType
from typing import TypeVar

log = logging.getLogger("stream")

#: A batch running this long is reported, and again after each further such period.
WARN_EVERY_SECONDS = 30.0

T = TypeVar("T")


async def watched(stage: str, size: int, work: Awaitable[T], every: float = WARN_EVERY_SECONDS) -> T:
    """Await ``work`` (a batch of ``size`` messages of ``stage``), warning every ``every`` seconds
    while it has not finished. ``work`` runs in the calling task, as if awaited directly."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    started = loop.time()
    timer: asyncio.TimerHandle | None = None

    def warn() -> None:
        nonlocal timer
        chain = await_chain(task.get_coro()) if task is not None else []
        # The part of the chain inside this batch: from the await below inwards.
        inside = next((i for i, step in enumerate(chain) if step.startswith(f"{watched.__qualname__} ")), -1)
        log.warning(
            "stage %s: a batch of %d messages has run for %.0f s; waiting in %s",
            stage,
            size,
            loop.time() - started,
            " -> ".join(chain[inside + 1 :]),
        )
        timer = loop.call_later(every, warn)

    timer = loop.call_later(every, warn)
    try:
        return await work
    finally:
        timer.cancel()


def await_chain(awaitable: object) -> list[str]:
    """Where a suspended coroutine is: each coroutine or generator it awaits, innermost last, as
    ``name (folder/file.py:line)``."""
    chain: list[str] = []
    while isinstance(awaitable, CoroutineType | GeneratorType):
        frame = awaitable.cr_frame if isinstance(awaitable, CoroutineType) else awaitable.gi_frame
        if frame is None:  # finished
            break
        where = "/".join(Path(frame.f_code.co_filename).parts[-2:])
        chain.append(f"{frame.f_code.co_qualname} ({where}:{frame.f_lineno})")
        awaitable = awaitable.cr_await if isinstance(awaitable, CoroutineType) else awaitable.gi_yieldfrom
    return chain
