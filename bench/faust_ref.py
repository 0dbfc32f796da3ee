"""Faust reference apps, run as ``python -m bench.faust_ref`` with BENCH_* variables.

- ``BENCH_MODE=bare``: one agent over the input topics that only decodes JSON (Faust's own floor);
- ``BENCH_MODE=naive``: one agent that decodes and updates a tumbling-window table once per event
  (what a first Faust implementation does: one table write, hence one changelog message, per event).

``BENCH_CONSUMER=kpi`` runs either on the pipeline's consumer (``stream.faust_ext.consumer``: the inline
hand-off and ``KPI_FETCH_WAIT_MS``' default) instead of Faust's own, so the pipeline can be compared
with Faust's floor on the same consumer path.

Both use the worker's consumer settings (memory store, 4 partitions, earliest offsets). When
BENCH_EXPECTED messages have been read, the app writes the wall time and CPU time of the first and
last one to BENCH_OUT (JSON); the parent then stops it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from typing import Any

import faust

from stream.config.settings import Settings
from stream.faust_ext.transport import KpiApp

MODE = os.environ.get("BENCH_MODE", "bare")
EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))
OUT = os.environ.get("BENCH_OUT", "faust_ref.json")
SESSION = float(os.environ.get("BENCH_SESSION_TIMEOUT", "10"))

CONSUMER = os.environ.get("BENCH_CONSUMER", "faust")
App: Any = faust.App
extra: dict[str, Any] = {}
if CONSUMER == "kpi":
    App = KpiApp
    extra["fetch_wait_ms"] = Settings.model_fields["fetch_wait_ms"].default

app = App(
    os.environ.get("BENCH_APP_ID", "bench-faust-ref"),
    broker=os.environ.get("BENCH_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", "bench-data"),
    web_enabled=False,
    autodiscover=False,
    topic_partitions=4,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=SESSION,
    broker_heartbeat_interval=min(3.0, SESSION / 3),
    broker_request_timeout=max(90.0, SESSION * 2),
    **extra,
)
source = app.topic(*os.environ.get("BENCH_TOPICS", "bench").split(","), key_serializer="raw", value_serializer="raw")

if MODE == "naive":
    counts = app.Table("naive-counts", default=int, partitions=4).tumbling(
        timedelta(minutes=1), expires=timedelta(hours=1)
    )


class Meter:
    def __init__(self) -> None:
        self.seen = 0
        self.first: tuple[float, float] | None = None

    def tick(self) -> None:
        self.seen += 1
        if self.seen == 1:
            self.first = (time.time(), time.process_time())
        if self.seen == EXPECTED:
            now = (time.time(), time.process_time())
            assert self.first is not None
            result = {
                "mode": MODE,
                "events": self.seen,
                "first_wall": self.first[0],
                "last_wall": now[0],
                "cpu_s": now[1] - self.first[1],
            }
            tmp = OUT + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(result, fh)
            os.replace(tmp, OUT)


meter = Meter()


@app.agent(source)
async def consume(stream):  # type: ignore[no-untyped-def]
    async for value in stream:
        try:
            event = json.loads(value)
        except ValueError:
            event = None
        if MODE == "naive" and isinstance(event, dict):
            key = event.get("queue") or event.get("agent_id") or event.get("contact_id") or "none"
            counts[key] += 1
        meter.tick()


if __name__ == "__main__":
    import sys

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()
