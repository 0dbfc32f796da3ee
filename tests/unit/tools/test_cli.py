"""The command line as a user meets it: help, bad arguments and bad configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from stream.tools.cli import DISTRIBUTION, main


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    return subprocess.run(
        [sys.executable, "-m", "stream", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [[], ["worker"], ["demo"], ["simulate"]])
def test_every_command_prints_help(command: list[str]) -> None:
    result = _run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m stream")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["simulate", "--rate", "fast"], "'fast' is not a number"),
        (["simulate", "--rate", "0"], "'0' must be above 0"),
        (["demo", "--agents", "0"], "'0' must be at least 1"),
        (["simulate", "--queues", ","], "give at least one queue name"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], reason: str) -> None:
    result = _run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert reason in result.stderr


def test_bad_queue_file_stops_start_up_naming_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "queues.yaml"
    config.write_text("queues:\n  sales:\n    service_level_seconds: -3\n")
    result = _run("worker", env={"KPI_CONFIG": str(config)})
    assert result.returncode == 2
    assert f"{config}: queues.sales.service_level_seconds: Input should be greater than 0" in result.stderr


def test_bad_environment_stops_start_up_naming_the_variable() -> None:
    result = _run("worker", env={"KPI_TIMEZONE": "Mars/Olympus"})
    assert result.returncode == 2
    assert "KPI_TIMEZONE" in result.stderr and "Mars/Olympus" in result.stderr


@pytest.mark.parametrize("command", ["worker", "simulate", "replay"])
def test_without_a_broker_only_demo_starts_one(command: str, tmp_path: Path) -> None:
    """A worker whose KPI_BROKER is missing (or misspelt) must not look healthy while it reads nothing."""
    args = [command, str(tmp_path / "events.jsonl")] if command == "replay" else [command]
    result = _run(*args)
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m stream {command}: error: KPI_BROKER is not set: kafka://host:9092 for a Kafka "
        "cluster, or 'embedded' for a broker of its own\n"
    )


@pytest.mark.parametrize("command", ["simulate", "replay"])
def test_producers_need_the_address_of_the_workers_broker(command: str, tmp_path: Path) -> None:
    args = [command, str(tmp_path / "events.jsonl")] if command == "replay" else [command]
    result = _run(*args, env={"KPI_BROKER": "embedded"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "KPI_BROKER=embedded" in result.stderr


def test_a_misspelt_variable_stops_start_up_naming_the_right_one() -> None:
    result = _run("worker", env={"KPI_BROKR": "kafka://kafka-1:9092"})
    assert result.returncode == 2
    assert result.stderr == (
        "python -m stream worker: error: environment: KPI_BROKR is not a setting; did you mean KPI_BROKER?\n"
    )


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    assert DISTRIBUTION == pyproject["project"]["name"]
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"python -m stream {version(DISTRIBUTION)}\n"


@pytest.mark.parametrize(
    ("command", "statuses"),
    [("replay", ["0 every line", "1 some lines", "2 nothing"]), ("check", ["0 all is well", "2 some problem"])],
)
def test_help_gives_the_exit_statuses(capsys: pytest.CaptureFixture[str], command: str, statuses: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert [status for status in statuses if status not in text] == []
