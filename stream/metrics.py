"""Prometheus metrics: event counters, wait/handle histograms and a collector over the KPI tables.

KPI gauges are computed at scrape time from the tables, so they always reflect the
wall clock (a quiet queue decays) and there is no second copy of the state to drift.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream.report import QueueReport
from stream.settings import QueueConfig

PREFIX = "contact_centre_"

# `_created` series double the exposition size and no dashboard or rule here uses them.
disable_created_metrics()

#: Completed waits, in seconds. Every configured service-level and alert threshold is added
#: as an exact bucket edge so histogram_quantile and SLO queries are exact there.
BASE_WAIT_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600)
#: Talk + hold + after-contact work: from short calls to long chats.
HANDLE_BUCKETS = (30, 60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 7200)


def wait_buckets(config: QueueConfig) -> tuple[float, ...]:
    edges = set(map(float, BASE_WAIT_BUCKETS))
    for settings in (config.defaults, *config.queues.values()):
        edges.update((settings.service_level_seconds, settings.wait_alert_seconds, settings.short_abandon_seconds))
    return tuple(sorted(edge for edge in edges if edge > 0))


class Metrics:
    """The process's metrics, in a registry of its own."""

    def __init__(self, config: QueueConfig, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.processed = Counter(PREFIX + "events_processed_total", "Valid input events consumed.", ["topic"], registry=r)
        self.invalid = Counter(
            PREFIX + "events_invalid_total", "Input messages sent to the dead-letter topic.", ["topic", "reason"], registry=r
        )
        self.duplicate = Counter(PREFIX + "events_duplicate_total", "Events that repeated a known one.", ["topic"], registry=r)
        self.late = Counter(PREFIX + "events_late_total", "Events older than the allowed lateness.", ["topic"], registry=r)
        self.wait = Histogram(
            PREFIX + "wait_seconds", "Completed waits (answered or abandoned).", ["queue", "channel"],
            buckets=wait_buckets(config), registry=r,
        )  # fmt: skip
        self.handle = Histogram(
            PREFIX + "handle_seconds", "Handle times (answer to wrap-up).", ["queue", "channel"],
            buckets=HANDLE_BUCKETS, registry=r,
        )  # fmt: skip
        self._histogram_keys: set[tuple[str, str]] = set()

    def observe_wait(self, queue: str, channel: str, seconds: float) -> None:
        self._histogram_keys.add((queue, channel))
        self.wait.labels(queue, channel).observe(seconds)

    def observe_handle(self, queue: str, channel: str, seconds: float) -> None:
        self._histogram_keys.add((queue, channel))
        self.handle.labels(queue, channel).observe(seconds)

    def keep_histograms_of(self, owned: Callable[[str, str], bool]) -> None:
        """Remove histogram series of queues this worker no longer owns."""
        for labels in [k for k in self._histogram_keys if not owned(*k)]:
            self._histogram_keys.discard(labels)
            for histogram in (self.wait, self.handle):
                try:
                    histogram.remove(*labels)
                except KeyError:
                    pass

    def add_kpi_collector(self, reports: Callable[[], list[QueueReport]]) -> None:
        self.registry.register(KpiCollector(reports))

    def add_health(self, health_problem: Callable[[], str | None]) -> None:
        """``contact_centre_consuming``: what /healthz says, for alert rules."""
        gauge = Gauge(
            PREFIX + "consuming", "1 when the worker is consuming (not stopped, rebalancing or recovering tables).",
            registry=self.registry,
        )  # fmt: skip
        gauge.set_function(lambda: 1.0 if health_problem() is None else 0.0)


_WINDOWED = {
    "contacts_offered": "Contacts offered to the queue in the window.",
    "contacts_answered": "Waits ended by an answer in the window.",
    "contacts_abandoned": "Waits ended by an abandon in the window (short abandons included).",
    "average_wait_seconds": "Mean wait of answered contacts (ASA).",
    "max_wait_seconds": "Longest completed wait, answered or abandoned.",
    "service_level_ratio": "Answered within the service-level time / (answered + abandoned - short abandons).",
    "abandon_ratio": "(Abandoned - short abandons) / (answered + abandoned - short abandons).",
    "average_handle_seconds": "Mean of wrapped - answered (talk, hold and after-contact work).",
}


class KpiCollector(Collector):
    """Exports the KPI gauges of the queues this worker owns, computed at scrape time.

    # HELP contact_centre_service_level_ratio Answered within the service-level time / ...
    # TYPE contact_centre_service_level_ratio gauge
    contact_centre_service_level_ratio{channel="voice",queue="sales",window="15m"} 0.8
    """

    def __init__(self, reports: Callable[[], list[QueueReport]]) -> None:
        self._reports = reports

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Described as empty so registering does not compute reports.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reports = self._reports()
        windowed = {
            name: GaugeMetricFamily(PREFIX + name, help_text, labels=["queue", "channel", "window"])
            for name, help_text in _WINDOWED.items()
        }
        waiting = GaugeMetricFamily(PREFIX + "contacts_waiting", "Contacts queued and not yet answered or abandoned.", labels=["queue", "channel"])
        oldest = GaugeMetricFamily(PREFIX + "oldest_waiting_seconds", "Age of the longest-waiting contact (0 when none).", labels=["queue", "channel"])
        threshold = GaugeMetricFamily(PREFIX + "wait_threshold_seconds", "Configured wait alert threshold.", labels=["queue", "channel"])
        sl_target = GaugeMetricFamily(PREFIX + "service_level_target_ratio", "Configured service-level target.", labels=["queue", "channel"])
        target = GaugeMetricFamily(PREFIX + "kpi_target", "Configured target of a KPI.", labels=["queue", "channel", "kpi"])
        target_met = GaugeMetricFamily(PREFIX + "kpi_target_met", "1 when the KPI meets its target in the window, else 0.", labels=["queue", "channel", "window", "kpi"])
        for r in reports:
            labels = [r.queue, r.channel]
            waiting.add_metric(labels, r.waiting.contacts_waiting)
            oldest.add_metric(labels, r.waiting.oldest_waiting_seconds)
            threshold.add_metric(labels, r.settings.wait_alert_seconds)
            sl_target.add_metric(labels, r.settings.service_level_target)
            for kpi, value in r.settings.all_targets.items():
                target.add_metric([*labels, kpi], value)
            for window, kpis in r.windows.items():
                for name, value in kpis.items():
                    if value is not None:
                        windowed[name].add_metric([*labels, window], value)
                for kpi, met in r.targets_met(window).items():
                    target_met.add_metric([*labels, window, kpi], 1.0 if met else 0.0)
        yield from windowed.values()
        yield from (waiting, oldest, threshold, sl_target, target, target_met)
