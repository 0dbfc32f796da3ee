"""``python -m stream worker`` and ``demo``: a worker, with the embedded broker and the simulator for the demo."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from stream.config.settings import Settings
from stream.tools.broker_connection import connect, with_embedded_broker
from stream.tools.simulator import SimulationConfig

log = logging.getLogger("stream")


def run_worker(settings: Settings) -> int:
    """Run a worker until SIGINT/SIGTERM, with an embedded broker if KPI_BROKER=embedded."""
    settings, broker = with_embedded_broker(settings)
    try:
        return _serve(settings, fresh_broker=broker is not None)
    finally:
        if broker is not None:
            broker.stop()


def _serve(settings: Settings, fresh_broker: bool) -> int:
    """Run the worker; ``fresh_broker``: the broker was just started empty (the embedded one)."""
    from stream.faust_ext.gcpolicy import FreezingWorker, collect_less_often, freeze_long_lived
    from stream.faust_ext.stores import forget_local_state
    from stream.pipeline.app import create_pipeline

    connect(settings, "worker")
    pipeline = create_pipeline(settings)
    table_dir = Path(pipeline.app.conf.tabledir)
    if fresh_broker and settings.store == "rocksdb" and forget_local_state(table_dir):
        log.warning("removed tables kept in %s: the embedded broker starts without their changelogs", table_dir)
    worker = FreezingWorker(pipeline.app, loglevel=settings.log_level)
    # Faust's terminal spinner sets the root logger to DEBUG at levels WARN and above, which
    # makes every debug call on the hot path build a log record; a service has no terminal.
    worker.spinner = None
    freeze_long_lived()  # what was imported and built so far lives as long as the process
    collect_less_often()
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_demo(settings: Settings, simulation: SimulationConfig, seed: int | None) -> int:
    """Broker, simulator (a child process, so it does not compete for the worker's GIL) and worker."""
    settings, broker = with_embedded_broker(settings)
    assert settings.broker is not None
    simulator_args = [
        sys.executable,
        "-m",
        "stream",
        "simulate",
        "--rate",
        str(simulation.rate),
        "--queues",
        ",".join(simulation.queues),
        "--agents",
        str(simulation.agents),
        "--chat-share",
        str(simulation.chat_share),
    ] + (["--seed", str(seed)] if seed is not None else [])
    # A session of its own, like the broker's: the parent stops the children in order.
    simulator = subprocess.Popen(
        simulator_args, env={**os.environ, "KPI_BROKER": settings.broker}, start_new_session=True
    )
    port = settings.web_port
    log.info(
        "demo running: http://localhost:%d/metrics  http://localhost:%d/api/kpis  http://localhost:%d/healthz",
        port,
        port,
        port,
    )
    try:
        return _serve(settings, fresh_broker=broker is not None)
    finally:
        try:
            simulator.terminate()
            simulator.wait(timeout=15)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
        finally:
            if broker is not None:
                broker.stop()
