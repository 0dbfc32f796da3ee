"""Is the Kafka broker reachable? A worker that cannot reach it says so on /healthz and, after a
while, exits non-zero so its supervisor restarts it into a clean state.

The Kafka client retries forever and logs each failure; it never tells the application that
the cluster is gone. A TCP connection to any bootstrap address is the public, cheap signal.
"""

from __future__ import annotations

import asyncio


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
