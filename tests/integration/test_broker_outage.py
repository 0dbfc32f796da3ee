"""The broker goes away: /healthz says so at once, and after KPI_BROKER_OUTAGE_EXIT_SECONDS the
worker exits with status 3 and a clear message, so its supervisor restarts it; restarted once
the broker is back, it consumes again."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import start_embedded_broker
from tests.integration.conftest import new_topics, running_worker, wait_for
from tests.integration.events import make_event, produce
from tests.integration.scrape import series

pytestmark = pytest.mark.integration


def test_outage_is_reported_then_the_worker_exits_and_restarts(tmp_path_factory: pytest.TempPathFactory) -> None:
    broker = start_embedded_broker()  # a broker of its own: this test stops it
    topics = new_topics("outage")
    try:
        with running_worker(
            broker,
            tmp_path_factory.mktemp("outage"),
            app_id="it-outage",
            topics=topics,
            KPI_BROKER_OUTAGE_EXIT_SECONDS="8",
        ) as worker:
            broker.stop()
            started = time.monotonic()

            def unhealthy() -> str | None:
                status, body = worker.get("/healthz")
                return body.decode() if status == 503 else None

            assert "broker unreachable" in wait_for(unhealthy, timeout=10, interval=0.5)
            assert worker.process.wait(timeout=30) == 3
            assert time.monotonic() - started >= 8
            assert "exiting with status 3 so a supervisor restarts the worker" in worker.log_tail(200)

        broker = start_embedded_broker(port=broker.port)  # back (empty: this broker keeps no data)
        with running_worker(broker, tmp_path_factory.mktemp("restarted"), app_id="it-outage", topics=topics) as again:
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
            try:
                produce(
                    producer,
                    topics["calls"],
                    make_event("contact.queued", "o1", time.time() - 5, queue="it-back"),
                    b"o1",
                )
                producer.flush()
            finally:
                producer.close()
            waiting = series("contact_centre_contacts_waiting", queue="it-back", channel="voice")
            assert wait_for(lambda: again.metrics().get(waiting), timeout=60) == 1
    finally:
        broker.stop()
