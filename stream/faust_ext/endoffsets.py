"""Where each partition really ends: the offset after its last record.

Faust recovers a table by reading its changelog up to the end offset the broker reports. The
embedded broker reports the first offset of a partition's last record batch + 1 instead, so
recovery would stop inside the last batch and a table would miss its latest writes (and a
RocksDB table would look ahead of its changelog). Reading the record at the reported end - 1
returns its whole batch and so the real end; on Apache Kafka it returns just that record and
changes nothing.

Only aiokafka's public consumer is used here; ``stream.faust_ext.consumer`` hands the result to
recovery through ``AIOKafkaConsumerThread._highwaters``. The ends are keyed by Faust's ``TP``,
which equals aiokafka's ``TopicPartition`` (``tests/unit/faust_ext/test_internals.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

Partition = TypeVar("Partition", bound=tuple[str, int])

log = logging.getLogger(__name__)

#: How long to wait for the last records before keeping the reported ends.
READ_TIMEOUT_SECONDS = 5.0


async def record_ends(
    bootstrap: list[str] | str,
    reported: Mapping[Partition, int],
    timeout: float = READ_TIMEOUT_SECONDS,
    auth: Mapping[str, Any] | None = None,
) -> dict[Partition, int]:
    """The reported end offsets, corrected to just after the last record where that is later;
    ``auth``: the client's TLS and SASL options (aiokafka's keyword arguments)."""
    ends = dict(reported)
    pending = {tp for tp, end in reported.items() if end is not None and end > 0}
    if not pending:
        return ends
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100, **(auth or {})
    )
    await consumer.start()
    try:
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, reported[tp] - 1)
        deadline = asyncio.get_running_loop().time() + timeout
        while pending and asyncio.get_running_loop().time() < deadline:
            # aiokafka's TopicPartition and Faust's TP are equal named tuples: either finds the key.
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                if records:
                    ends[tp] = max(ends[tp], records[-1].offset + 1)  # type: ignore[index]
                    pending.discard(tp)  # type: ignore[arg-type]
    finally:
        await consumer.stop()
    if pending:
        # On Apache Kafka a partition whose last offset is a transaction marker has no record to
        # read there, and its reported end is right. On the embedded broker this means recovery
        # stops inside the last record batch of these partitions.
        log.warning(
            "no record read at the reported end - 1 within %g s, keeping the reported end of %s",
            timeout,
            ", ".join(f"{tp[0]}[{tp[1]}]" for tp in sorted(pending)),
        )
    return ends
