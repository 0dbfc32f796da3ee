"""A month of a large contact centre through one worker: state, memory, scrape cost and recovery by day.

The other phases run minutes of traffic with retention shortened; a deployment lives with the
default retention (tickets 30 days after their last event, each customer's contacts for the 7-day
FCR lookback), so its state grows for a month before it levels off. This phase drives 30 simulated
days through one worker in event time (KPI_CLOCK=event, so retention turns over as the days pass)
with the default retention, one day at a time as fast as the worker takes it, and after each day
records the worker's RSS, each table's live keys and bytes and its changelog's records, the time to
build /metrics and /api/kpis, the longest event-loop stall and the day's events per second.
At the end it kills the worker (SIGKILL) and times recovery to identical KPIs: from the changelogs
into memory, then into an empty RocksDB store, then from that RocksDB store. The embedded broker
does not compact, so those changelogs are a copy holding what Apache Kafka's compaction keeps (each
live key's latest record); ``uncompacted`` also times the memory store on the month's every record.

A full day is 100,000 calls and chats and 20,000 tickets; ``scale`` shrinks the contacts and the
customer base together (agents and queues stay), so growth per day and the levels state settles at
scale with it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from bench.common import (
    INPUTS,
    TOPIC_OF_SOURCE,
    WorkerFailed,
    WorkerProcess,
    counter_sum,
    differences,
    key_of,
    log,
    new_topics,
    normalised_kpis,
    proc_cpu_seconds,
    proc_rss_mb,
    short_id,
)
from stream.config.connection import KafkaConnection
from stream.config.settings import Settings
from stream.faust_ext.endoffsets import record_ends
from stream.pipeline.tables import TABLE_NAMES, changelog_topic_name
from stream.pipeline.topics import INTERNAL
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker
from stream.tools.simulator import Simulation, SimulationConfig, encode

DAY = 86_400.0
FULL_DAY_CONTACTS = 100_000
FULL_DAY_TICKETS = 20_000
#: Customers per daily contact. Each contact picks a customer at random, so the share of contacts
#: whose customer had another within 7 days is 1 - exp(-7 / 30), about 21 %: a realistic repeat rate.
CUSTOMERS_PER_DAILY_CONTACT = 30
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
#: The simulator is advanced in steps of this many simulated seconds.
STEP_SECONDS = 60.0
STALL = "contact_centre_event_loop_stall_seconds"
#: After each day: how long the worker is watched with nothing to process.
IDLE_SECONDS = 15.0
LONGEST_STALL = "contact_centre_event_loop_stall_longest_seconds"


@dataclass(frozen=True)
class MonthPlan:
    days: int = 30
    scale: float = 0.1
    agents: int = 5000
    queues: int = 200

    @property
    def contacts_per_day(self) -> int:
        return round(FULL_DAY_CONTACTS * self.scale)

    @property
    def tickets_per_day(self) -> int:
        return round(FULL_DAY_TICKETS * self.scale)

    @property
    def customers(self) -> int:
        return CUSTOMERS_PER_DAILY_CONTACT * (self.contacts_per_day + self.tickets_per_day)


#: An input message: the input's name, its key and value.
Message = tuple[str, bytes | None, bytes]


@dataclass
class Day:
    number: int
    messages: list[Message]
    offered: int  # contacts queued and tickets created, by event time within the day


def simulated_days(plan: MonthPlan, seed: int = 30) -> Iterator[Day]:
    """The month's events, a day at a time (UTC days from :data:`MONTH_START`)."""
    config = SimulationConfig(
        rate=plan.contacts_per_day / DAY,
        queues=tuple(f"queue-{n:03d}" for n in range(plan.queues)),
        agents=plan.agents,
        ticket_rate=plan.tickets_per_day / DAY,
        customers=plan.customers,
    )
    sim = Simulation(config, start=MONTH_START, seed=seed)
    for number in range(1, plan.days + 1):
        end = MONTH_START + number * DAY
        day = Day(number, [], 0)
        t = end - DAY
        while t < end:
            t = min(end, t + STEP_SECONDS)
            for source, event in sim.advance(t):
                day.messages.append((TOPIC_OF_SOURCE[source], key_of(source, event), encode(event)))
                day.offered += event["type"] in ("contact.queued", "ticket.created")
        yield day


@dataclass
class Census:
    """The changelogs read to their ends: per table, the live keys with their partition and latest
    value (what a compacted changelog keeps, and what recovery must read at least), and a count of
    every record."""

    bootstrap: str
    app_id: str
    partitions: int
    live: dict[str, dict[bytes, tuple[int, bytes]]] = field(default_factory=lambda: {n: {} for n in TABLE_NAMES})
    records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    record_bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    _consumer: KafkaConsumer | None = None

    def read(self, timeout: float = 300.0) -> dict[str, dict[str, int]]:
        consumer = self._consumer or self._start()
        partitions = list(consumer.assignment())
        ends = asyncio.run(record_ends(self.bootstrap, consumer.end_offsets(partitions)))
        deadline = time.monotonic() + timeout
        table_of = {changelog_topic_name(self.app_id, name): name for name in TABLE_NAMES}
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise WorkerFailed(f"changelogs not read to their ends within {timeout:.0f} s")
            for tp, batch in consumer.poll(timeout_ms=500, max_records=50_000).items():
                name = table_of[tp.topic]
                live = self.live[name]
                for record in batch:
                    self.records[name] += 1
                    self.record_bytes[name] += len(record.value or b"") + len(record.key or b"")
                    if record.value is None:
                        live.pop(record.key, None)
                    else:
                        live[record.key] = (tp.partition, record.value)
        return {
            name: {
                "keys": len(self.live[name]),
                "bytes": sum(len(key) + len(value) for key, (_, value) in self.live[name].items()),
                "changelog_records": self.records[name],
                "changelog_bytes": self.record_bytes[name],
            }
            for name in TABLE_NAMES
        }

    def _start(self) -> KafkaConsumer:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        consumer.assign(
            [
                TopicPartition(changelog_topic_name(self.app_id, name), p)
                for name in TABLE_NAMES
                for p in range(self.partitions)
            ]
        )
        consumer.seek_to_beginning()
        self._consumer = consumer
        return consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


def consumed_partitions(topics: dict[str, str], app_id: str, partitions: int) -> list[TopicPartition]:
    """Every partition the worker's group reads: the inputs (4 partitions here) and the internal topics."""
    inputs = [TopicPartition(topics[name], p) for name in INPUTS for p in range(4)]
    internal = [TopicPartition(f"{app_id}-{suffix}", p) for suffix in INTERNAL.values() for p in range(partitions)]
    return inputs + internal


def caught_up(
    admin: KafkaAdminClient, probe: KafkaConsumer, bootstrap: str, group: str, partitions: list[TopicPartition]
) -> bool:
    """Whether the group has committed every record of ``partitions``: every stage is done with
    them, and their effects are in the changelogs (the worker flushes its held writes first)."""
    committed = admin.list_group_offsets({group: partitions}).get(group, {})
    probe.topics()  # fresh metadata: the worker creates its internal topics after the probe started
    ends = asyncio.run(record_ends(bootstrap, probe.end_offsets(partitions)))
    return all(
        end == 0 or (tp in committed and committed[tp] is not None and committed[tp].offset >= end)
        for tp, end in ends.items()
        if end is not None
    )


def stalls_over(text: str, seconds: float) -> float:
    """Stalls longer than ``seconds`` (a bucket edge) counted by the worker's histogram."""
    edge = re.search(rf'^{STALL}_bucket\{{le="{seconds}"\}} (\S+)$', text, re.M)
    total = re.search(rf"^{STALL}_count (\S+)$", text, re.M)
    return float(total.group(1)) - float(edge.group(1)) if edge and total else 0.0


def gauge_value(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def timed_ms(worker: WorkerProcess, path: str, times: int = 3) -> list[float]:
    """Milliseconds each of ``times`` requests for ``path`` took on an idle worker: the first builds
    every queue the day changed, the others what changed since (nothing, unless a window moved)."""
    took = []
    for _ in range(times):
        began = time.perf_counter()
        status, _ = worker.get(path, timeout=60)
        if status != 200:
            raise WorkerFailed(f"{path} answered {status}")
        took.append(round((time.perf_counter() - began) * 1000, 1))
    return took


@dataclass
class Month:
    """The worker of the month and what is needed to feed and watch it."""

    broker: EmbeddedBroker
    worker: WorkerProcess
    topics: dict[str, str]
    app_id: str
    partitions: int
    producer: KafkaProducer
    admin: KafkaAdminClient
    probe: KafkaConsumer
    census: Census
    #: The longest stall the worker reported while the current day was being processed.
    day_longest_stall: float = 0.0

    def send(self, messages: list[Message]) -> None:
        for name, key, value in messages:
            self.producer.send(self.topics[name], key=key, value=value)
        self.producer.flush(timeout=300)

    def wait_caught_up(self, timeout: float) -> None:
        partitions = consumed_partitions(self.topics, self.app_id, self.partitions)
        deadline = time.monotonic() + timeout
        while not caught_up(self.admin, self.probe, self.broker.bootstrap, self.app_id, partitions):
            if self.worker.process is not None and self.worker.process.poll() is not None:
                raise WorkerFailed(f"worker exited:\n{self.worker.log_tail()}")
            if time.monotonic() > deadline:
                raise WorkerFailed(f"worker did not catch up within {timeout:.0f} s:\n{self.worker.log_tail()}")
            self.watch_stalls()
            time.sleep(1.0)
        self.watch_stalls()

    def idle_stalls(self, seconds: float = IDLE_SECONDS) -> float:
        """Stalls over 100 ms while the worker has nothing to process (expiry rounds, write-outs,
        commits) and is scraped and asked for its KPIs every 5 s, as by Prometheus and a wallboard."""
        before = stalls_over(self.worker.metrics_text(), 0.1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(5)
            self.worker.get("/api/kpis", timeout=60)
        return stalls_over(self.worker.metrics_text(), 0.1) - before

    def watch_stalls(self) -> None:
        """The worker's longest stall of the last minute, kept when it is the day's longest so far
        (polled every second or so, well within that minute)."""
        try:
            text = self.worker.metrics_text()
        except (OSError, WorkerFailed):
            return
        self.day_longest_stall = max(self.day_longest_stall, gauge_value(text, LONGEST_STALL))


def measure_month(
    broker: EmbeddedBroker, workdir: Path, plan: MonthPlan, partitions: int = 4, uncompacted: bool = False
) -> dict[str, Any]:
    run = short_id()
    topics = new_topics(run)
    create_topics(KafkaConnection(broker.bootstrap), [topics[name] for name in INPUTS], 4)
    app_id = f"bench-{run}-month"
    worker = WorkerProcess.configure(
        broker,
        workdir / "month",
        app_id,
        topics,
        KPI_CLOCK="event",
        KPI_STORE="memory",
        KPI_PARTITIONS=str(partitions),
        KPI_DAY_START="00:00",
    )
    month = Month(
        broker,
        worker,
        topics,
        app_id,
        partitions,
        KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=256 * 1024),
        KafkaAdminClient(bootstrap_servers=broker.bootstrap),
        KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False),
        Census(broker.bootstrap, app_id, partitions),
    )
    days: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "simulated_days": plan.days,
        "scale": plan.scale,
        "agents": plan.agents,
        "queues": plan.queues,
        "contacts_per_day": plan.contacts_per_day,
        "tickets_per_day": plan.tickets_per_day,
        "customers": plan.customers,
        "days": days,
    }
    worker.start()
    try:
        worker.wait_healthy(timeout=180)
        events = 0
        last_message: Message | None = None
        for day in simulated_days(plan):
            month.day_longest_stall = 0.0
            text = worker.metrics_text()
            stalls_before = stalls_over(text, 0.1)
            cpu_before = proc_cpu_seconds(worker.pid)
            began = time.monotonic()
            month.send(day.messages)
            month.wait_caught_up(timeout=600 + len(day.messages) / 100)
            seconds = time.monotonic() - began
            events += len(day.messages)
            last_message = day.messages[-1]  # the simulator emits in event-time order
            text = worker.metrics_text()
            record = {
                "day": day.number,
                "events": len(day.messages),
                "offered": day.offered,
                "seconds": round(seconds, 1),
                "events_per_s": round(len(day.messages) / seconds),
                "cpu_s": round(proc_cpu_seconds(worker.pid) - cpu_before, 1),
                "rss_mb": round(proc_rss_mb(worker.pid), 1),
                "metrics_ms": timed_ms(worker, "/metrics"),
                "kpis_ms": timed_ms(worker, "/api/kpis"),
                "longest_stall_ms": round(month.day_longest_stall * 1000),
                "stalls_over_100ms": stalls_over(text, 0.1) - stalls_before,
                "tables": month.census.read(),
                "idle_stalls_over_100ms": month.idle_stalls(),
            }
            days.append(record)
            keys = {name: t["keys"] for name, t in record["tables"].items()}
            log(
                f"month day {day.number}: {len(day.messages)} events in {seconds:.0f} s, RSS {record['rss_mb']} MB, "
                f"/metrics {record['metrics_ms']} ms, /api/kpis {record['kpis_ms']} ms, "
                f"longest stall {record['longest_stall_ms']} ms, keys {keys}"
            )
        assert last_message is not None
        result["events"] = events
        result["processed_total"] = counter_sum(worker.metrics_text(), "contact_centre_events_processed_total")
        result.update(by_day(days))
        if len(days) >= 3:
            result["rss_fit"] = rss_per_key(days)
        result.update(measure_recoveries(month, last_message, uncompacted))
    finally:
        worker.stop()
        month.census.close()
        month.probe.close()
        month.admin.close()
        month.producer.close(timeout=30)
    return result


def rss_per_key(days: list[dict[str, Any]]) -> dict[str, float]:
    """RSS as a base plus so many bytes per kept customer and per kept ticket: a least-squares fit
    over the days (the other tables level off within a day, so they are part of the base)."""
    import numpy as np  # with matplotlib, for the bench only

    rows = np.array([[1.0, d["tables"]["customers"]["keys"], d["tables"]["tickets"]["keys"]] for d in days])
    rss = np.array([d["rss_mb"] * 1e6 for d in days])
    (base, per_customer, per_ticket), *_ = np.linalg.lstsq(rows, rss, rcond=None)
    residual = rss - rows @ np.array([base, per_customer, per_ticket])
    return {
        "base_mb": round(base / 1e6, 1),
        "bytes_per_customer": round(per_customer),
        "bytes_per_ticket": round(per_ticket),
        "largest_residual_mb": round(float(np.abs(residual).max()) / 1e6, 1),
    }


def by_day(days: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-day series BENCHMARKS.md and the plot read."""
    return {
        "rss_mb_by_day": [d["rss_mb"] for d in days],
        "state_keys_by_day": [{name: t["keys"] for name, t in d["tables"].items()} for d in days],
        "state_bytes_by_day": [{name: t["bytes"] for name, t in d["tables"].items()} for d in days],
        "changelog_records_by_day": [{name: t["changelog_records"] for name, t in d["tables"].items()} for d in days],
        "metrics_build_ms_by_day": [d["metrics_ms"][0] for d in days],
        "metrics_rebuild_ms_by_day": [min(d["metrics_ms"][1:]) for d in days],
        "kpis_build_ms_by_day": [d["kpis_ms"][0] for d in days],
        "max_stall_ms_by_day": [d["longest_stall_ms"] for d in days],
        "idle_stalls_over_100ms_by_day": [d["idle_stalls_over_100ms"] for d in days],
        "events_per_s_by_day": [d["events_per_s"] for d in days],
    }


@dataclass
class Recovery:
    healthz_s: float | None
    equal_s: float | None
    differences: list[str]


def restart(month: Month, store: str, before: dict[str, Any], nudge: Message) -> Recovery:
    """Kill the worker, start it with ``store`` and time it to /healthz and to the KPIs it had.

    In event time a restarted worker's clock reads 0 until it reads an event, so it is sent the
    month's last event again: a duplicate, which changes no state and brings the clock back to
    where it was."""
    worker = month.worker
    worker.kill()
    killed = time.monotonic()
    worker.env["KPI_STORE"] = store
    worker.start()
    month.send([nudge])
    try:
        worker.wait_healthy(timeout=900)
    except WorkerFailed:
        return Recovery(None, None, ["not healthy within 900 s"])
    healthz = time.monotonic() - killed
    diff: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            after = normalised_kpis(worker.kpis())
        except (OSError, WorkerFailed):
            time.sleep(0.5)
            continue
        if after == before:
            return Recovery(round(healthz, 1), round(time.monotonic() - killed, 1), [])
        diff = differences(before, after)
        time.sleep(0.5)
    return Recovery(round(healthz, 1), None, diff)


def compacted_copy(month: Month, app_id: str) -> None:
    """Changelogs for ``app_id`` holding what Apache Kafka's compaction keeps of the worker's: each
    live key's latest record, in its partition (the embedded broker does not compact). The new
    group's input offsets are the worker's, so it goes on from where the worker was."""
    names = [changelog_topic_name(app_id, table) for table in TABLE_NAMES]
    create_topics(KafkaConnection(month.broker.bootstrap), names, month.partitions)
    for table in TABLE_NAMES:
        topic = changelog_topic_name(app_id, table)
        for key, (partition, value) in month.census.live[table].items():
            month.producer.send(topic, key=key, value=value, partition=partition)
    month.producer.flush(timeout=300)
    inputs = consumed_partitions(month.topics, month.app_id, month.partitions)[: len(INPUTS) * 4]
    committed = month.admin.list_group_offsets({month.app_id: inputs})[month.app_id]
    month.admin.alter_group_offsets(app_id, {tp: OffsetAndMetadata(o.offset, "", -1) for tp, o in committed.items()})
    month.worker.env["KPI_APP_ID"] = app_id


def measure_recoveries(month: Month, nudge: Message, uncompacted: bool) -> dict[str, Any]:
    """Kill the worker and time its recovery to the KPIs it had, with the memory store (every
    changelog read), into an empty RocksDB store (likewise) and from that store (its own offsets).

    Those read changelogs as compaction leaves them (:func:`compacted_copy`); with ``uncompacted``
    the memory store is also timed on the embedded broker's changelogs, every record of the month."""
    worker = month.worker
    # A commit interval on: every held state written, and (RocksDB) the store's offsets with them.
    settle = float(
        worker.env.get("KPI_COMMIT_INTERVAL_SECONDS", Settings.model_fields["commit_interval_seconds"].default)
    )
    time.sleep(settle + 1)
    before = normalised_kpis(worker.kpis())
    worker.kill()
    out: dict[str, Any] = {"recovery_s": {}, "recovery_kpis_equal": {}, "recovery_healthz_s": {}, "differences": {}}
    out["changelog_at_kill"] = month.census.read()
    plan = [("memory", "memory"), ("rocksdb_from_changelog", "rocksdb"), ("rocksdb", "rocksdb")]
    if uncompacted:
        plan.insert(0, ("memory_uncompacted", "memory"))
    for label, store in plan:
        if label == "memory":
            compacted_copy(month, f"{month.app_id}-compacted")
        recovery = restart(month, store, before, nudge)
        out["recovery_healthz_s"][label] = recovery.healthz_s
        out["recovery_s"][label] = recovery.equal_s
        out["recovery_kpis_equal"][label] = recovery.equal_s is not None
        out["differences"][label] = recovery.differences[:20]
        log(
            f"month recovery ({label}): healthy after {recovery.healthz_s} s, KPIs equal after {recovery.equal_s} s"
            + (f", differences {recovery.differences[:3]}" if recovery.differences else "")
        )
        if label == "rocksdb_from_changelog":
            time.sleep(settle + 1)
    worker.kill()
    return out
