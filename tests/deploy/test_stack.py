"""docker-compose.yml, the Dockerfile, the Prometheus config and the Grafana provisioning, checked
without a Docker engine: by docker-compose's own parser, promtool, and cross-references."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "contact-centre.json"


def run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; `make test` installs it")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The file as docker-compose resolves it."""
    return yaml.safe_load(run("docker-compose", "config"))


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "worker", "simulator", "prometheus", "alertmanager", "grafana"}


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), (name, image)
        assert not image.endswith(":latest"), (name, image)


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    environment = compose["services"]["kafka"]["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in json.dumps(compose).lower()


def test_worker_and_simulator_use_the_broker_and_the_image(compose: dict[str, Any]) -> None:
    worker, simulator = compose["services"]["worker"], compose["services"]["simulator"]
    assert worker["build"]["context"] == str(ROOT)
    assert worker["image"] == simulator["image"]
    for service in (worker, simulator):
        assert service["environment"]["KPI_BROKER"] == "kafka://kafka:9092"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    # docker-compose resolves bind mounts to absolute 'source:target[:mode]'; named volumes stay names.
    volumes = [volume for service in compose["services"].values() for volume in service.get("volumes", [])]
    mounts = [volume.split(":")[0] for volume in volumes if volume.startswith("/")]
    assert len(mounts) == 7
    for source in mounts:
        assert Path(source).exists(), source


def test_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), source
    assert 'CMD ["python", "-m", "stream", "worker"]' in dockerfile


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    """With the rule file paths as mounted in the container replaced by the repository's."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml", "/etc/prometheus/recording.yml"]
    config["rule_files"] = [str(DEPLOY / "prometheus" / Path(path).name) for path in config["rule_files"]]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    run("promtool", "check", "config", str(local))
    [job] = config["scrape_configs"]
    assert job["job_name"] == "contact-centre-kpi"  # what the alert rules select on


def test_every_rule_file_is_mounted_where_prometheus_reads_it(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in compose["services"]["prometheus"]["volumes"]}
    for path in config["rule_files"]:
        assert mounted[path] == str(DEPLOY / "prometheus" / Path(path).name)


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasources = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [datasource] = datasources["datasources"]
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "contact-centre-kpis"
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"queue", "channel", "window"}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert all(target["datasource"]["uid"] == datasource["uid"] for target in panel["targets"]), panel["title"]
    # Panels for every windowed KPI of SPEC §5.
    queries = " ".join(target["expr"] for panel in panels for target in panel["targets"])
    for kpi in (
        "contacts_offered",
        "contacts_answered",
        "contacts_abandoned",
        "average_wait_seconds",
        "max_wait_seconds",
        "service_level_ratio",
        "abandon_ratio",
        "average_handle_seconds",
        "fcr_ratio",
        "average_first_response_seconds",
        "average_resolution_seconds",
        "csat_score",
        "csat_satisfied_ratio",
        "nps_score",
        "ces_score",
        "contacts_waiting",
        "oldest_waiting_seconds",
        "agents",
        "repeat_contact_ratio",
        "employee_nps_score",
        "wait_seconds_bucket",
        "handle_seconds_bucket",
        "wait_threshold_seconds",
    ):
        assert f"contact_centre_{kpi}" in queries, kpi
