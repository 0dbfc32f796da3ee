"""``python -m stream check``: every problem of the configuration at once, without a broker.

What a worker would refuse at start-up, one per line, where the worker stops at the first: the
``KPI_*`` environment, the ``KPI_CONFIG`` queue file, and the start-up checks that need no broker
(``KPI_BROKER`` set, the TLS files, the versions of Faust and aiokafka).
"""

from __future__ import annotations

from collections.abc import Mapping

from stream.config.connection import ssl_context_of
from stream.config.queue_config import ConfigError, QueueConfig, read_queue_config
from stream.config.settings import Settings, queue_file, read_settings
from stream.faust_ext.compat import check_versions


def run_check(environ: Mapping[str, str]) -> int:
    """Print every problem and return 2, or print one line saying what was checked and return 0."""
    settings, problems = read_settings(environ)
    # The queue file is checked even when another setting is bad: every problem is listed at once.
    config, file_problems = read_queue_config(settings.config if settings is not None else queue_file())
    problems += file_problems
    if settings is not None:
        problems += _start_up_problems(settings)
    for problem in problems:
        print(problem)
    if problems or settings is None or config is None:
        return 2
    print(_summary(environ, settings, config))
    return 0


def broker_problem(command: str, settings: Settings) -> str | None:
    """Why ``command`` cannot run with KPI_BROKER as set: only ``demo`` starts the embedded broker
    unasked, so a worker with a missing or misspelt setting never looks healthy while reading nothing."""
    if settings.broker is None and command != "demo":
        return "KPI_BROKER is not set: kafka://host:9092 for a Kafka cluster, or 'embedded' for a broker of its own"
    if settings.embedded_broker and command in ("simulate", "replay"):
        return f"KPI_BROKER=embedded: {command} needs the address of the broker the worker uses (kafka://host:port)"
    return None


def _start_up_problems(settings: Settings) -> list[str]:
    problems = []
    if (broker := broker_problem("worker", settings)) is not None:
        problems.append(f"environment: {broker}")
    if settings.security_protocol.endswith("SSL"):
        try:
            ssl_context_of(settings)
        except ConfigError as exc:
            problems.append(str(exc))
    if (versions := check_versions()) is not None:
        problems.append(f"installed packages: {versions}")
    return problems


def _summary(environ: Mapping[str, str], settings: Settings, config: QueueConfig) -> str:
    variables = sum(name.startswith("KPI_") for name in environ)
    if settings.config is None:
        queues = "KPI_CONFIG unset: every queue has the built-in defaults"
    else:
        queues = f"{settings.config}: {_count(len(config.queues), 'queue')}, {_count(len(config.groups), 'group')}"
    windows = ", ".join(window.name for window in settings.window_list)
    return f"ok: {_count(variables, 'KPI_* variable')}; {queues}; windows {windows} ({settings.timezone})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
