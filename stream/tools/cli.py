"""Command line: ``python -m stream worker | demo | simulate | replay | check``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from stream.config.connection import BrokerUnusable
from stream.config.settings import ConfigError, load_settings
from stream.faust_ext.compat import check_versions
from stream.tools.check import broker_problem, run_check
from stream.tools.replay import REQUIRED_COLUMNS, Format
from stream.tools.replay_check import check_replay_file
from stream.tools.simulator import SimulationConfig

log = logging.getLogger("stream")

#: pyproject's ``[project] name``: ``--version`` gives the version installed, not one written twice.
DISTRIBUTION = "contact-centre-kpi"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, so a supervisor's log shows the reason without the usage block.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _queue_list(text: str) -> tuple[str, ...]:
    queues = tuple(q.strip() for q in text.split(",") if q.strip())
    if not queues:
        raise argparse.ArgumentTypeError("give at least one queue name")
    return queues


def _add_simulation_options(parser: argparse.ArgumentParser) -> None:
    defaults = SimulationConfig()
    parser.add_argument(
        "--rate", type=_positive_float, default=defaults.rate, help="new contacts per second (default %(default)s)"
    )
    parser.add_argument(
        "--queues",
        type=_queue_list,
        default=defaults.queues,
        help="comma-separated queue names (default sales,support,billing)",
    )
    parser.add_argument(
        "--agents", type=_positive_int, default=defaults.agents, help="agents staffing the queues (default %(default)s)"
    )
    parser.add_argument(
        "--chat-share",
        type=float,
        default=defaults.chat_share,
        help="share of contacts that are chats (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable stream")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m stream", description="Contact-centre KPI stream processor.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    commands.add_parser(
        "worker",
        help="run one worker",
        description="Run one worker of the consumer group KPI_APP_ID. Configured by KPI_* variables; "
        "KPI_BROKER unset starts an embedded broker.",
    )
    demo = commands.add_parser(
        "demo",
        help="embedded broker + worker + simulator",
        description="Start the embedded broker (when KPI_BROKER is unset), a worker and the simulator, until Ctrl-C.",
    )
    _add_simulation_options(demo)
    simulate = commands.add_parser(
        "simulate",
        help="produce a live contact-centre event stream",
        description="Produce a realistic live stream of calls, chats, tickets, surveys and agent states to KPI_BROKER "
        "until Ctrl-C or --duration.",
    )
    _add_simulation_options(simulate)
    simulate.add_argument("--duration", type=_positive_float, default=None, help="stop after this many seconds")
    replay = commands.add_parser(
        "replay",
        help="load a file of historical events into the topics",
        description="Produce the events of a JSON-lines or CSV file to their topics (KPI_BROKER), at full speed or "
        "at a multiple of their own pace. Invalid lines are reported with their line number and not sent.",
        epilog="Exit status: 0 every line was an event; 1 some lines were invalid (reported, not sent); "
        "2 nothing to replay: the file cannot be read, is empty or not UTF-8, its CSV header lacks a column every "
        f"event needs ({', '.join(REQUIRED_COLUMNS)}), or it holds no event, or the configuration is bad; "
        "130 interrupted. With --check, the same statuses.",
    )
    replay.add_argument("file", type=Path, help="events, one per line (.jsonl) or per row (.csv, with a header)")
    replay.add_argument("--format", choices=("jsonl", "csv"), default=None, help="default: from the file name")
    replay.add_argument(
        "--speed",
        type=_positive_float,
        default=None,
        help="replay at this multiple of the events' own pace (default: as fast as possible)",
    )
    replay.add_argument(
        "--check",
        action="store_true",
        help="only validate the file, as replay would, without a broker: each invalid line and a summary on stdout",
    )
    commands.add_parser(
        "check",
        help="check the configuration without a broker",
        description="Check the KPI_* environment and the KPI_CONFIG queue file without a broker, and list every "
        "problem, one per line naming the variable, or the file and key; also KPI_BROKER, the TLS files and the "
        "Faust and aiokafka versions, which the worker checks at start-up.",
        epilog="Exit status: 0 all is well (one line says what was checked), 2 some problem.",
    )
    return parser


def _installed_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


#: The demo's queue settings when KPI_CONFIG is unset: thresholds and some targets.
DEMO_QUEUE_CONFIG = Path(__file__).with_name("demo_queues.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The checks need no broker; a replay file's does not even need the configuration.
    if args.command == "check":
        return run_check(os.environ)
    if args.command == "replay" and args.check:
        return check_replay_file(args.file, _format_of(args.file, args.format))
    if args.command == "demo":
        os.environ.setdefault("KPI_CONFIG", str(DEMO_QUEUE_CONFIG))
    try:
        settings = load_settings()
        simulation = _simulation_config(args) if args.command in ("demo", "simulate") else None
    except (ConfigError, ValueError) as exc:
        print(f"python -m stream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs its whole configuration at DEBUG, the SASL password with it.
    logging.getLogger("kafka").setLevel(max(logging.INFO, logging.getLogger().level))
    # A worker refuses a Faust or aiokafka it was not verified against before it starts anything.
    problem = check_versions() if args.command in ("worker", "demo") else None
    problem = problem or broker_problem(args.command, settings)
    if problem is not None:
        print(f"python -m stream {args.command}: error: {problem}", file=sys.stderr)
        return 2
    try:
        # Imported when run: the worker's modules import Faust, which the other commands do not need.
        if args.command == "worker":
            from stream.tools.worker import run_worker

            return run_worker(settings)
        if args.command == "demo":
            from stream.tools.worker import run_demo

            assert simulation is not None
            return run_demo(settings, simulation, args.seed)
        from stream.tools.producing import run_replay, run_simulator

        if args.command == "replay":
            return run_replay(settings, args.file, _format_of(args.file, args.format), args.speed)
        assert simulation is not None
        return run_simulator(settings, simulation, args.seed, args.duration)
    except (BrokerUnusable, ConfigError) as exc:
        print(f"python -m stream {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _format_of(path: Path, given: Format | None) -> Format:
    return given or ("csv" if path.suffix.lower() == ".csv" else "jsonl")


def _simulation_config(args: argparse.Namespace) -> SimulationConfig:
    return SimulationConfig(rate=args.rate, queues=args.queues, agents=args.agents, chat_share=args.chat_share)
