"""stream.pipeline.brokerwatch: how long the broker has been unreachable, and the reachability probe."""

from __future__ import annotations

import asyncio

from stream.pipeline.brokerwatch import BrokerWatch, reachable
from stream.tools.embedded_broker import free_port


def test_down_for_counts_from_the_first_failure_until_a_success() -> None:
    watch = BrokerWatch()
    assert watch.down_for(100.0) == 0.0
    watch.record(False, 100.0)
    watch.record(False, 102.0)  # still down since 100
    assert watch.down_for(105.0) == 5.0
    watch.record(True, 106.0)
    assert watch.down_for(107.0) == 0.0 and watch.down_since is None


async def test_reachable_when_any_bootstrap_address_accepts() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    closed = free_port()
    try:
        assert await reachable(f"127.0.0.1:{closed},127.0.0.1:{port}")
        assert not await reachable(f"127.0.0.1:{closed}")
        assert not await reachable("not-an-address")
    finally:
        server.close()
        await server.wait_closed()
