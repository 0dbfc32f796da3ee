"""Is the worker consuming? What /healthz answers, the ``contact_centre_consuming`` gauge shows,
and what the alert and expiry timers wait for (half-recovered tables would read as recoveries)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import faust

from stream.pipeline.brokerwatch import BrokerWatch


@dataclass
class Health:
    app: faust.App
    broker_watch: BrokerWatch

    def problem(self) -> str | None:
        """``None`` when the worker is consuming, else why not."""
        down_for = self.broker_watch.down_for(time.monotonic())
        if down_for > 0:
            return f"broker unreachable for {down_for:.0f} s"
        if not self.app.consumer.started or self.app.should_stop:
            return "consumer not running"
        if self.app.rebalancing:
            return "rebalancing"
        if not self.app.tables.recovery.completed.is_set():
            return "recovering tables"
        return None
