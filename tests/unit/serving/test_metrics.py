"""stream.serving.metrics: the /metrics text, from the process's registry and a snapshot of reports."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from stream.kpi.report import PresenceReport
from stream.serving.exposition import GaugeFamily, HistogramFamily
from stream.serving.metrics import Metrics
from tests.unit.kpi.test_report import CONFIG, reports


def test_exposition_holds_the_counters_and_the_kpis_of_the_reports_given() -> None:
    metrics = Metrics(CONFIG.model_copy(update={"groups": {"north": ("sales", "support")}}))
    metrics.processed.labels("contact-centre.calls").inc(3)
    metrics.observe_wait("sales", "voice", 12.0)
    # a1 serves both queues: once in agents_distinct, in both queues' contact_centre_agents
    presence = [PresenceReport("sales", {"available": 2, "busy": 1}), PresenceReport("support", {"busy": 1})]
    distinct = {"available": 2, "busy": 1}
    families = list(text_string_to_metric_families(metrics.exposition(reports(), presence, distinct).decode()))
    names = [family.name for family in families]
    assert len(names) == len(set(names))  # the two parts share no family
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples[("contact_centre_" + name, tuple(sorted(labels.items())))]

    assert value("events_processed_total", topic="contact-centre.calls") == 3
    assert value("wait_seconds_count", queue="sales", channel="voice") == 1
    assert value("service_level_ratio", queue="sales", channel="voice", window="15m") == 0.75
    assert value("contacts_waiting", queue="sales", channel="voice") == 2
    assert value("agents", queue="sales", state="busy") == 1
    assert value("agents", queue="support", state="busy") == 1
    assert value("agents_distinct", state="busy") == 1
    assert value("agents_distinct", state="offline") == 0
    assert value("contacts_answered_within_threshold", queue="sales", channel="voice", window="15m") == 3
    assert value("contacts_short_abandoned", queue="sales", channel="voice", window="15m") == 1
    assert value("queue_group", queue="support", group="north", window="1h") == 1


def test_without_agents_given_every_state_is_zero() -> None:
    text = Metrics(CONFIG).exposition([], []).decode()
    assert 'contact_centre_agents_distinct{state="available"} 0.0\n' in text
    assert text.count("contact_centre_agents_distinct{") == 5


def test_a_gauge_family_is_written_as_prometheus_client_writes_it() -> None:
    labels = ("queue", "channel", "window")
    samples = [
        (("sales", "voice", "15m"), 0.75),
        (('odd "q"\\x', "chat", "1h\n"), float("inf")),
        (("q", "ticket", "today"), 1e21),
        (("q", "voice", "1h"), float("nan")),
        (("q", "chat", "15m"), 3),
    ]
    ours = GaugeFamily("contact_centre_abandon_ratio", "A ratio \\ with a\nnewline.", labels)
    theirs = GaugeMetricFamily("contact_centre_abandon_ratio", "A ratio \\ with a\nnewline.", labels=list(labels))
    for values, value in samples:
        ours.add(values, value)
        theirs.add_metric(list(values), value)
    registry = CollectorRegistry()
    registry.register(StaticCollector(theirs))
    assert ours.text() == generate_latest(registry).decode()


def test_a_histogram_family_is_written_as_prometheus_client_writes_it() -> None:
    labels, buckets = ("queue", "channel"), (5.0, 20.0, 1e7, 30.0e6)
    observations = [
        (("sales", "voice"), 5.0),
        (("sales", "voice"), 4.99),
        (("sales", "voice"), 19.0),
        (("sales", "voice"), 1e9),
        (('odd "q"\\x', "chat\n"), 20.0),
        (("q", "chat"), -1.5),
        (("q", "chat"), 25e6),
        (("sales", "voice"), 0.0),
    ]
    ours = HistogramFamily("contact_centre_wait_seconds", "Completed waits \\ all.", labels, buckets)
    registry = CollectorRegistry()
    theirs = Histogram(
        "contact_centre_wait_seconds", "Completed waits \\ all.", labels, buckets=buckets, registry=registry
    )
    for values, amount in observations:
        ours.observe(values, amount)
        theirs.labels(*values).observe(amount)
        # Written after every observation: a series' lines kept from the last scrape must not outlive it.
        assert ours.text() == generate_latest(registry).decode()
    ours.remove(("q", "chat"))
    theirs.remove("q", "chat")
    assert ours.text() == generate_latest(registry).decode()
    assert ours.label_values() == [("sales", "voice"), ('odd "q"\\x', "chat\n")]


def test_histograms_of_queues_no_longer_owned_are_removed() -> None:
    metrics = Metrics(CONFIG)
    metrics.observe_wait("sales", "voice", 12.0)
    metrics.observe_handle("sales", "voice", 200.0)
    metrics.observe_wait("support", "chat", 3.0)
    metrics.keep_histograms_of(lambda queue, channel: queue == "support")
    assert metrics.wait.label_values() == [("support", "chat")]
    assert metrics.handle.label_values() == []


class StaticCollector(Collector):
    def __init__(self, family: GaugeMetricFamily) -> None:
        self.family = family

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield self.family
