"""A real Prometheus server (Debian's `prometheus`) scraping the test worker with the shipped rules
(alerts and recording rules)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.tools.embedded_broker import free_port
from tests.integration.processes import wait_until_ready

PROMETHEUS_DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
#: The shipped rule files: the alerts, and the recording rules of groups and of the centre.
RULES = (PROMETHEUS_DEPLOY / "alerts.yml", PROMETHEUS_DEPLOY / "recording.yml")
#: The job name the shipped alert rules expect.
JOB = "contact-centre-kpi"
#: The servers here hold an alert's ``for:`` and ``keep_firing_for:`` this many times shorter than the
#: shipped rules: the tests prove each rule's expression against real series, and a real wait of the
#: full holds (90 s for a wait breach to fire and clear) would add minutes to the suite. The holds
#: themselves are checked at full length by promtool (deploy/prometheus/alerts.test.yml).
HOLD_DIVISOR = 10
_DURATION = re.compile(r"(\d+)([smh])")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass
class Prometheus:
    url: str

    def _get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        return document["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query; the result vector."""
        return self._get("/api/v1/query", query=promql)["result"]

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """Active (pending or firing) alerts called ``name``."""
        return [alert for alert in self._get("/api/v1/alerts")["alerts"] if alert["labels"]["alertname"] == name]


def shortened_holds(rules: Path, workdir: Path) -> Path:
    """A copy of the rule file ``rules`` in ``workdir`` with every hold divided by :data:`HOLD_DIVISOR`."""
    document = yaml.safe_load(rules.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            for hold in ("for", "keep_firing_for"):
                if hold in rule:
                    rule[hold] = f"{max(1, seconds(rule[hold]) // HOLD_DIVISOR)}s"
    copy = workdir / rules.name
    copy.write_text(yaml.safe_dump(document, sort_keys=False))
    return copy


def seconds(duration: str) -> int:
    """A Prometheus duration made of s, m and h parts ("1m30s") in seconds."""
    parts = _DURATION.findall(duration)
    if "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a duration of s, m and h: {duration!r}")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


@contextmanager
def running_prometheus(target: str, workdir: Path, basic_auth: tuple[str, str] | None = None) -> Iterator[Prometheus]:
    """Prometheus scraping ``target`` (host:port), with ``basic_auth`` (user name, password) if given,
    and evaluating the rules every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed; `make test` installs it (Debian package prometheus)")
    job: dict[str, Any] = {"job_name": JOB, "static_configs": [{"targets": [target]}]}
    if basic_auth is not None:
        # As deploy/prometheus/prometheus.yml's example: the password in a file of its own.
        password_file = workdir / "scrape-password"
        password_file.write_text(basic_auth[1])
        job["basic_auth"] = {"username": basic_auth[0], "password_file": str(password_file)}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(shortened_holds(path, workdir)) for path in RULES],
        "scrape_configs": [job],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(process, server.url + "/-/ready", log_path, "prometheus", timeout=60)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
