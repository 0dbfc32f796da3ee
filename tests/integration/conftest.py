"""Shared fixtures: one embedded broker and one worker process for the whole session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from playwright.sync_api import Browser, Page, sync_playwright

from stream.faust_ext.endoffsets import record_ends
from stream.tools.embedded_broker import EmbeddedBroker, free_port, start_embedded_broker
from tests.integration.processes import tail, wait_until_ready
from tests.integration.prometheus_server import Prometheus, running_prometheus
from tests.integration.scrape import parse_metrics

QUEUE_CONFIG = """\
defaults:
  service_level_seconds: 20
  short_abandon_seconds: 5
  wait_alert_seconds: 60
  targets:  # one per KPI that takes a target, so every dashboard target line has data
    average_wait_seconds: 30
    max_wait_seconds: 120
    abandon_ratio: 0.2
    average_handle_seconds: 300
    fcr_ratio: 0.5
    repeat_contact_ratio: 0.3
    average_first_response_seconds: 120
    average_resolution_seconds: 600
    csat_score: 4.0
    csat_satisfied_ratio: 0.8
    nps_score: 20
    ces_score: 5
    employee_nps_score: 10
queues:
  it-staffing:
    chat_concurrency: 2
  it-sales:
    service_level_seconds: 30
    wait_alert_seconds: 45
    targets:
      abandon_ratio: 0.25
  it-support:
    targets:
      csat_score: 4.2
      fcr_ratio: 0.3
      repeat_contact_ratio: 0.4
      average_first_response_seconds: 60
      average_resolution_seconds: 180
      nps_score: 0
      employee_nps_score: 30
      ces_score: 6.5
"""


@dataclass
class Worker:
    base_url: str
    bootstrap: str
    topics: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]  # the worker's environment: broker, app id and topics

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            # Generous: a worker working through a backlog answers only between batches.
            with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = self.get("/metrics")
        assert status == 200
        return parse_metrics(body.decode())

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def kill(self) -> None:
        """kill -9: no shutdown, no commit, no flush."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_worker(
    broker: EmbeddedBroker,
    workdir: Path,
    app_id: str | None = None,
    topics: dict[str, str] | None = None,
    **settings: str,
) -> Iterator[Worker]:
    """A worker process, healthy when this yields: with an app id and input topics of its own
    unless given (a restarted worker reuses both, and ``workdir``); ``settings`` are extra KPI_*
    variables."""
    with running_workers(broker, WorkerSpec(workdir, app_id, topics, settings)) as [running]:
        yield running


#: Settings of a worker through a large input, whose event loop can be busy for seconds at a time:
#: a longer session timeout than the 5 s of the others (which join their group faster with it).
LOADED = {"KPI_SESSION_TIMEOUT_SECONDS": "10"}


@dataclass
class WorkerSpec:
    """What :func:`running_worker` takes, for :func:`running_workers`."""

    workdir: Path
    app_id: str | None = None
    topics: dict[str, str] | None = None
    settings: dict[str, str] = field(default_factory=dict)


@contextmanager
def running_workers(broker: EmbeddedBroker, *specs: WorkerSpec) -> Iterator[list[Worker]]:
    """Worker processes started together, so that their start-ups and first group joins overlap;
    all healthy when this yields, each as :func:`running_worker` makes it."""
    with ExitStack() as stack:
        workers = [_start_worker(broker, spec) for spec in specs]
        for running in workers:
            stack.callback(running.stop)
        for running in workers:
            wait_until_ready(running.process, running.base_url + "/healthz", running.log_path, "worker", timeout=90)
        yield workers


def _start_worker(broker: EmbeddedBroker, spec: WorkerSpec) -> Worker:
    config = spec.workdir / "queues.yaml"
    config.write_text(QUEUE_CONFIG)
    run = uuid.uuid4().hex[:8]
    topics = spec.topics or new_topics(run)
    port = free_port()
    env = {
        **os.environ,
        "KPI_BROKER": broker.url,
        "KPI_APP_ID": spec.app_id or f"it-{run}",
        "KPI_WEB_PORT": str(port),
        "KPI_WEB_HOST": "127.0.0.1",
        # What the other workers of its group ask for its queues (/api/kpis).
        "KPI_WEB_URL": f"http://127.0.0.1:{port}",
        "KPI_CONFIG": str(config),
        "KPI_DATA_DIR": str(spec.workdir / "data"),
        "KPI_PARTITIONS": "4",
        # A first group join takes about half the session timeout on the embedded broker.
        "KPI_SESSION_TIMEOUT_SECONDS": "5",
        **{f"KPI_TOPIC_{name.upper()}": topic for name, topic in topics.items()},
        **spec.settings,
    }
    log_path = spec.workdir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stream", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Worker(f"http://127.0.0.1:{port}", broker.bootstrap, topics, log_path, process, env)


def new_topics(run: str) -> dict[str, str]:
    names = ("calls", "chats", "tickets", "surveys", "agents", "deadletter", "alerts")
    return {name: f"it-{run}.{name}" for name in names}


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = start_embedded_broker()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    # Its "today" started half a day ago (UTC): tests that date events minutes back and expect
    # every window to hold them cannot straddle the start of a day, whenever they run.
    day_start = time.strftime("%H:%M", time.gmtime(time.time() + 12 * 3600))
    with running_worker(broker, tmp_path_factory.mktemp("worker"), KPI_DAY_START=day_start) as running:
        yield running


@pytest.fixture(scope="session")
def prometheus(worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with running_prometheus(worker.base_url.removeprefix("http://"), tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.fixture(scope="session")
def producer(broker: EmbeddedBroker) -> Iterator[KafkaProducer]:
    kafka = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    yield kafka
    kafka.close(timeout=10)


def wait_for(condition, timeout: float = 60.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns a truthy value; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(interval)


def read_topic(
    bootstrap: str, topic: str, complete: Callable[[list[ConsumerRecord]], bool], timeout: float = 60.0, **options: int
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from its start: read until ``complete(records)``, then on to the
    ends its partitions had at that moment, so that whatever was written with those records (a
    second copy of one, say) is read too; fail after ``timeout``. ``options``: KafkaConsumer's."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"no topic {topic}"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] | None = None
        while ends is None or any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{topic}: {len(records)} records read within {timeout:.0f} s, "
                    + ("not yet complete" if ends is None else f"short of the ends {ends}")
                )
            for batch in consumer.poll(timeout_ms=200).values():
                records += batch
            if ends is None and complete(records):
                # The embedded broker reports the start of a partition's last record batch + 1 as its end.
                ends = asyncio.run(record_ends(bootstrap, consumer.end_offsets(partitions)))
    finally:
        consumer.close()
    return records


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out of a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it (Debian package chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    opened = context.new_page()
    yield opened
    context.close()
