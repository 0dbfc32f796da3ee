"""Is the worker consuming? What /healthz answers, the ``contact_centre_consuming`` gauge shows,
and what the alert and expiry timers wait for (half-recovered tables would read as recoveries)."""

from __future__ import annotations

import time

import faust

from stream.pipeline.brokerwatch import BrokerWatch


class Health:
    def __init__(self, app: faust.App, broker_watch: BrokerWatch) -> None:
        self._app = app
        self._broker_watch = broker_watch

    def problem(self) -> str | None:
        """``None`` when the worker is consuming, else why not."""
        down_for = self._broker_watch.down_for(time.monotonic())
        if down_for > 0:
            return f"broker unreachable for {down_for:.0f} s"
        if not self._app.consumer.started or self._app.should_stop:
            return "consumer not running"
        if self._app.rebalancing:
            return "rebalancing"
        if not self._app.tables.recovery.completed.is_set():
            return "recovering tables"
        return None
