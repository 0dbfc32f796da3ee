"""The one gate on library versions (stream.faust_ext.compat), and the worker refusing to start behind it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError

import pytest

from stream.faust_ext import compat
from stream.tools import cli, worker

REFUSAL_TAIL = "only (its overrides of private internals could lose data silently on another version)"


def installed(monkeypatch: pytest.MonkeyPatch, **versions: str | None) -> None:
    """Make the distributions look installed at ``versions`` (keyword: the name with ``_`` for ``-``; None: no
    metadata), the others of VERIFIED at their verified version."""
    found: Mapping[str, str | None] = {**compat.VERIFIED, **{k.replace("_", "-"): v for k, v in versions.items()}}

    def version(distribution: str) -> str:
        if found[distribution] is None:
            raise PackageNotFoundError(distribution)
        return found[distribution]  # type: ignore[return-value]

    monkeypatch.setattr(compat, "version", version)


def test_the_installed_libraries_are_the_verified_ones() -> None:
    """The environment the tests run in is one the worker starts in; if this fails, so does test_internals."""
    assert compat.check_versions() is None


def test_the_verified_versions_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch)
    assert compat.check_versions() is None


def test_another_faust_is_refused_in_one_line_naming_both_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, faust_streaming="0.16.0")
    assert compat.check_versions() == (
        "faust-streaming 0.16.0 is installed; stream.faust_ext was verified against faust-streaming 0.15.3 "
        + REFUSAL_TAIL
    )


@pytest.mark.parametrize(("distribution", "other"), [("aiokafka", "0.13.0"), ("mode-streaming", "0.8.0")])
def test_another_aiokafka_or_mode_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, distribution: str, other: str
) -> None:
    installed(monkeypatch, **{distribution.replace("-", "_"): other})
    assert compat.check_versions() == (
        f"{distribution} {other} is installed; stream.faust_ext was verified against "
        f"{distribution} {compat.VERIFIED[distribution]} " + REFUSAL_TAIL
    )


def test_every_unverified_library_is_named_in_the_same_line(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, faust_streaming="0.16.0", aiokafka=None)
    refusal = compat.check_versions()
    assert refusal == (
        "faust-streaming 0.16.0 and aiokafka (version unknown) are installed; stream.faust_ext was verified "
        "against faust-streaming 0.15.3 and aiokafka 0.14.0 " + REFUSAL_TAIL
    )
    assert "\n" not in refusal


@pytest.fixture()
def worker_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings for a worker of a Kafka cluster (nothing listens there: the gate must stop it first), and the
    ``kafka`` logger's level, which the command line sets, restored afterwards."""
    for name in [name for name in os.environ if name.startswith("KPI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KPI_BROKER", "kafka://127.0.0.1:9")
    kafka_logger = logging.getLogger("kafka")
    level = kafka_logger.level
    yield
    kafka_logger.setLevel(level)


@pytest.mark.usefixtures("worker_environment")
@pytest.mark.parametrize("command", ["worker", "demo"])
def test_the_worker_refuses_to_start_on_another_faust(
    monkeypatch: pytest.MonkeyPatch, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line on stderr and status 2, as for any configuration error, before a broker is contacted or
    (for the demo) started."""
    installed(monkeypatch, faust_streaming="0.16.0")

    def started_too_soon(*args: object) -> None:
        raise AssertionError("a broker was contacted or started before the library versions were checked")

    monkeypatch.setattr(worker, "connect", started_too_soon)
    monkeypatch.setattr(worker, "with_embedded_broker", started_too_soon)
    assert cli.main([command]) == 2
    assert capsys.readouterr().err == (
        f"python -m stream {command}: error: faust-streaming 0.16.0 is installed; stream.faust_ext was verified "
        "against faust-streaming 0.15.3 " + REFUSAL_TAIL + "\n"
    )
