"""Groups of queues add up: a real Prometheus server, with the shipped recording rules, scraping a
real worker fed through the broker, gives a group's service level, abandon rate and ASA as the
worker's single-queue counts combined by hand (ratios of sums, not means of ratios); an agent
serving two queues is one agent in contact_centre_agents_distinct."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import Worker, running_worker, wait_for
from tests.integration.events import make_agent_state, make_event, produce
from tests.integration.prometheus_server import Prometheus, running_prometheus
from tests.integration.scrape import series

pytestmark = pytest.mark.integration

A, B, C = "it-gsl-a", "it-gsl-b", "it-gsl-c"
GROUP = "it-gsl-north"
CONFIG = f"""\
defaults:
  service_level_seconds: 20
  short_abandon_seconds: 5
queues:
  {A}:
    service_level_seconds: 30
groups:
  {GROUP}: [{A}, {B}]
"""
#: Queue -> (answered waits, abandoned waits), in seconds. With A's threshold of 30 s and B's of 20 s:
#: A 3 of 6 completed within (the 2 s abandon is short): 0.5; B 2 of 8 (3 s is short): 0.25.
#: The group: 5 of 14, where the mean of the two would be 0.375. C is in no group, only in the centre.
WAITS = {
    A: ([10, 25, 28, 35, 50], [2, 40]),
    B: ([5, 15, 25, 45], [3, 60, 70, 80, 90]),
    C: ([2], []),
}
WINDOW = "15m"


def produce_waits(worker: Worker, producer: KafkaProducer) -> None:
    start = time.time() - 300
    for queue, (answered, abandoned) in WAITS.items():
        for n, (outcome, wait) in enumerate(
            [("answered", w) for w in answered] + [("abandoned", w) for w in abandoned]
        ):
            contact = f"{queue}-{n}"
            queued = start + n
            extra = {"agent_id": "gsl-agent"} if outcome == "answered" else {}
            for event in (
                make_event("contact.queued", contact, queued, queue=queue),
                make_event(f"contact.{outcome}", contact, queued + wait, **extra),
            ):
                produce(producer, worker.topics["calls"], event, contact.encode())
    # One agent serving both queues of the group, another only C.
    produce(producer, worker.topics["agents"], make_agent_state("gsl-1", start, "available", A, B), b"gsl-1")
    produce(producer, worker.topics["agents"], make_agent_state("gsl-2", start, "busy", C), b"gsl-2")
    producer.flush()


def one_value(prometheus: Prometheus, promql: str) -> float | None:
    result = prometheus.query(promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_group_and_centre_figures_are_the_queues_counts_combined(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path: Path
) -> None:
    config = tmp_path / "groups.yaml"
    config.write_text(CONFIG)
    (tmp_path / "worker").mkdir()
    (tmp_path / "prometheus").mkdir()
    # Its "today" started half a day ago, as the session worker's: no test straddles a day's start.
    day_start = time.strftime("%H:%M", time.gmtime(time.time() + 12 * 3600))
    with running_worker(broker, tmp_path / "worker", KPI_CONFIG=str(config), KPI_DAY_START=day_start) as worker:
        produce_waits(worker, producer)

        def everything_counted() -> bool:
            metrics = worker.metrics()
            return metrics.get(series("contact_centre_agents_distinct", state="busy")) == 1 and all(
                metrics.get(series("contact_centre_contacts_completed", queue=q, channel="voice", window=WINDOW))
                == len(answered) + sum(w >= 5 for w in abandoned)
                for q, (answered, abandoned) in WAITS.items()
            )

        wait_for(everything_counted, timeout=60)
        metrics = worker.metrics()

        def count(name: str, queue: str) -> float:
            return metrics[series(f"contact_centre_{name}", queue=queue, channel="voice", window=WINDOW)]

        # The worker's own figures per queue: its service levels, and the counts under them.
        within = {q: count("contacts_answered_within_threshold", q) for q in WAITS}
        completed = {q: count("contacts_completed", q) for q in WAITS}
        assert (within[A], completed[A], within[B], completed[B]) == (3, 6, 2, 8)
        assert (count("service_level_ratio", A), count("service_level_ratio", B)) == (0.5, 0.25)
        assert (count("contacts_short_abandoned", A), count("contacts_short_abandoned", B)) == (1, 1)
        # Combined by hand.
        group_sl = (within[A] + within[B]) / (completed[A] + completed[B])
        assert group_sl == 5 / 14 != (0.5 + 0.25) / 2
        centre_sl = sum(within.values()) / sum(completed.values())
        assert centre_sl == 6 / 15
        abandoned = {q: count("contacts_abandoned", q) - count("contacts_short_abandoned", q) for q in (A, B)}
        group_abandon = (abandoned[A] + abandoned[B]) / (completed[A] + completed[B])
        answered = {q: count("contacts_answered", q) for q in (A, B)}
        group_asa = sum(count("average_wait_seconds", q) * answered[q] for q in (A, B)) / sum(answered.values())

        # Each agent once in agents_distinct; the one serving two queues is in both queues' count.
        assert metrics[series("contact_centre_agents_distinct", state="available")] == 1
        assert metrics[series("contact_centre_agents_distinct", state="busy")] == 1
        assert metrics[series("contact_centre_agents_distinct", state="offline")] == 0
        assert sum(metrics[series("contact_centre_agents", queue=q, state="available")] for q in (A, B)) == 2

        with running_prometheus(worker.base_url.removeprefix("http://"), tmp_path / "prometheus") as prometheus:
            group = f'{{group="{GROUP}",window="{WINDOW}"}}'
            service_level = wait_for(
                lambda: one_value(prometheus, f"group_window:contact_centre_service_level:ratio{group}"), timeout=60
            )
            assert service_level == pytest.approx(group_sl)
            # Each rule group is evaluated on its own schedule: every series is waited for.
            abandon = wait_for(lambda: one_value(prometheus, f"group_window:contact_centre_abandon:ratio{group}"))
            assert abandon == pytest.approx(group_abandon)
            asa = wait_for(
                lambda: one_value(prometheus, f"group_window:contact_centre_answered_wait_seconds:mean{group}")
            )
            assert asa == pytest.approx(group_asa)
            centre = wait_for(
                lambda: one_value(prometheus, f'window:contact_centre_service_level:ratio{{window="{WINDOW}"}}')
            )
            assert centre == pytest.approx(centre_sl)
            assert one_value(prometheus, 'sum(contact_centre_agents_distinct{state="available"})') == 1
