"""kill -9 a worker in the middle of a stream and start it again: every KPI ends exactly equal to
a worker that processed the same input without a crash (no double counting from re-delivery)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from bench.common import differences, normalised_kpis
from stream.faust_ext.endoffsets import record_ends
from stream.tools.embedded_broker import EmbeddedBroker
from stream.tools.simulator import Simulation, SimulationConfig, encode
from tests.integration.conftest import LOADED, Worker, WorkerSpec, new_topics, running_worker, running_workers, wait_for
from tests.integration.scrape import series

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("heavy")]  # several workers at once (tests/conftest.py)

INPUTS = {"voice": "calls", "chat": "chats", "ticket": "tickets", "survey": "surveys", "agent": "agents"}


def produce_stream(producer: KafkaProducer, topics: dict[str, str], rate: float = 4.0) -> int:
    """About 40 simulated minutes of a busy centre, ending now; returns the number of events."""
    start = time.time() - 2400
    simulation = Simulation(
        SimulationConfig(
            rate=rate, queues=("crash-a", "crash-b", "crash-c"), agents=60, ticket_rate=0.2, customers=400
        ),
        start=start,
        seed=4,
    )
    sent = 0
    for source, event in simulation.advance(time.time() - 1):
        key = event.get("agent_id") if source == "agent" else event.get("contact_id")
        producer.send(topics[INPUTS[source]], key=key.encode() if key else None, value=encode(event))
        sent += 1
    producer.flush()
    return sent


def processed(worker: Worker) -> float:
    metrics = worker.metrics()
    return sum(value for (name, _), value in metrics.items() if name == "contact_centre_events_processed_total")


def unread(worker: Worker) -> list[str]:
    """Partitions whose committed offset in ``worker``'s group is short of the end: where a worker
    that differs is still behind, rather than having lost something."""
    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=worker.bootstrap)
    try:
        group = worker.env["KPI_APP_ID"]
        committed = {tp: meta.offset for tp, meta in admin.list_group_offsets(group)[group].items()}
        # The embedded broker reports the start of a partition's last record batch + 1 as its end.
        ends = asyncio.run(record_ends(worker.bootstrap, consumer.end_offsets(list(committed))))
    finally:
        admin.close()
        consumer.close()
    return [
        f"{tp.topic}[{tp.partition}] committed {committed[tp]}, end {ends[tp]}"
        for tp in sorted(committed)
        if committed[tp] < ends[tp]
    ]


def warnings_in_log(worker: Worker) -> list[str]:
    """The worker's log lines at WARNING and above, alerts left out."""
    lines = worker.log_path.read_text(errors="replace").splitlines()
    return [line for line in lines if re.search(r"\[(WARNING|ERROR|CRITICAL)\]", line) and "] alert " not in line]


def comparable(worker: Worker, query: str = "?local=1") -> dict[str, Any]:
    """The /api/kpis document (by default of the worker's own queues) without what depends on the
    instant it is read."""
    status, body = worker.get("/api/kpis" + query)
    assert status == 200
    return normalised_kpis(json.loads(body))


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
@pytest.mark.timeout(600)  # the wait below has its own limit, and says what differs when it is reached
def test_kill_9_and_restart_counts_everything_exactly_once(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory, store: str
) -> None:
    """With tables in memory the restart replays the changelogs; with RocksDB it reads its files
    and only the changelogs' tail (the files may be ahead of the committed input offsets)."""
    topics = new_topics(uuid.uuid4().hex[:8])
    crash_dir = tmp_path_factory.mktemp("crashing-worker")
    crash_app = f"it-crash-{uuid.uuid4().hex[:8]}"
    crash_settings = {"KPI_STORE": store, **LOADED}
    with running_worker(broker, crash_dir, app_id=crash_app, topics=topics, **crash_settings) as crashing:
        total = produce_stream(producer, topics, rate=2.5)
        assert total > 10_000
        wait_for(lambda: processed(crashing) > total * 0.3, timeout=120, interval=0.2)
        crashing.kill()
    started = time.monotonic()
    if store == "rocksdb":
        assert list(crash_dir.rglob("queues-*.db")), "the tables were not kept on disk"
    clean_dir = tmp_path_factory.mktemp("clean-worker")
    with running_workers(
        broker,
        WorkerSpec(crash_dir, crash_app, topics, crash_settings),
        WorkerSpec(clean_dir, topics=topics, settings=LOADED),
    ) as (restarted, clean):
        offered = series("contact_centre_contacts_offered", queue="crash-a", channel="voice", window="today")
        wait_for(lambda: clean.metrics().get(offered), timeout=120)
        last: list[Any] = []

        def same() -> bool:
            last[:] = [comparable(restarted), comparable(clean)]
            return last[0] == last[1] and bool(last[0]["queues"])

        try:
            wait_for(same, timeout=240, interval=2)
        except BaseException:
            pytest.fail(
                "\n".join(
                    [
                        "restarted and clean workers differ:",
                        *differences(*last)[:30],
                        "not yet committed, restarted:",
                        *unread(restarted),
                        "clean:",
                        *unread(clean),
                        "restarted worker's warnings:",
                        *warnings_in_log(restarted)[-40:],
                    ]
                )
            )
        redelivered = restarted.metrics().get(
            series("contact_centre_facts_redelivered_total", topic=f"{crash_app}-queue-facts"), 0.0
        )
        print(
            f"{store}: {total} events; restarted and equal in {time.monotonic() - started:.0f} s; "
            f"facts skipped as re-delivered: {redelivered:.0f}"
        )
