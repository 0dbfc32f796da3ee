"""The README's main command: `python -m stream demo` shows live KPIs and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stream.tools.embedded_broker import free_port
from tests.integration.conftest import wait_for
from tests.integration.scrape import Series, parse_metrics, series

pytestmark = pytest.mark.integration

DEMO_METRICS = (
    "contact_centre_contacts_offered",
    "contact_centre_contacts_answered",
    "contact_centre_average_wait_seconds",
    "contact_centre_max_wait_seconds",
    "contact_centre_service_level_ratio",
    "contact_centre_abandon_ratio",
    "contact_centre_contacts_waiting",
    "contact_centre_oldest_waiting_seconds",
    "contact_centre_agents",
    "contact_centre_kpi_target",  # from the demo's own queue settings
)


def test_demo_serves_kpis_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    env.update(KPI_WEB_PORT=str(port), KPI_SESSION_TIMEOUT_SECONDS="10", KPI_DATA_DIR=str(tmp_path / "data"))
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "stream", "demo", "--rate", "4", "--seed", "7"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def every_kpi_present() -> dict[Series, float] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                metrics = parse_metrics(response.read().decode())
        except OSError:
            return None
        names = {name for name, _ in metrics}
        return metrics if all(metric in names for metric in DEMO_METRICS) else None

    try:
        metrics = wait_for(every_kpi_present, timeout=90, interval=1.0)
        # stream/tools/demo_queues.yaml: sales overrides the default CSAT target of 4.0.
        assert metrics[series("contact_centre_kpi_target", queue="sales", channel="voice", kpi="csat_score")] == 4.3
        assert metrics[series("contact_centre_kpi_target", queue="support", channel="voice", kpi="csat_score")] == 4.0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
