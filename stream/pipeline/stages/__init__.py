"""The stream stages, each a Faust agent reading batches of one topic.

1. ``ingest`` (:mod:`.ingest`): raw messages of every input topic -> validated events, one message
   per destination partition per batch (more if it would be too large, ``stream.pipeline.outbox``);
   bad input goes to the dead-letter topic.
2. ``contacts`` (:mod:`.contacts`): call, chat and ticket events -> per-contact and per-ticket state
   (tables) -> facts for the queues, and visits for the customers.
3. ``customers`` (:mod:`.customers`): visits -> per-customer history (table) -> FCR and repeat-contact facts.
4. ``agent-states`` (:mod:`.agent_states`): agent events -> each agent's latest state (table) -> presence per queue.
5. ``queues`` (:mod:`.queues`): facts -> per-queue window aggregates (table) and histograms.
6. ``presence`` (:mod:`.presence`): presence -> agents per queue (table) -> staffing facts for the queues.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from stream.faust_ext.batching import take_ready
from stream.pipeline.exits import run_batch
from stream.pipeline.outbox import Delivery, Origin, unpack
from stream.serving.metrics import Metrics

#: A stage of an internal topic: the batch's messages, decoded, with where each came from.
Stage = Callable[[Sequence[Delivery]], Awaitable[None]]


#: A row of an internal message (a lifecycle step, a visit, a fact, an agent's state) is about this
#: many bytes of JSON: a stage's batch holds about KPI_BATCH_SIZE rows, not KPI_BATCH_SIZE messages
#: of up to thousands of rows each (stream.pipeline.outbox packs up to 256 KB in a message).
ROW_BYTES = 100


def rows_in(event: faust.EventT) -> int:
    """About how many rows an internal message carries, from its size (decoding it to count would
    cost as much as the stage's own decoding)."""
    return 1 + len(event.value) // ROW_BYTES


def origin_of(event: faust.EventT) -> Origin:
    message = event.message
    return f"{message.topic}/{message.partition}", message.offset


def register_ingest(
    app: faust.App,
    inputs: faust.TopicT,
    ingest: Callable[[Sequence[faust.EventT]], Awaitable[None]],
    batch_size: int,
    batch_seconds: float,
    metrics: Metrics,
) -> None:
    @app.agent(inputs, name="ingest")
    async def run(stream: faust.StreamT[bytes]) -> None:
        # One agent over all input topics: a batch mixes sources, so at low rates a batch's
        # messages to the next stages are not multiplied by the number of input topics.
        async for events in take_ready(stream, batch_size, batch_seconds):
            await run_batch("ingest", ingest, events, metrics)


def register_stage(
    app: faust.App,
    topic: faust.TopicT,
    name: str,
    stage: Stage,
    batch_size: int,
    batch_seconds: float,
    metrics: Metrics,
) -> None:
    async def handle(events: Sequence[faust.EventT]) -> None:
        await stage([(unpack(event.value), origin_of(event)) for event in events])

    async def run(stream: faust.StreamT[Any]) -> None:
        # A batch is looked up and written per key, not per message
        # (stream.faust_ext.batching, stream.pipeline.held_writes).
        async for events in take_ready(stream, batch_size, batch_seconds, weight=rows_in):
            await run_batch(name, handle, events, metrics)

    app.agent(topic, name=name)(run)
