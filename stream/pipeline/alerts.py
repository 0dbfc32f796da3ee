"""Alerts: every owned queue's thresholds evaluated, breaches and recoveries remembered and published.

The alerts active for a queue are remembered in its state (``QueueState.alerts``), so they move
with the queue's key: a restarted or new owner neither repeats a breach nor misses its recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import faust

from stream.kpi.alerting import AlertPolicy, evaluate
from stream.kpi.queue_keys import queue_key
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.reporting import Reporting

log = logging.getLogger("stream")


@dataclass
class AlertPublisher:
    reporting: Reporting
    queues: faust.TableT
    writes: HeldWrites
    topic: faust.TopicT
    policy: AlertPolicy
    health_problem: Callable[[], str | None]

    async def publish(self) -> None:
        if self.health_problem() is not None:
            return  # half-recovered tables would read as recoveries
        now = self.reporting.clock()
        published = []
        # Table state is updated before the first await, while this worker surely owns the keys.
        for report in self.reporting.reports(now, windows=(self.policy.window,)):
            key = queue_key(report.queue, report.channel)
            state = self.writes.get(self.queues, key)
            active, events = evaluate(report, state.alerts, self.policy, now)
            if events:
                state.alerts = active
                self.writes.put(self.queues, key, state)
                published += events
        for event in published:
            log.warning(
                "alert %s: %s/%s %s=%s (threshold %s)",
                event.state,
                event.queue,
                event.channel,
                event.metric,
                event.value,
                event.threshold,
            )
            await self.topic.send(key=event.queue.encode(), value=event.to_json())
