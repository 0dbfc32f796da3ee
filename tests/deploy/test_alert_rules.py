"""The Prometheus alert and recording rules and the Alertmanager example, checked by their own tools."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RUNBOOKS = DEPLOY.parent / "docs" / "runbooks.md"
RECORDING = DEPLOY / "prometheus" / "recording.yml"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


def run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; `make test` installs it (Debian package prometheus)")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_rules_are_valid() -> None:
    assert "SUCCESS: 13 rules found" in run("promtool", "check", "rules", str(RULES))


def test_rules_unit_tests_pass() -> None:
    """Firing, not firing just under a threshold, and resolving: deploy/prometheus/alerts.test.yml."""
    assert "SUCCESS" in run("promtool", "test", "rules", str(RULES.with_name("alerts.test.yml")))


def test_every_alert_has_a_unit_test() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    tests = yaml.safe_load(RULES.with_name("alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    assert alerts <= tested, alerts - tested


def test_every_alert_links_its_runbook_section() -> None:
    """A `runbook_url` of docs/runbooks.md#<anchor>, and the page has that heading."""
    headings = re.findall(r"^## (\S+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    anchors = {heading.lower() for heading in headings}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"].get("runbook_url", "")
            path, _, anchor = url.partition("#")
            assert path == "docs/runbooks.md" and anchor == rule["alert"].lower(), (rule["alert"], url)
            assert anchor in anchors, (rule["alert"], "no section in docs/runbooks.md")


def test_alerts_name_no_window() -> None:
    """Windowed alerts select `window!="today"` and keep the window a label, whatever KPI_WINDOWS holds."""
    text = RULES.read_text()
    # `window='%s'` in a template query takes the alert's own window label.
    assert not re.search(r"window\s*=\s*[\"'](?!%s)", text), "a window named in alerts.yml"
    rules = [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]
    windowed = [rule for rule in rules if "window" in rule["expr"]]
    assert len(windowed) == 3
    for rule in windowed:
        assert 'window!="today"' in rule["expr"] and "$labels.window" in rule["annotations"]["summary"], rule["alert"]


def test_recording_rules_are_valid() -> None:
    assert "SUCCESS: 18 rules found" in run("promtool", "check", "rules", str(RECORDING))


def test_recording_rules_unit_tests_pass() -> None:
    """Group and centre service level, abandon rate and ASA are ratios of sums, a queue two workers
    export counts once, no completed waits gives no ratio: deploy/prometheus/recording.test.yml."""
    assert "SUCCESS" in run("promtool", "test", "rules", str(RECORDING.with_name("recording.test.yml")))


def test_recording_rules_keep_the_window_a_label() -> None:
    """No rule names a window: each keeps the `window` label, whatever KPI_WINDOWS holds."""
    text = RECORDING.read_text()
    assert "window=" not in text and '"15m"' not in text
    rules = [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]
    assert all(rule["record"].split(":")[0] in ("window", "group_window") for rule in rules)


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


def test_alertmanager_groups_by_alert_name_and_lists_the_queues() -> None:
    """A centre-wide incident is one notification per alert name, naming each queue and channel."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"]["group_by"] == ["alertname"]
    assert all("group_by" not in route for route in config["route"]["routes"])
    [chat] = next(r for r in config["receivers"] if r["name"] == "supervisors")["slack_configs"]
    assert "{{ .Labels.queue }}/{{ .Labels.channel }}" in chat["text"]
    assert "runbook_url" in chat["text"]
    run("amtool", "template", "render", "--template.glob=/dev/null", f"--template.text={chat['text']}")
