"""How a worker gives up: at once, before anything more is committed, with a status a supervisor reads.

Exiting is the crash every table is built to survive: a restart recovers the tables from their
changelogs and processes again whatever was not committed, exactly once.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import faust

from stream.pipeline.slow_batches import watched
from stream.serving.metrics import Metrics

#: Exit status of a worker that gave up on an unreachable broker.
EXIT_BROKER_UNREACHABLE = 3
#: Exit status of a worker whose stage failed on a batch.
EXIT_STAGE_FAILED = 4

log = logging.getLogger("stream")


async def run_batch(
    stage: str,
    handle: Callable[[Sequence[faust.EventT]], Awaitable[None]],
    batch: Sequence[faust.EventT],
    metrics: Metrics,
) -> None:
    """Run a stage on a batch; if it fails, exit before the batch's offsets are committed.

    Faust would restart the agent and acknowledge the batch, losing it.
    """
    started = time.time()
    for event in batch:  # how long each message waited for its stage, since it was produced
        metrics.stage_delay.observe((stage,), started - event.message.timestamp)
    try:
        await watched(stage, len(batch), handle(batch))
    except Exception as exc:
        log.exception("stage %s failed on a batch of %d messages", stage, len(batch))
        exit_worker(
            EXIT_STAGE_FAILED,
            f"stage {stage} failed on a batch of {len(batch)} messages ({exc!r}); "
            f"exiting with status {EXIT_STAGE_FAILED} before they are committed, so a restart processes them "
            "again",
        )


def exit_worker(status: int, message: str) -> None:
    """Log ``message`` and end the process at once: nothing more is committed or written."""
    log.critical(message)
    print(f"python -m stream worker: error: {message}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(status)
