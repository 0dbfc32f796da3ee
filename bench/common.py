"""Shared pieces of the benchmark: the event stream, producing, a worker process and /proc readings."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from stream.config.connection import KafkaConnection
from stream.tools.embedded_broker import EmbeddedBroker, free_port
from stream.tools.simulator import Simulation, SimulationConfig, encode

#: Events per new contact in the simulator's mix with 50 queues (measured: ~7.3 incl. agents, surveys, tickets).
EVENTS_PER_CONTACT = 6.6
QUEUES = tuple(f"queue-{n:02d}" for n in range(50))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
INPUTS = ("calls", "chats", "tickets", "surveys", "agents")
TOPIC_OF_SOURCE = {"voice": "calls", "chat": "chats", "ticket": "tickets", "survey": "surveys", "agent": "agents"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_start_before(ts: float) -> str:
    """A KPI_DAY_START (HH:MM, UTC) a little before ``ts``, so 'today' covers every event after it."""
    return datetime.fromtimestamp(ts - 120, UTC).strftime("%H:%M")


def new_topics(run: str) -> dict[str, str]:
    return {name: f"bench-{run}.{name}" for name in (*INPUTS, "deadletter", "alerts")}


def key_of(source: str, event: dict[str, Any]) -> bytes | None:
    key = event.get("agent_id") if source == "agent" else event.get("contact_id")
    return key.encode() if key else None


# ---------------------------------------------------------------------------------------------
# The prefilled stream


@dataclass
class Dataset:
    """Messages (input name, key, value) in produce order, and what the KPIs must show."""

    messages: list[tuple[str, bytes | None, bytes]]
    offered_by_queue: dict[str, int]  # distinct contact.queued + ticket.created per queue
    invalid: int
    duplicates: int
    contacts: int
    agents: int
    start: float
    end: float
    by_input: dict[str, int] = field(default_factory=dict)

    @property
    def offered(self) -> int:
        """The sum of today's contacts_offered over every queue."""
        return sum(self.offered_by_queue.values())

    @property
    def valid(self) -> int:
        return len(self.messages) - self.invalid


INVALID_VALUES: list[tuple[str, bytes]] = [
    ("calls", b"not json at all"),
    ("chats", b"[1, 2, 3]"),
    ("calls", b'{"event_id": "x-1", "type": "contact.teleported", "ts": "2026-01-01T00:00:00Z", "contact_id": "c"}'),
    ("tickets", b'{"event_id": "x-2", "type": "ticket.created", "contact_id": "t-x"}'),
    ("surveys", b'{"event_id": "x-3", "type": "survey.csat", "ts": "2026-01-01T00:00:00", "queue": "q", "score": 5}'),
    ("agents", b'{"event_id": "x-4", "type": "contact.queued", "ts": "2026-01-01T00:00:00Z", "contact_id": "c"}'),
    ("calls", b"\xff\xfe\x00"),
]


def generate(
    events: int,
    end: float,
    span: float,
    agents: int,
    stats: dict[str, int],
    offered_by_queue: dict[str, int],
    seed: int = 7,
    ticket_share: float = 0.1,
    duplicate_share: float = 0.002,
    invalid: int = 21,
) -> Iterator[tuple[str, bytes | None, bytes]]:
    """A realistic mixed stream of about ``events`` messages whose event times lie in [end - span, end].

    ``stats`` receives: messages, contacts (calls and chats), duplicates, invalid, agents,
    last_ts; ``offered_by_queue``: per queue, the distinct contact.queued and ticket.created (each
    queue's today's contacts_offered).
    """
    contacts = max(10.0, events / EVENTS_PER_CONTACT)
    rate = contacts / span
    config = SimulationConfig(
        rate=rate, queues=QUEUES, agents=max(agents, len(QUEUES)), ticket_rate=rate * ticket_share
    )
    sim = Simulation(config, start=end - span, seed=seed)
    rng = random.Random(seed)
    stats.update(messages=0, contacts=0, duplicates=0, invalid=0, agents=config.agents)
    invalid_share = invalid / max(1, events)
    t = end - span
    step = max(1.0, span / 2000)
    while t < end and stats["messages"] < events:
        t = min(end, t + step)
        for source, event in sim.advance(t):
            name = TOPIC_OF_SOURCE[source]
            message = (name, key_of(source, event), encode(event))
            yield message
            stats["messages"] += 1
            if event["type"] in ("contact.queued", "ticket.created"):
                stats["contacts"] += event["type"] == "contact.queued"
                offered_by_queue[event["queue"]] = offered_by_queue.get(event["queue"], 0) + 1
            if rng.random() < duplicate_share:  # the same message delivered twice
                yield message
                stats["messages"] += 1
                stats["duplicates"] += 1
            if stats["invalid"] < invalid and rng.random() < invalid_share:
                bad_name, value = INVALID_VALUES[stats["invalid"] % len(INVALID_VALUES)]
                yield bad_name, b"bad-%d" % stats["invalid"], value
                stats["messages"] += 1
                stats["invalid"] += 1
            if stats["messages"] >= events:
                break
    while stats["invalid"] < invalid:  # the rest at the end
        bad_name, value = INVALID_VALUES[stats["invalid"] % len(INVALID_VALUES)]
        yield bad_name, b"bad-%d" % stats["invalid"], value
        stats["messages"] += 1
        stats["invalid"] += 1
    stats["last_ts"] = int(t)


def build_dataset(events: int, end: float, span: float, agents: int, seed: int = 7) -> Dataset:
    stats: dict[str, int] = {}
    offered_by_queue: dict[str, int] = {}
    messages = list(generate(events, end, span, agents, stats, offered_by_queue, seed=seed))
    by_input: dict[str, int] = {}
    for name, _, _ in messages:
        by_input[name] = by_input.get(name, 0) + 1
    return Dataset(
        messages,
        offered_by_queue,
        stats["invalid"],
        stats["duplicates"],
        stats["contacts"],
        stats["agents"],
        end - span,
        stats["last_ts"],
        by_input,
    )


def produce_all(bootstrap: str, topics: dict[str, str], messages: Iterable[tuple[str, bytes | None, bytes]]) -> float:
    """Produce every message; return the seconds it took."""
    producer = KafkaProducer(
        **KafkaConnection(bootstrap).client_options(),
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    began = time.monotonic()
    for name, key, value in messages:
        producer.send(topics[name], key=key, value=value)
    producer.flush(timeout=120)
    producer.close(timeout=30)
    return time.monotonic() - began


def live_events(rate_contacts: float, agents: int, seed: int) -> Iterator[tuple[str, bytes | None, dict[str, Any]]]:
    """An endless simulated stream (input name, key, event) whose ``ts`` the sender rewrites to the send time."""
    config = SimulationConfig(
        rate=rate_contacts, queues=QUEUES, agents=max(agents, len(QUEUES)), ticket_rate=rate_contacts * 0.1
    )
    start = 1_000_000.0
    sim = Simulation(config, start=start, seed=seed)
    t = start
    while True:
        t += 10.0
        for source, event in sim.advance(t):
            yield TOPIC_OF_SOURCE[source], key_of(source, event), event


# ---------------------------------------------------------------------------------------------
# /proc


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6


# ---------------------------------------------------------------------------------------------
# The worker


class WorkerFailed(RuntimeError):
    pass


@dataclass
class WorkerProcess:
    env: dict[str, str]
    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def configure(
        cls, broker: EmbeddedBroker, workdir: Path, app_id: str, topics: dict[str, str], **settings: str
    ) -> WorkerProcess:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = {
            **os.environ,
            "KPI_BROKER": broker.url,
            "KPI_APP_ID": app_id,
            "KPI_WEB_PORT": str(port),
            "KPI_WEB_HOST": "127.0.0.1",
            "KPI_DATA_DIR": str(workdir / "data"),
            "KPI_PARTITIONS": "4",
            "KPI_SESSION_TIMEOUT_SECONDS": os.environ.get("BENCH_SESSION_TIMEOUT", "10"),
            "KPI_LOG_LEVEL": "warning",
            # The harness reads /api/kpis to see when events are counted: a snapshot up to a second
            # old would add its age to every latency and throughput figure.
            "KPI_SNAPSHOT_SECONDS": "0",
            **{f"KPI_TOPIC_{name.upper()}": topic for name, topic in topics.items()},
            **settings,
        }
        env.pop("KPI_CONFIG", None)
        return cls(env, workdir, port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        log = (self.workdir / "worker.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stream", "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "worker.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def healthy(self) -> bool:
        try:
            return self.get("/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 120.0, interval: float = 0.1) -> float:
        """Seconds until /healthz said 200."""
        began = time.monotonic()
        while not self.healthy():
            assert self.process is not None
            if self.process.poll() is not None:
                raise WorkerFailed(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() - began > timeout:
                raise WorkerFailed(f"worker not healthy within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(interval)
        return time.monotonic() - began

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        if status != 200:
            raise WorkerFailed(f"/metrics said {status}")
        return body.decode()

    def kpis(self, query: str = "") -> dict[str, Any]:
        status, body = self.get("/api/kpis" + query, timeout=30)
        if status != 200:
            raise WorkerFailed(f"/api/kpis said {status}")
        return json.loads(body)

    def kill(self) -> None:
        """kill -9: no shutdown, no commit, no flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------------------------------------
# Reading /metrics cheaply (a regex per family, not a full parse)

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def counter_sum(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


STAGE_DELAY = "contact_centre_stage_delay_seconds"


def stage_delay_buckets(text: str) -> dict[str, dict[float, float]]:
    """Per stage, the cumulative counts of the worker's stage-delay histogram by bucket edge."""
    buckets: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name == STAGE_DELAY:
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    buckets.setdefault(sample.labels["stage"], {})[float(sample.labels["le"])] = sample.value
    return buckets


def stage_delays_ms(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, dict[str, float]]:
    """Per stage, the messages counted between two scrapes and their p50/p90/p99 delay in ms,
    interpolated within buckets as Prometheus' histogram_quantile does."""
    delays: dict[str, dict[str, float]] = {}
    for stage, counts in after.items():
        delta = {edge: count - before.get(stage, {}).get(edge, 0.0) for edge, count in sorted(counts.items())}
        total = delta[math.inf]
        if total > 0:
            quantiles = {f"p{q}_ms": bucket_quantile(q / 100, delta) * 1000 for q in (50, 90, 99)}
            delays[stage] = {"messages": total, **quantiles}
    return delays


def bucket_quantile(q: float, cumulative: dict[float, float]) -> float:
    rank = q * cumulative[math.inf]
    lower_edge = lower_count = 0.0
    for edge, count in sorted(cumulative.items()):
        if count >= rank:
            if math.isinf(edge):
                return lower_edge  # as histogram_quantile: the highest finite edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / max(1e-12, count - lower_count)
        lower_edge, lower_count = edge, count
    return lower_edge


def gauge_sum(text: str, name: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            head = line[: line.rindex("}")]
            if all(w in head for w in wanted):
                total += float(line.rsplit(" ", 1)[1])
    return total


def short_id() -> str:
    return uuid.uuid4().hex[:8]


def offered_in(document: dict[str, Any], queue: str | None = None, window: str = "today") -> float:
    """Sum of contacts_offered in an /api/kpis document (of one queue when given)."""
    return sum(
        (q["windows"].get(window, {}).get("kpis", {}).get("contacts_offered") or 0)
        for q in document.get("queues", [])
        if queue is None or q["queue"] == queue
    )


#: What an /api/kpis queue entry and agents entry hold that depends on the instant it is read: live
#: ages, and staffing, which models the arrival rate over the window's span at that instant (a channel
#: also learns its agents at the first agent event after its first contact, so when depends on how
#: the stages interleave).
_INSTANT_QUEUE_FIELDS = frozenset({"oldest_waiting_seconds"})
#: The staffing model's outputs read the arrival rate over the time a window's live buckets span now;
#: the agents staffed and available it rests on do not depend on the instant.
_INSTANT_STAFFING_FIELDS = frozenset({"agents_required", "predicted_service_level_ratio", "expected_wait_seconds"})
_INSTANT_AGENT_FIELDS = frozenset({"longest_in_state_seconds"})


def normalised_kpis(document: dict[str, Any]) -> dict[str, Any]:
    """/api/kpis without what depends on the instant it is read: its generation time, the centre (its
    oldest wait), live ages and the staffing model's outputs."""
    document = dict(document)
    document.pop("generated_at", None)
    document.pop("centre", None)
    document["queues"] = [
        {k: _without(v, _INSTANT_STAFFING_FIELDS) if k == "staffing" else v for k, v in q.items()}
        for q in ({k: v for k, v in q.items() if k not in _INSTANT_QUEUE_FIELDS} for q in document["queues"])
    ]
    document["agents"] = [
        {k: v for k, v in a.items() if k not in _INSTANT_AGENT_FIELDS} for a in document.get("agents", [])
    ]
    return document


def _without(fields: dict[str, Any], left_out: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in left_out}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key), b.get(key), f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            label = x.get("queue", n) if isinstance(x, dict) else n
            label = f"{label}/{x.get('channel')}" if isinstance(x, dict) and "channel" in x else label
            out += differences(x, y, f"{path}[{label}]")
        return out
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]
