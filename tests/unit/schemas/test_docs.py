"""docs/: the pages name everything the code exports or reads, so they cannot fall behind it: every
metric a worker exports, recording rule (metrics.md), alert rule and its severity (alerting.md),
``KPI_*`` variable, event type and dead-letter reason; no metric the worker does not export; and
every example event of events.md is valid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import jsonschema
import pytest
import yaml

from schemas import decode_event
from schemas.json_schema import event_types
from stream.config.queue_config import SECTIONS, QueueSettings
from stream.config.settings import Settings, variable_of
from stream.ingest.decoding import Reason
from stream.kpi.report import PresenceReport
from stream.serving.metrics import Metrics
from tests.unit.kpi.test_report import CONFIG, reports

ROOT = Path(__file__).parents[3]
DOCS = ROOT / "docs"
#: A metric name where it stands alone: not part of a recording rule's name (``window:contact_centre_…:sum``).
METRIC = re.compile(r"(?<![\w:])contact_centre_[a-z_]+(?![\w:])")
#: A table row of metrics.md that describes a metric.
ROW = re.compile(r"^\| `(contact_centre_[a-z_]+)` \|.*$", re.M)
HISTOGRAM_SERIES = re.compile(r"_(bucket|count|sum)$")
#: The lines of a fenced JSON block.
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```$", re.M | re.S)


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def exported_metrics() -> dict[str, str]:
    """Every metric family a worker's /metrics holds -> its type, from the ``# TYPE`` lines."""
    metrics = Metrics(CONFIG.model_copy(update={"groups": {"north": ("sales", "support")}}))
    metrics.add_health(lambda: None)
    metrics.add_longest_stall(lambda: 0.0)
    presence = [PresenceReport("sales", {"available": 2, "busy": 1})]
    text = metrics.exposition(reports(), presence, {"available": 2, "busy": 1}).decode()
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    assert len(types) > 40
    return types


def test_every_exported_metric_is_in_metrics_md_with_its_type() -> None:
    rows = {match.group(1): match.group(0) for match in ROW.finditer(page("metrics.md"))}
    exported = exported_metrics()
    missing = sorted(set(exported) - set(rows))
    assert not missing, f"docs/metrics.md does not describe {missing}"
    for name, kind in exported.items():
        if kind != "gauge":  # gauges are the default; every other type is said in the row
            assert kind in rows[name], f"docs/metrics.md does not say {name} is a {kind}"


def test_metrics_md_names_no_metric_the_worker_does_not_export() -> None:
    exported = exported_metrics()
    named = set(METRIC.findall(page("metrics.md")))
    # A histogram's series are named after it: contact_centre_wait_seconds_bucket.
    unknown = {name for name in named if name not in exported and HISTOGRAM_SERIES.sub("", name) not in exported}
    assert not unknown, f"docs/metrics.md names metrics no worker exports: {sorted(unknown)}"


@pytest.mark.parametrize(("rules", "name"), [("recording.yml", "metrics.md"), ("alerts.yml", "alerting.md")])
def test_every_prometheus_rule_is_in_its_page(rules: str, name: str) -> None:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / rules).read_text())["groups"]
    names = [rule.get("record") or rule["alert"] for group in groups for rule in group["rules"]]
    text = page(name)
    missing = [rule for rule in names if f"`{rule}`" not in text]
    assert names and not missing, f"docs/{name} does not describe {missing}"


def test_alerting_md_gives_each_alert_its_severity() -> None:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())["groups"]
    severities = {rule["alert"]: rule["labels"]["severity"] for group in groups for rule in group["rules"]}
    rows = dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", page("alerting.md"), re.M))
    assert {alert: rows.get(alert) for alert in severities} == severities


def test_every_setting_is_in_configuration_md() -> None:
    text = page("configuration.md")
    missing = [variable_of(name) for name in Settings.model_fields if f"`{variable_of(name)}`" not in text]
    assert not missing, f"docs/configuration.md does not describe {missing}"
    keys = [*QueueSettings.model_fields, *SECTIONS]
    assert not [key for key in keys if f"`{key}`" not in text and f"{key}:" not in text]


def test_every_event_type_and_dead_letter_reason_is_in_events_md() -> None:
    text = page("events.md")
    assert not [t.name for t in event_types() if f"`{t.name}`" not in text]
    assert not [reason for reason in (*get_args(Reason), "late") if f"`{reason}`" not in text]


def test_every_example_in_events_md_is_an_event_its_schema_accepts() -> None:
    # The alerts topic's example is an output message, not an input event.
    text, alerts, _ = page("events.md").partition("\n## The alerts topic\n")
    lines = [line for block in JSON_BLOCK.findall(text) for line in block.splitlines()]
    assert alerts and lines
    shown: set[str] = set()
    for line in lines:
        document = json.loads(line)
        schema = json.loads((DOCS / "schemas" / f"{document['type']}.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(document)
        assert decode_event(line.encode()).type == document["type"]
        shown.add(document["type"])
    assert shown == {t.name for t in event_types()}, "events.md shows no example of some event type"


def test_docs_readme_links_every_page_and_folder() -> None:
    text = page("README.md")
    entries = [path.name for path in DOCS.iterdir() if path.suffix == ".md" and path.name != "README.md"]
    entries += [f"{path.name}/" for path in DOCS.iterdir() if path.is_dir()]
    assert not [entry for entry in entries if f"]({entry}" not in text]
