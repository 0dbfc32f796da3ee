"""``python -m stream check``: every problem of the environment and the queue file at once, without a broker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stream.tools.cli import main

BROKER = {"KPI_BROKER": "kafka://kafka-1:9092"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KPI_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("KPI_"):
            monkeypatch.delenv(name)


def check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> tuple[int, list[str]]:
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    status = main(["check"])
    captured = capsys.readouterr()
    assert captured.err == ""
    return status, captured.out.splitlines()


@pytest.mark.parametrize(
    ("queues", "environ", "expected"),
    [
        pytest.param(
            "defaults:\n  service_level_target: 80\n",
            BROKER,
            ["{file}: defaults.service_level_target: Input should be less than or equal to 1; did you mean 0.8?"],
            id="percentage-target",
        ),
        pytest.param(
            "queues:\n  sales:\n    service_level_secs: 30\n",
            BROKER,
            ["{file}: queues.sales.service_level_secs: unknown key; did you mean service_level_seconds?"],
            id="misspelt-key",
        ),
        pytest.param(
            "queues:\n  sales:\n    service_level_seconds: 20\n  support\n    wait_alert_seconds: 30\n",
            BROKER,
            [
                "{file}: line 5, column 23: not valid YAML: could not find expected ':' "
                "(while scanning a simple key from line 4)"
            ],
            id="yaml-syntax-error",
        ),
        pytest.param(
            "queues:\n  sales:\n    service_level_seconds: 0\n  support:\n    wait_alert_seconds: -1\n",
            BROKER,
            [
                "{file}: queues.sales.service_level_seconds: Input should be greater than 0",
                "{file}: queues.support.wait_alert_seconds: Input should be greater than 0",
            ],
            id="two-bad-queues",
        ),
        pytest.param(
            "queues:\n  sales: {}\n",
            {**BROKER, "KPI_SASL_PASWORD": "secret", "KPI_WINDOW": "15m"},
            [
                "environment: KPI_SASL_PASWORD is not a setting; did you mean KPI_SASL_PASSWORD?",
                "environment: KPI_WINDOW is not a setting; did you mean KPI_WINDOWS?",
            ],
            id="unknown-variables",
        ),
        pytest.param(
            "queues:\n  sales:\n    service_level_target: 95\n",
            {"KPI_WEB_PORT": "http"},
            [
                "environment: KPI_WEB_PORT: Input should be a valid integer, unable to parse string as an integer",
                "{file}: queues.sales.service_level_target: Input should be less than or equal to 1; "
                "did you mean 0.95?",
            ],
            id="a-bad-variable-and-the-file",
        ),
        pytest.param(
            "queues: {}\n",
            {},
            [
                "environment: KPI_BROKER is not set: kafka://host:9092 for a Kafka cluster, or 'embedded' for a "
                "broker of its own"
            ],
            id="no-broker",
        ),
    ],
)
def test_every_problem_is_a_line_naming_its_place_and_the_status_is_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    queues: str,
    environ: dict[str, str],
    expected: list[str],
) -> None:
    file = tmp_path / "queues.yaml"
    file.write_text(queues, encoding="utf-8")
    status, lines = check(monkeypatch, capsys, {"KPI_CONFIG": str(file), **environ})
    assert (status, lines) == (2, [line.format(file=file) for line in expected])


def test_a_good_configuration_is_one_line_saying_what_was_checked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "queues.yaml"
    file.write_text("queues:\n  sales: {}\n  support: {}\ngroups:\n  north: [sales, support]\n", encoding="utf-8")
    environ = {
        **BROKER,
        "KPI_CONFIG": str(file),
        "KPI_WINDOWS": "15m,today",
        "KPI_STAFFING_HANDLE_WINDOW": "today",
        "KPI_TIMEZONE": "Europe/Warsaw",
    }
    assert check(monkeypatch, capsys, environ) == (
        0,
        [f"ok: 5 KPI_* variables; {file}: 2 queues, 1 group; windows 15m, today (Europe/Warsaw)"],
    )


def test_without_a_queue_file_every_queue_has_the_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(monkeypatch, capsys, {"KPI_BROKER": "embedded"}) == (
        0,
        ["ok: 1 KPI_* variable; KPI_CONFIG unset: every queue has the built-in defaults; windows 15m, 1h, today (UTC)"],
    )


def test_tls_files_are_read_as_the_worker_would(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    status, lines = check(
        monkeypatch, capsys, {**BROKER, "KPI_SECURITY_PROTOCOL": "SSL", "KPI_SSL_CAFILE": str(not_pem)}
    )
    assert status == 2
    assert [line.split(" (")[0] for line in lines] == [f"environment: KPI_SSL_CAFILE: {not_pem}: not a PEM CA bundle"]
