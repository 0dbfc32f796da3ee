"""A wait-time breach driven by events through the real broker: the processor publishes breach
and recovery on the alerts topic, and a real Prometheus server with the shipped rules (their holds
shortened, tests.integration.prometheus_server.HOLD_DIVISOR) fires and resolves
ContactCentreWaitThresholdBreached."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.integration.conftest import Worker, wait_for
from tests.integration.events import make_event, produce
from tests.integration.prometheus_server import Prometheus

pytestmark = pytest.mark.integration

QUEUE = "it-alarm"  # the default wait threshold of 60 s applies (see conftest)
ALERT = "ContactCentreWaitThresholdBreached"


class AlertsTopic:
    """Everything published on the alerts topic about one queue, in order."""

    def __init__(self, worker: Worker, queue: str) -> None:
        self._consumer = KafkaConsumer(
            worker.topics["alerts"],
            bootstrap_servers=worker.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=500,
        )
        self._queue = queue
        self.events: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        for batch in self._consumer.poll(timeout_ms=500).values():
            for message in batch:
                assert message.key is not None
                document = json.loads(message.value)
                if document["queue"] == self._queue:
                    assert message.key.decode() == self._queue
                    self.events.append(document)
        return self.events

    def close(self) -> None:
        self._consumer.close()


def test_wait_breach_fires_and_resolves(worker: Worker, producer: KafkaProducer, prometheus: Prometheus) -> None:
    alerts = AlertsTopic(worker, QUEUE)
    try:
        # Queued 70 s ago and still waiting: above the 60 s threshold from the first evaluation.
        produce(
            producer,
            worker.topics["calls"],
            make_event("contact.queued", "alarm-1", time.time() - 70, queue=QUEUE),
            b"alarm-1",
        )
        producer.flush()

        wait_for(lambda: any(e["state"] == "breach" for e in alerts.poll()), timeout=60)
        breach = alerts.events[0]
        assert breach["state"] == "breach"
        assert (breach["channel"], breach["metric"], breach["window"]) == ("voice", "oldest_waiting_seconds", None)
        assert breach["threshold"] == 60.0
        assert 70 <= breach["value"] < 120
        assert breach["ts"].endswith("Z") and breach["event_id"]

        def firing() -> list[dict[str, Any]]:
            return [a for a in prometheus.alerts(ALERT) if a["labels"]["queue"] == QUEUE and a["state"] == "firing"]

        alert = wait_for(firing, timeout=120)[0]
        assert alert["labels"]["channel"] == "voice"
        assert alert["labels"]["severity"] == "page"
        assert "the queue's threshold is 1m 0s" in alert["annotations"]["description"]

        produce(
            producer,
            worker.topics["calls"],
            make_event("contact.answered", "alarm-1", time.time(), agent_id="a9"),
            b"alarm-1",
        )
        producer.flush()

        wait_for(lambda: any(e["state"] == "recovery" for e in alerts.poll()), timeout=60)
        recovery = alerts.events[-1]
        assert (recovery["metric"], recovery["value"], recovery["threshold"]) == ("oldest_waiting_seconds", 0.0, 60.0)
        # keep_firing_for holds the Prometheus alert a while after the breach ends (HOLD_DIVISOR).
        wait_for(lambda: not [a for a in prometheus.alerts(ALERT) if a["labels"]["queue"] == QUEUE], timeout=60)
        # Hysteresis: one breach, one recovery, nothing in between.
        assert [e["state"] for e in alerts.poll()] == ["breach", "recovery"]
    finally:
        alerts.close()
