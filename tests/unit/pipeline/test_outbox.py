"""Packing a batch's rows into messages under the size limit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.ingest.partitioning import partition_for
from stream.kpi.facts import Fact
from stream.pipeline.outbox import Outbox, encode, pack, unpack

rows = st.lists(st.lists(st.text(max_size=30), max_size=8), max_size=60)


@given(rows, st.integers(min_value=2, max_value=400))
def test_packed_messages_hold_every_row_in_order_and_stay_under_the_limit(batch: list[Any], limit: int) -> None:
    messages = list(pack(map(encode, batch), limit))
    assert [row for message in messages for row in unpack(message)] == batch
    for message in messages:
        # Only a row too large for any message travels alone.
        assert len(message) <= limit or len(unpack(message)) == 1


def test_a_batch_that_fits_is_one_message() -> None:
    assert list(pack(map(encode, [[1], [2], [3]]), 1000)) == [b"[[1],[2],[3]]"]
    assert list(pack(iter([]), 1000)) == []


@dataclass(eq=False)
class RecordingTopic:
    sent: list[tuple[int, bytes]] = field(default_factory=list)

    async def send(self, value: bytes, partition: int) -> asyncio.Future[None]:
        self.sent.append((partition, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_facts_of_one_origin_and_queue_stay_in_one_section() -> None:
    """The queue stage counts an origin once per queue, so a section must never be split; the
    sections of one origin may go in different messages."""
    topic = RecordingTopic()
    outbox = Outbox(partitions=1, message_bytes=600)
    facts = [Fact("offered", f"queue-{n % 3}", "voice", f"c{n}", 1000.0 + n) for n in range(30)]
    outbox.add_facts(topic, facts, origin=("contact-events/0", 7))  # type: ignore[arg-type]
    asyncio.run(outbox.send())
    assert len(topic.sent) > 1
    sections = [section for _, message in topic.sent for section in unpack(message)]
    assert sorted(len(section["facts"]) for section in sections) == [10, 10, 10]
    assert {tuple(section["origin"]) for section in sections} == {("contact-events/0", 7)}
    assert all({row[1] for row in section["facts"]} == {section["facts"][0][1]} for section in sections)


@pytest.mark.parametrize("partitions", [1, 4])
def test_rows_go_to_the_partition_of_their_key(partitions: int) -> None:
    topic = RecordingTopic()
    outbox = Outbox(partitions=partitions, message_bytes=100)
    for n in range(40):
        outbox.add(topic, f"agent-{n}", {"agent": f"agent-{n}"})  # type: ignore[arg-type]
    asyncio.run(outbox.send())
    received = sorted((row["agent"], partition) for partition, message in topic.sent for row in unpack(message))
    assert received == sorted((f"agent-{n}", partition_for(f"agent-{n}", partitions)) for n in range(40))
    assert all(len(message) <= 100 for _, message in topic.sent)
