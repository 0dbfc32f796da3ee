"""Is the Kafka broker reachable? A worker that cannot reach it says so on /healthz and, after a
while, exits non-zero so its supervisor restarts it into a clean state.

The Kafka client retries forever and logs each failure; it never tells the application that
the cluster is gone. A TCP connection to any bootstrap address is the public, cheap signal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from stream.pipeline import exits

log = logging.getLogger("stream")


async def reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    """True if a TCP connection to any ``host:port`` of ``bootstrap`` (comma-separated) opens."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (TimeoutError, OSError, ValueError):
            continue
        writer.close()
        return True
    return False


class BrokerWatch:
    """Since when the broker has been unreachable (None while it is reachable)."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    def record(self, is_reachable: bool, now: float) -> None:
        if is_reachable:
            self.down_since = None
        elif self.down_since is None:
            self.down_since = now

    def down_for(self, now: float) -> float:
        return 0.0 if self.down_since is None else now - self.down_since


@dataclass
class BrokerGuard:
    """Tracks the broker's reachability; exits non-zero once it has been gone too long.

    Nothing can be committed without a broker, so exiting loses nothing that a restart (which
    recovers the tables from their changelogs) does not bring back.
    """

    watch: BrokerWatch
    broker: str
    bootstrap: str
    exit_after_seconds: float

    async def check(self) -> None:
        watch = self.watch
        was_down = watch.down_since is not None
        watch.record(await reachable(self.bootstrap), time.monotonic())
        down_for = watch.down_for(time.monotonic())
        if watch.down_since is not None and not was_down:
            log.error("broker %s unreachable; /healthz reports it", self.broker)
        elif watch.down_since is None and was_down:
            log.warning("broker %s reachable again", self.broker)
        if down_for > self.exit_after_seconds:
            status = exits.EXIT_BROKER_UNREACHABLE
            exits.exit_worker(
                status,
                f"broker {self.broker} unreachable for {down_for:.0f} s "
                f"(KPI_BROKER_OUTAGE_EXIT_SECONDS={self.exit_after_seconds:g}); exiting with status {status} so "
                "a supervisor restarts the worker",
            )
