"""Compressed record batches from a librdkafka producer count exactly like uncompressed ones (SPEC §3)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from confluent_kafka import KafkaError, Message, Producer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import Worker, new_topics, running_worker, wait_for
from tests.integration.events import make_event
from tests.integration.scrape import series
from tests.integration.test_crash_recovery import differences, warnings_in_log

pytestmark = pytest.mark.integration

#: librdkafka's ``compression.type`` -> the codec id in a record batch's attributes (bits 0-2).
CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4, "none": 0}
REFERENCE = "none"
#: Contacts per queue: about 200 events, so that each partition's batch holds many records.
CONTACTS = 70
#: Input topic (a key of conftest.new_topics) -> channel of its contacts.
CHANNELS = {"calls": "voice", "chats": "chat"}


def queue_of(codec: str) -> str:
    return f"cmp-{codec}"


def codec_of(contact_id: str) -> str:
    return contact_id.rsplit("-", 1)[0].removeprefix("cmp-")


def contact_events(queue: str, base: int) -> list[tuple[str, dict[str, Any]]]:
    """(input topic, event) of the same contacts for every queue, in the order produced: only the
    queue and the ids differ. Whole-second times keep every wait and handle time exact, so the
    sums do not depend on the order the worker adds them in."""
    events = []
    for i in range(CONTACTS):
        contact = f"{queue}-{i}"
        topic = "chats" if i % 3 == 2 else "calls"
        queued = base + 2 * i
        # One customer per contact: FCR and repeat contacts then do not depend on which queue's
        # contacts the worker reads first.
        lifecycle = [make_event("contact.queued", contact, queued, queue=queue, customer_id=f"{contact}-customer")]
        outcome = i % 7
        if outcome == 5:  # abandoned, some within the 5 s of a short abandon
            lifecycle.append(make_event("contact.abandoned", contact, queued + (i * 3) % 12))
        elif outcome < 5:  # answered within and beyond the 20 s service level
            answered = queued + (i * 13) % 50
            lifecycle.append(make_event("contact.answered", contact, answered, agent_id=f"{queue}-agent-{i % 6}"))
            if outcome < 4:  # talked, wrapped; outcome 4 is still talking
                ended = answered + 20 + (i * 17) % 90
                lifecycle.append(make_event("contact.ended", contact, ended, hold_seconds=i % 3 * 5))
                lifecycle.append(make_event("contact.wrapped", contact, ended + 3 + i % 10, resolved=i % 4 != 0))
        # outcome 6: still waiting
        events += [(topic, event) for event in lifecycle]
    return events


def produce_compressed(
    bootstrap: str, codec: str, topics: dict[str, str], events: list[tuple[str, dict[str, Any]]]
) -> None:
    """Produce ``events`` with librdkafka compressing every batch with ``codec``; fail on any
    delivery error, such as a broker refusing the batch."""
    # The linger lets each partition's events gather into one batch before it is compressed and sent.
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 50})
    errors: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            errors.append(f"{message.topic()}[{message.partition()}]: {error}")

    for topic, event in events:
        producer.produce(
            topics[topic], key=event["contact_id"].encode(), value=json.dumps(event).encode(), on_delivery=delivered
        )
    assert producer.flush(30) == 0, f"{codec}: messages still undelivered"
    assert not errors, f"{codec}: the broker refused batches: {errors[:5]}"


async def stored_batches(bootstrap: str, topic: str) -> list[tuple[int, list[bytes]]]:
    """Every record batch of ``topic`` as the broker keeps it: its codec id and its records' keys.

    A consumer decompresses without saying how a batch came, so this sends Fetch requests itself
    and reads the batch headers: the only way to know the worker's consumer was given compressed
    batches, rather than ones the broker (or the producer) left uncompressed."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
        batches = []
        for partition in sorted(cluster.partitions_for_topic(topic)):
            leader = cluster.leader_for_partition(TopicPartition(topic, partition))
            offset, more = 0, True
            while more:
                request = FetchRequest(100, 1, 1 << 20, 0, [(topic, [(partition, offset, 1 << 20)])])
                response = await client.send(leader, request)
                [(_, [(_, error_code, *_, records)])] = response.topics
                assert error_code == 0, f"fetch {topic}[{partition}] at {offset}: error {error_code}"
                more = False
                fetched = MemoryRecords(records)
                while (batch := fetched.next_batch()) is not None:
                    batches.append((batch.compression_type, [record.key for record in batch]))
                    offset, more = batch.next_offset, True
        return batches
    finally:
        await client.close()


def arrived(worker: Worker, expected: dict[str, Counter[str]], topics: dict[str, str]) -> list[str]:
    """What the worker has not taken in yet: per queue and channel, each count it shows that
    differs from ``expected`` (by event type), and the valid events read per input topic."""
    metrics = worker.metrics()
    missing = []
    for topic, channel in CHANNELS.items():
        types = expected[channel]
        processed = metrics.get(series("contact_centre_events_processed_total", topic=topics[topic]), 0.0)
        if processed != types.total() * len(CODECS):
            missing.append(f"{topic}: {processed:.0f} of {types.total() * len(CODECS)} events read")
        waits = types["contact.answered"] + types["contact.abandoned"]
        for codec in CODECS:
            labels = {"queue": queue_of(codec), "channel": channel}
            counts = {  # every event type shows in one of these
                series("contact_centre_contacts_offered", **labels, window="15m"): types["contact.queued"],
                series("contact_centre_wait_seconds_count", **labels): waits,
                series("contact_centre_handle_seconds_count", **labels): types["contact.wrapped"],
                series("contact_centre_contacts_waiting", **labels): types["contact.queued"] - waits,
            }
            missing += [
                f"{codec}/{channel}: {key[0]} {metrics.get(key)} != {count}"
                for key, count in counts.items()
                if metrics.get(key) != count
            ]
    return missing


def test_every_codec_gives_the_kpis_of_uncompressed_input(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    topics = new_topics(f"cmp-{uuid.uuid4().hex[:8]}")
    with running_worker(broker, tmp_path_factory.mktemp("compression"), topics=topics) as worker:
        base = int(time.time()) - 330  # every event in the last 5.5 minutes, inside the 15m window
        produced: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for codec in CODECS:
            produced[codec] = contact_events(queue_of(codec), base)
            produce_compressed(worker.bootstrap, codec, topics, produced[codec])

        stored = (stored_batches(worker.bootstrap, topics[topic]) for topic in CHANNELS)
        batches = [batch for fetch in stored for batch in asyncio.run(fetch)]
        records: Counter[str] = Counter()
        largest: Counter[str] = Counter()
        for compression, keys in batches:
            (codec,) = {codec_of(key.decode()) for key in keys}  # a batch comes from one producer
            assert compression == CODECS[codec], f"a {codec} batch is stored with codec id {compression}"
            records[codec] += len(keys)
            largest[codec] = max(largest[codec], len(keys))
        assert records == {codec: len(events) for codec, events in produced.items()}
        assert all(largest[codec] > 1 for codec in CODECS), f"records in the largest batch: {dict(largest)}"

        expected: dict[str, Counter[str]] = {channel: Counter() for channel in CHANNELS.values()}
        for topic, event in produced[REFERENCE]:
            expected[CHANNELS[topic]][event["type"]] += 1
        missing: list[str] = []

        def complete() -> bool:
            try:
                missing[:] = arrived(worker, expected, topics)
            except OSError as exc:  # a worker stopping after a crash no longer answers
                missing[:] = [f"/metrics did not answer: {exc}"]
            return not missing or worker.process.poll() is not None

        try:
            wait_for(complete, timeout=90)
        except pytest.fail.Exception:
            pytest.fail(
                "\n".join(
                    [
                        "the worker did not take in every queue's events:",
                        *missing[:20],
                        "worker's warnings:",
                        *warnings_in_log(worker)[-20:],
                    ]
                )
            )
        # A codec the worker's Kafka client cannot read stops its consumer, and the worker with it.
        assert worker.process.poll() is None, "\n".join(["the worker exited:", *warnings_in_log(worker)[:5]])

        status, body = worker.get("/api/kpis")  # one document: every queue at the same instant
        assert status == 200, body
        entries = {(entry.pop("queue"), entry["channel"]): entry for entry in json.loads(body)["queues"]}
        for channel in CHANNELS.values():
            reference = entries[queue_of(REFERENCE), channel]
            window = reference["windows"]["15m"]["kpis"]
            assert window["contacts_offered"] == expected[channel]["contact.queued"]
            assert window["average_handle_seconds"] is not None and window["service_level_ratio"] is not None
            for codec in CODECS:
                # Every window, target verdict and live gauge, not only the 15m window's KPIs.
                entry = entries[queue_of(codec), channel]
                assert entry == reference, "\n".join([f"{codec}/{channel} != none:", *differences(entry, reference)])

        invalid = {
            labels: value
            for (name, labels), value in worker.metrics().items()
            if name == "contact_centre_events_invalid_total"
            and value
            and dict(labels)["topic"] in (topics["calls"], topics["chats"])
        }
        assert not invalid, f"compressed input counted invalid: {invalid}"
