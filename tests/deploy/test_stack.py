"""docker-compose.yml, the Dockerfile, the Prometheus config and the Grafana provisioning, checked
without a Docker engine: by docker-compose's own parser, promtool, and cross-references."""

from __future__ import annotations

import json
import os
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


# docker-compose refuses to run without a Grafana password: no default one.
ENVIRONMENT = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "test-password"}
WORKERS = ("worker-1", "worker-2")


def run(*command: str, environment: dict[str, str] = ENVIRONMENT, check: bool = True) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; `make test` installs it")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, env=environment)
    assert (result.returncode == 0) is check, result.stdout + result.stderr
    return result.stdout + ("" if check else result.stderr)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The file as docker-compose resolves it."""
    return yaml.safe_load(run("docker-compose", "config"))


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", *WORKERS, "simulator", "prometheus", "alertmanager", "grafana"}


def test_demo_profile_is_valid_and_only_it_has_the_simulator(compose: dict[str, Any]) -> None:
    """docker-compose 1.x lists every service in `config`; `up` starts those without profiles."""
    demo = yaml.safe_load(run("docker-compose", "--profile", "demo", "config"))
    assert set(demo["services"]) == set(compose["services"])
    default = {name for name, service in compose["services"].items() if not service.get("profiles")}
    assert default == set(compose["services"]) - {"simulator"}
    assert compose["services"]["simulator"]["profiles"] == ["demo"]


def test_every_service_has_a_health_check_restart_policy_limits_and_log_rotation(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] == "unless-stopped", name
        assert service["mem_limit"] and service["cpus"], name
        assert service["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(service["logging"]["options"]), name


def test_health_checks_probe_their_own_port() -> None:
    """The worker's check follows KPI_WEB_PORT; the simulator, which serves nothing, has its own."""
    moved = yaml.safe_load(run("docker-compose", "config", environment={**ENVIRONMENT, "KPI_WEB_PORT": "7070"}))
    for name in WORKERS:
        worker = moved["services"][name]
        assert "127.0.0.1:7070/healthz" in " ".join(worker["healthcheck"]["test"]), name
        assert worker["environment"]["KPI_WEB_PORT"] == "7070"
        assert worker["environment"]["KPI_WEB_URL"] == f"http://{name}:7070"
        assert [port["target"] for port in worker["ports"]] == [7070]
    assert "healthz" not in " ".join(moved["services"]["simulator"]["healthcheck"]["test"])


def test_two_workers_of_one_application(compose: dict[str, Any]) -> None:
    workers = [compose["services"][name] for name in WORKERS]
    assert {worker["environment"]["KPI_APP_ID"] for worker in workers} == {"contact-centre-kpi"}
    assert [worker["environment"]["KPI_WEB_URL"] for worker in workers] == [f"http://{n}:6066" for n in WORKERS]
    assert len({port["published"] for worker in workers for port in worker["ports"]}) == 2
    data = [next(v for v in worker["volumes"] if v.endswith(":/var/lib/contact-centre:rw")) for worker in workers]
    assert len(set(data)) == 2


def test_grafana_has_no_default_password(compose: dict[str, Any]) -> None:
    environment = {k: v for k, v in ENVIRONMENT.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    assert "GRAFANA_ADMIN_PASSWORD" in run("docker-compose", "config", environment=environment, check=False)
    grafana = compose["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "test-password"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), (name, image)
        assert not image.endswith(":latest"), (name, image)


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    environment = compose["services"]["kafka"]["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in json.dumps(compose).lower()


def test_workers_and_simulator_use_the_broker_and_the_image(compose: dict[str, Any]) -> None:
    workers = [compose["services"][name] for name in WORKERS]
    simulator = compose["services"]["simulator"]
    assert workers[0]["build"]["context"] == str(ROOT)
    assert {worker["image"] for worker in workers} == {simulator["image"]}
    for service in (*workers, simulator):
        assert service["environment"]["KPI_BROKER"] == "kafka://kafka:9092"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    # docker-compose resolves bind mounts to absolute 'source:target[:mode]'; named volumes stay names.
    volumes = [volume for service in compose["services"].values() for volume in service.get("volumes", [])]
    mounts = [volume.split(":")[0] for volume in volumes if volume.startswith("/")]
    assert len(mounts) == 8
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
    [targets] = job["static_configs"]
    assert targets["targets"] == [f"{name}:6066" for name in WORKERS]


def test_every_rule_file_is_mounted_where_prometheus_reads_it(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in compose["services"]["prometheus"]["volumes"]}
    for path in config["rule_files"]:
        assert mounted[path] == str(DEPLOY / "prometheus" / Path(path).name)


def test_dashboard_takes_its_datasource_from_a_variable_defaulting_to_the_provisioned_one() -> None:
    datasources = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [datasource] = datasources["datasources"]
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "contact-centre-kpis"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) == {"datasource", "group", "queue", "channel", "window"}
    chooser = variables["datasource"]
    assert (chooser["type"], chooser["query"], chooser["current"]["value"]) == (
        "datasource",
        "prometheus",
        datasource["uid"],
    )
    # Every query goes to the chosen data source, so the dashboard imports into any Grafana.
    assert DASHBOARD.read_text().count(datasource["uid"]) == 1  # the variable's default, nowhere else
    for name, variable in variables.items():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", name
    [alerts] = dashboard["annotations"]["list"]  # firing alerts drawn on every panel
    assert alerts["datasource"]["uid"] == "${datasource}" and 'alertstate="firing"' in alerts["expr"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(target["datasource"]["uid"] == "${datasource}" for target in panel["targets"]), panel["title"]
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
