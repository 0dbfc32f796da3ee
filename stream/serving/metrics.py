"""Prometheus metrics: event counters, histograms (waits, handle times, stage delays) and the KPI gauges.

KPI gauges are computed at scrape time from the tables, so they always reflect the
wall clock (a quiet queue decays) and there is no second copy of the state to drift.
The histograms and gauges are written as text directly (stream.serving.exposition); the counters,
few lines, go through prometheus_client's registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from stream.config.queue_config import QueueConfig
from stream.kpi.report import PresenceReport, QueueReport
from stream.serving.exposition import PREFIX, HistogramFamily
from stream.serving.kpi_gauges import KpiGauges

# `_created` series double the exposition size and no dashboard or rule here uses them.
disable_created_metrics()

#: Completed waits, in seconds. Every configured service-level and alert threshold is added
#: as an exact bucket edge so histogram_quantile and SLO queries are exact there.
BASE_WAIT_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600)
#: Talk + hold + after-contact work: from short calls to long chats.
HANDLE_BUCKETS = (30, 60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 7200)
#: Fine from 5 ms to a second (each stage when the worker keeps up), coarse up to an hour (a backlog).
DELAY_BUCKETS = (
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
)
#: Event-loop stalls: under 100 ms nothing a user sees is late; seconds mean late heartbeats.
STALL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def wait_buckets(config: QueueConfig) -> tuple[float, ...]:
    edges = set(map(float, BASE_WAIT_BUCKETS))
    for settings in (config.defaults, *config.queues.values()):
        edges.update((settings.service_level_seconds, settings.wait_alert_seconds, settings.short_abandon_seconds))
    return tuple(sorted(edge for edge in edges if edge > 0))


class Metrics:
    """The process's metrics: counters in a registry of its own, and the histograms."""

    def __init__(self, config: QueueConfig, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._kpi_gauges = KpiGauges(config.groups)
        r = self.registry
        self.processed = Counter(
            PREFIX + "events_processed_total", "Valid input events consumed.", ["topic"], registry=r
        )
        self.invalid = Counter(
            PREFIX + "events_invalid_total",
            "Input messages sent to the dead-letter topic.",
            ["topic", "reason"],
            registry=r,
        )
        self.duplicate = Counter(
            PREFIX + "events_duplicate_total", "Events that repeated a known one.", ["topic"], registry=r
        )
        self.late = Counter(
            PREFIX + "events_late_total",
            "Events that could change nothing any more (dated before every kept window, "
            "of no contact or ticket held), sent to the dead-letter topic.",
            ["topic"],
            registry=r,
        )
        self.over_queue_limit = Counter(
            PREFIX + "queue_limit_dropped_total",
            "Facts and agent states dropped because their queue is new and the "
            "worker already keeps KPI_MAX_QUEUES queues.",
            ["table"],
            registry=r,
        )
        self.over_state_limit = Counter(
            PREFIX + "state_limit_dropped_total",
            "Ids not kept because a table value's collection was full (contacts "
            "waiting and survey ids of a queue, agents of a queue, steps of a ticket).",
            ["table"],
            registry=r,
        )
        self.redelivered = Counter(
            PREFIX + "facts_redelivered_total",
            "Facts skipped because their origin was already counted (after a crash or rebalance).",
            ["topic"],
            registry=r,
        )
        self.loop_stall = Histogram(
            PREFIX + "event_loop_stall_seconds",
            "How long the event loop ran nothing else (stalls of 10 ms or more): every stage, "
            "timer and HTTP answer waits that long.",
            buckets=STALL_BUCKETS,
            registry=r,
        )
        qc = ("queue", "channel")
        self.wait = HistogramFamily(
            PREFIX + "wait_seconds", "Completed waits (answered or abandoned).", qc, wait_buckets(config)
        )
        self.handle = HistogramFamily(
            PREFIX + "handle_seconds", "Handle times (answer to wrap-up).", qc, HANDLE_BUCKETS
        )
        self.stage_delay = HistogramFamily(
            PREFIX + "stage_delay_seconds",
            "Time from a message being produced (its Kafka timestamp) to its stage starting on it.",
            ("stage",),
            DELAY_BUCKETS,
        )

    def observe_wait(self, queue: str, channel: str, seconds: float) -> None:
        self.wait.observe((queue, channel), seconds)

    def observe_handle(self, queue: str, channel: str, seconds: float) -> None:
        self.handle.observe((queue, channel), seconds)

    def keep_histograms_of(self, owned: Callable[[str, str], bool]) -> None:
        """Remove histogram series of queues this worker no longer owns."""
        for histogram in (self.wait, self.handle):
            for queue, channel in histogram.label_values():
                if not owned(queue, channel):
                    histogram.remove((queue, channel))

    def exposition(
        self,
        reports: Iterable[QueueReport],
        presence: Iterable[PresenceReport],
        agents_distinct: Mapping[str, int] | None = None,
    ) -> bytes:
        """What /metrics serves: this registry's counters and health, the histograms, then the KPI
        gauges of ``reports``, ``presence`` and ``agents_distinct`` (the worker's agents per state,
        each once; not given: none) (computed at scrape time, see the module's doc)."""
        histograms = self.wait.text() + self.handle.text() + self.stage_delay.text()
        gauges = self._kpi_gauges.text(reports, presence, agents_distinct or {})
        return generate_latest(self.registry) + (histograms + gauges).encode()

    def add_health(self, health_problem: Callable[[], str | None]) -> None:
        """``contact_centre_consuming``: what /healthz says, for alert rules."""
        gauge = Gauge(
            PREFIX + "consuming",
            "1 when the worker is consuming (not stopped, rebalancing or recovering tables).",
            registry=self.registry,
        )
        gauge.set_function(lambda: 1.0 if health_problem() is None else 0.0)

    def add_longest_stall(self, longest: Callable[[], float]) -> None:
        """``contact_centre_event_loop_stall_longest_seconds``: the longest stall of the last minute."""
        gauge = Gauge(
            PREFIX + "event_loop_stall_longest_seconds",
            "The longest event-loop stall of the last 60 seconds (0 when none).",
            registry=self.registry,
        )
        gauge.set_function(longest)
