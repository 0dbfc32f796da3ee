"""The commented basic_auth example of deploy/prometheus/prometheus.yml, uncommented, is a valid
scrape config of the worker's job (what an operator gets when following it)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.deploy.test_stack import DEPLOY, run

CONFIG = DEPLOY / "prometheus" / "prometheus.yml"


def uncommented_example(text: str) -> str:
    """``text`` with the ``# basic_auth:`` block (the line and the deeper commented lines after it) uncommented."""
    lines = text.splitlines()
    [start] = [n for n, line in enumerate(lines) if re.fullmatch(r"\s*# basic_auth:", line)]
    indent = lines[start].index("#")
    end = start + 1
    while end < len(lines) and lines[end].startswith(" " * indent + "#   "):
        end += 1
    example = [line[:indent] + line[indent + 2 :] for line in lines[start:end]]
    return "\n".join([*lines[:start], *example, *lines[end:]]) + "\n"


def test_the_basic_auth_example_is_valid_for_the_worker_job(tmp_path: Path) -> None:
    config = yaml.safe_load(uncommented_example(CONFIG.read_text()))
    [job] = config["scrape_configs"]
    assert job["job_name"] == "contact-centre-kpi"
    assert set(job["basic_auth"]) == {"username", "password_file"}  # a file: no password in this one
    config["rule_files"] = [str(DEPLOY / "prometheus" / "alerts.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    run("promtool", "check", "config", str(local))
