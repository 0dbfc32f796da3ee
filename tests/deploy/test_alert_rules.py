"""The Prometheus alert rules and the Alertmanager example, checked by their own tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


def run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; `make test` installs it (Debian package prometheus)")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_rules_are_valid() -> None:
    assert "SUCCESS: 9 rules found" in run("promtool", "check", "rules", str(RULES))


def test_rules_unit_tests_pass() -> None:
    """Firing, not firing just under a threshold, and resolving: deploy/prometheus/alerts.test.yml."""
    assert "SUCCESS" in run("promtool", "test", "rules", str(RULES.with_name("alerts.test.yml")))


def test_alertmanager_config_is_valid() -> None:
    assert "SUCCESS" in run("amtool", "check-config", str(ALERTMANAGER))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=ContactCentreWaitThresholdBreached", "severity=page", "queue=sales"], "on-call"),
        (["alertname=ContactCentreAbandonRateHigh", "severity=warning", "queue=sales"], "supervisors"),
        (["alertname=ContactCentreNoEventsProcessed", "severity=warning"], "supervisors"),
        (["alertname=SomethingNew"], "on-call"),  # no severity: the root route pages
        (["alertname=ContactCentreKpiOffTarget", "severity=warning", "kpi=csat_score"], "supervisors"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    output = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert output.split("\n")[0].strip() == receiver
