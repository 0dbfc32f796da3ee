"""Every query of the Grafana dashboard returns data from a real Prometheus server scraping a
real worker fed through the broker: no panel is broken by a typo in a metric or label name. The
worker's queue is in a group, so the group variable and the group panels have data too."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import QUEUE_CONFIG, Worker, running_worker, wait_for
from tests.integration.events import make_agent_state, make_event, produce
from tests.integration.prometheus_server import Prometheus, running_prometheus

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "contact-centre.json"
QUEUE = "it-grafana"
GROUP = "it-grafana-north"
#: A queue in no group: listed by the queue variable when every group is chosen.
SOLO = "it-grafana-solo"


@pytest.fixture(scope="module")
def grouped_worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker with the session worker's queue settings and targets, and QUEUE in GROUP."""
    workdir = tmp_path_factory.mktemp("dashboard")
    config = workdir / "groups.yaml"
    config.write_text(yaml.safe_dump({**yaml.safe_load(QUEUE_CONFIG), "groups": {GROUP: [QUEUE]}}))
    (workdir / "worker").mkdir()
    # Its "today" started half a day ago, as the session worker's: no test straddles a day's start.
    day_start = time.strftime("%H:%M", time.gmtime(time.time() + 12 * 3600))
    with running_worker(broker, workdir / "worker", KPI_CONFIG=str(config), KPI_DAY_START=day_start) as running:
        yield running


@pytest.fixture(scope="module")
def grouped_prometheus(grouped_worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    target = grouped_worker.base_url.removeprefix("http://")
    with running_prometheus(target, tmp_path_factory.mktemp("dashboard-prometheus")) as server:
        yield server


def variables() -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in json.loads(DASHBOARD.read_text())["templating"]["list"]}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query, with Grafana's variables filled in as a user would:
    this queue's group, this queue, every channel, the 15-minute window."""
    dashboard = json.loads(DASHBOARD.read_text())
    substitutions = {
        "$group": GROUP,
        "$queue": QUEUE,
        "$channel": ".+",
        "$window": "15m",
        "$__rate_interval": "1m",
    }
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in substitutions.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, (panel["title"], expr)
            queries.append((panel["title"], expr))
    return queries


def produce_a_full_day(worker: Worker, producer: KafkaProducer) -> None:
    """Something for every panel: calls answered, abandoned and waiting, a repeat customer, a
    reopened ticket, every survey, agents, and one invalid, one late and one duplicate event."""
    topics = worker.topics
    b = time.time() - 250
    events = [
        ("calls", make_event("contact.queued", "gf-c1", b, queue=QUEUE, customer_id="gf-k1")),
        ("calls", make_event("contact.answered", "gf-c1", b + 8, agent_id="gf-a1")),
        ("calls", make_event("contact.wrapped", "gf-c1", b + 100, resolved=True)),
        ("calls", make_event("contact.queued", "gf-c2", b + 120, queue=QUEUE, customer_id="gf-k1")),
        ("calls", make_event("contact.abandoned", "gf-c2", b + 150)),
        ("calls", make_event("contact.queued", "gf-c3", b + 200, queue=QUEUE)),
        ("tickets", make_event("ticket.created", "gf-t1", b, queue=QUEUE, customer_id="gf-k2")),
        ("tickets", make_event("ticket.replied", "gf-t1", b + 30, agent_id="gf-a1")),
        ("tickets", make_event("ticket.solved", "gf-t1", b + 60)),
        ("tickets", make_event("ticket.reopened", "gf-t1", b + 90)),
        ("tickets", make_event("ticket.solved", "gf-t1", b + 120)),
        ("agents", make_agent_state("gf-a1", b, "busy", QUEUE)),
    ]
    for n in range(4):  # with gf-c1, the five handled contacts the staffing KPIs need (docs/metrics.md#staffing)
        contact = f"gf-h{n}"
        events += [
            ("calls", make_event("contact.queued", contact, b + n, queue=QUEUE)),
            ("calls", make_event("contact.answered", contact, b + n + 5, agent_id="gf-a1")),
            ("calls", make_event("contact.wrapped", contact, b + n + 90, resolved=True)),
        ]
    for kind, score in (("csat", 4), ("nps", 9), ("ces", 6), ("esat", 8)):
        events.append(
            (
                "surveys",
                {
                    "event_id": f"gf-{kind}",
                    "type": f"survey.{kind}",
                    "ts": b + 110,
                    "queue": QUEUE,
                    "channel": "voice",
                    "score": score,
                },
            )
        )
    events.append(("surveys", events[-1][1]))  # a duplicate answer
    events.append(("calls", make_event("contact.queued", "gf-late", b - 2 * 86400, queue=QUEUE)))  # before every window
    for topic, event in events:
        produce(producer, topics[topic], event, None)
    producer.send(topics["calls"], value=b"not json at all")  # invalid
    producer.flush()


def merged_panel_titles() -> set[str]:
    """Panels whose queries Grafana merges into one table, row by row on their common labels."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {p["title"] for p in panels if any(t["id"] == "merge" for t in p.get("transformations", []))}


def variable_values(prometheus: Prometheus, name: str, **others: str) -> set[str]:
    """What Grafana lists for the query variable ``name``, the ``others`` filled in: for
    label_values(selector, label) it asks Prometheus for the label's values on the matching series."""
    match = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", variables()[name]["definition"])
    assert match, variables()[name]["definition"]
    selector, label = match.groups()
    for variable, value in others.items():
        selector = selector.replace(f"${variable}", value)
    assert "$" not in selector
    query = urllib.parse.urlencode({"match[]": selector})
    with urllib.request.urlopen(f"{prometheus.url}/api/v1/label/{label}/values?{query}", timeout=10) as response:
        document = json.load(response)
    assert document["status"] == "success", document
    return set(document["data"])


def test_every_dashboard_query_returns_data(
    grouped_worker: Worker, producer: KafkaProducer, grouped_prometheus: Prometheus
) -> None:
    worker, prometheus = grouped_worker, grouped_prometheus
    queries = dashboard_queries()
    assert len(queries) >= 40
    produce_a_full_day(worker, producer)
    # The histograms' rate() needs observations between two scrapes: once Prometheus has scraped
    # the first ones, more of them.
    wait_for(lambda: prometheus.query(f'contact_centre_wait_seconds_count{{queue="{QUEUE}"}}'), timeout=60)
    for n in range(3):
        produce(
            producer,
            worker.topics["calls"],
            make_event("contact.queued", f"gf-r{n}", time.time() - 30, queue=QUEUE),
            None,
        )
        produce(
            producer,
            worker.topics["calls"],
            make_event("contact.answered", f"gf-r{n}", time.time() - 5, agent_id="x"),
            None,
        )
        produce(
            producer,
            worker.topics["calls"],
            make_event("contact.wrapped", f"gf-r{n}", time.time(), resolved=True),
            None,
        )
    producer.flush()

    def empty_queries() -> list[tuple[str, str]]:
        return [(title, expr) for title, expr in queries if not prometheus.query(expr)]

    missing: list[tuple[str, str]] = []

    def all_answer() -> bool:
        missing[:] = empty_queries()
        return not missing

    try:
        wait_for(all_answer, timeout=60, interval=2)
    except BaseException:
        pytest.fail("queries without data:\n" + "\n".join(f"{title}: {expr}" for title, expr in missing))
    results: dict[str, Any] = {expr: prometheus.query(expr) for _, expr in queries}
    # Spot checks that the data is this test's: the ticket was reopened once, the CSAT is 4.
    reopened = results['contact_centre_tickets_reopened{queue=~"it-grafana", channel=~".+", window="15m"}']
    assert [float(r["value"][1]) for r in reopened if r["metric"]["channel"] == "ticket"] == [1.0]
    csat = results['contact_centre_csat_score{queue=~"it-grafana", channel=~".+", window="15m"}']
    assert [float(r["value"][1]) for r in csat] == [4.0]
    # A merged table's queries are joined on their labels: each answers with queue and channel only,
    # one row per queue and channel (a label more, or a row per worker, would split the rows).
    merged = merged_panel_titles()
    assert merged
    for title, expr in queries:
        if title in merged:
            rows = [frozenset(r["metric"].items()) for r in results[expr]]
            assert all({label for label, _ in row} == {"queue", "channel"} for row in rows), (title, expr)
            assert len(rows) == len(set(rows)), (title, expr)
    # The group holds only this queue: its recorded service level is the queue's (voice; no ticket
    # completes a wait).
    voice = f'contact_centre_service_level_ratio{{queue="{QUEUE}", channel="voice", window="15m"}}'
    group = f'group_window:contact_centre_service_level:ratio{{group="{GROUP}", window="15m"}}'

    def group_is_the_queue() -> bool:
        difference = prometheus.query(f"{group} - on () {voice}")
        return len(difference) == 1 and float(difference[0]["value"][1]) == pytest.approx(0)

    wait_for(group_is_the_queue, timeout=30)


def test_the_queue_variable_lists_the_queues_of_the_chosen_groups(
    grouped_worker: Worker, producer: KafkaProducer, grouped_prometheus: Prometheus
) -> None:
    """Grafana's variable queries on a real Prometheus: the groups, the queues of a chosen group, and
    with every group chosen (the group variable's All value) every queue, those in no group too."""
    for n, queue in enumerate((QUEUE, SOLO)):
        event = make_event("contact.queued", f"gf-v{n}", time.time() - 10, queue=queue)
        produce(producer, grouped_worker.topics["calls"], event, None)
    producer.flush()
    prometheus = grouped_prometheus
    assert wait_for(lambda: variable_values(prometheus, "group")) == {GROUP}
    every_group = variables()["group"]["allValue"]
    wait_for(lambda: {QUEUE, SOLO} <= variable_values(prometheus, "queue", group=every_group))
    assert variable_values(prometheus, "queue", group=GROUP) == {QUEUE}
    assert variable_values(prometheus, "queue", group="no-such-group") == set()


def test_the_alert_annotation_query_is_one_prometheus_accepts(grouped_prometheus: Prometheus) -> None:
    """Grafana draws firing alerts on every panel; a query Prometheus refuses would draw none, silently."""
    [annotation] = json.loads(DASHBOARD.read_text())["annotations"]["list"]
    expr = annotation["expr"].replace("$queue", QUEUE)
    assert "$" not in expr
    # An HTTP 400 (a query Prometheus cannot parse) raises; an answer is a vector, empty without alerts.
    assert isinstance(grouped_prometheus.query(expr), list)
