"""Command line: ``python -m stream worker | demo | simulate | replay``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from stream.config.connection import BrokerUnusable
from stream.config.settings import ConfigError, Settings, load_settings
from stream.faust_ext.compat import check_versions
from stream.tools.replay import Format
from stream.tools.simulator import SimulationConfig

if TYPE_CHECKING:
    from kafka import KafkaProducer

    from stream.config.connection import KafkaConnection
    from stream.tools.embedded_broker import EmbeddedBroker

log = logging.getLogger("stream")


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
    parser.add_argument("--rate", type=_positive_float, default=defaults.rate,
                        help="new contacts per second (default %(default)s)")  # fmt: skip
    parser.add_argument("--queues", type=_queue_list, default=defaults.queues,
                        help="comma-separated queue names (default sales,support,billing)")  # fmt: skip
    parser.add_argument("--agents", type=_positive_int, default=defaults.agents,
                        help="agents staffing the queues (default %(default)s)")  # fmt: skip
    parser.add_argument("--chat-share", type=float, default=defaults.chat_share,
                        help="share of contacts that are chats (default %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable stream")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m stream", description="Contact-centre KPI stream processor.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    commands.add_parser(
        "worker", help="run one worker",
        description="Run one worker of the consumer group KPI_APP_ID. Configured by KPI_* variables; "
        "KPI_BROKER unset starts an embedded broker.",
    )  # fmt: skip
    demo = commands.add_parser(
        "demo", help="embedded broker + worker + simulator",
        description="Start the embedded broker (when KPI_BROKER is unset), a worker and the simulator, until Ctrl-C.",
    )  # fmt: skip
    _add_simulation_options(demo)
    simulate = commands.add_parser(
        "simulate", help="produce a live contact-centre event stream",
        description="Produce a realistic live stream of calls, chats, tickets, surveys and agent states to KPI_BROKER "
                    "until Ctrl-C or --duration.",
    )  # fmt: skip
    _add_simulation_options(simulate)
    simulate.add_argument("--duration", type=_positive_float, default=None, help="stop after this many seconds")
    replay = commands.add_parser(
        "replay", help="load a file of historical events into the topics",
        description="Produce the events of a JSON-lines or CSV file to their topics (KPI_BROKER), at full speed or "
        "at a multiple of their own pace. Invalid lines are reported with their line number and not sent.",
    )  # fmt: skip
    replay.add_argument("file", type=Path, help="events, one per line (.jsonl) or per row (.csv, with a header)")
    replay.add_argument("--format", choices=("jsonl", "csv"), default=None, help="default: from the file name")
    replay.add_argument("--speed", type=_positive_float, default=None,
                        help="replay at this multiple of the events' own pace "
                             "(default: as fast as possible)")  # fmt: skip
    return parser


#: The demo's queue settings when KPI_CONFIG is unset: thresholds and some targets.
DEMO_QUEUE_CONFIG = Path(__file__).with_name("demo_queues.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
    problem = problem or _broker_problem(args.command, settings)
    if problem is not None:
        print(f"python -m stream {args.command}: error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "worker":
            return run_worker(settings)
        if args.command == "demo":
            assert simulation is not None
            return run_demo(settings, simulation, args.seed)
        if args.command == "replay":
            fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "jsonl")
            return run_replay(settings, args.file, fmt, args.speed)
        assert simulation is not None
        return run_simulator(settings, simulation, args.seed, args.duration)
    except (BrokerUnusable, ConfigError) as exc:
        print(f"python -m stream {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _broker_problem(command: str, settings: Settings) -> str | None:
    """Why ``command`` cannot run with KPI_BROKER as set: only ``demo`` starts the embedded broker
    unasked, so a worker with a missing or misspelt setting never looks healthy while reading nothing."""
    if settings.broker is None and command != "demo":
        return "KPI_BROKER is not set: kafka://host:9092 for a Kafka cluster, or 'embedded' for a broker of its own"
    if settings.embedded_broker and command in ("simulate", "replay"):
        return f"KPI_BROKER=embedded: {command} needs the address of the broker the worker uses (kafka://host:port)"
    return None


def _with_embedded_broker(settings: Settings) -> tuple[Settings, EmbeddedBroker | None]:
    """Start the embedded broker when the settings ask for it (unset in ``demo``, or ``embedded``)."""
    from stream.tools.embedded_broker import start_embedded_broker

    if settings.broker is not None and not settings.embedded_broker:
        return settings, None
    broker = start_embedded_broker()
    log.info("embedded broker listening on %s", broker.url)
    return settings.model_copy(update={"broker": broker.url}), broker


def _connect(settings: Settings, command: str) -> KafkaConnection:
    """The brokers' connection, checked, and the topics every command needs created."""
    from stream.config.connection import connection_of
    from stream.pipeline.topics import partitioned_topics, required_topics
    from stream.tools.admin import check_connection, create_topics

    connection = connection_of(settings)
    asyncio.run(check_connection(connection))
    log.info("%s: connected to %s (%s)", command, connection.bootstrap, connection.security_protocol)
    create_topics(connection, required_topics(settings), settings.partitions, settings.replication_factor,
                  exact=frozenset(partitioned_topics(settings)))  # fmt: skip
    return connection


def _simulation_config(args: argparse.Namespace) -> SimulationConfig:
    return SimulationConfig(rate=args.rate, queues=args.queues, agents=args.agents, chat_share=args.chat_share)


def run_worker(settings: Settings) -> int:
    """Run a worker until SIGINT/SIGTERM, with an embedded broker if KPI_BROKER=embedded."""
    settings, broker = _with_embedded_broker(settings)
    try:
        return _serve(settings, fresh_broker=broker is not None)
    finally:
        if broker is not None:
            broker.stop()


def _serve(settings: Settings, fresh_broker: bool) -> int:
    """Run the worker; ``fresh_broker``: the broker was just started empty (the embedded one)."""
    from stream.faust_ext.gcpolicy import FreezingWorker, collect_less_often, freeze_long_lived
    from stream.faust_ext.stores import forget_local_state
    from stream.pipeline.app import create_pipeline

    _connect(settings, "worker")
    pipeline = create_pipeline(settings)
    table_dir = Path(pipeline.app.conf.tabledir)
    if fresh_broker and settings.store == "rocksdb" and forget_local_state(table_dir):
        log.warning("removed tables kept in %s: the embedded broker starts without their changelogs", table_dir)
    worker = FreezingWorker(pipeline.app, loglevel=settings.log_level)
    # Faust's terminal spinner sets the root logger to DEBUG at levels WARN and above, which
    # makes every debug call on the hot path build a log record; a service has no terminal.
    worker.spinner = None
    freeze_long_lived()  # what was imported and built so far lives as long as the process
    collect_less_often()
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_demo(settings: Settings, simulation: SimulationConfig, seed: int | None) -> int:
    """Broker, simulator (a child process, so it does not compete for the worker's GIL) and worker."""
    settings, broker = _with_embedded_broker(settings)
    assert settings.broker is not None
    simulator_args = [
        sys.executable, "-m", "stream", "simulate",
        "--rate", str(simulation.rate), "--queues", ",".join(simulation.queues),
        "--agents", str(simulation.agents), "--chat-share", str(simulation.chat_share),
    ] + (["--seed", str(seed)] if seed is not None else [])  # fmt: skip
    # A session of its own, like the broker's: the parent stops the children in order.
    simulator = subprocess.Popen(
        simulator_args, env={**os.environ, "KPI_BROKER": settings.broker}, start_new_session=True
    )
    port = settings.web_port
    log.info(
        "demo running: http://localhost:%d/metrics  http://localhost:%d/api/kpis  http://localhost:%d/healthz",
        port, port, port,
    )  # fmt: skip
    try:
        return _serve(settings, fresh_broker=broker is not None)
    finally:
        try:
            simulator.terminate()
            simulator.wait(timeout=15)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
        finally:
            if broker is not None:
                broker.stop()


def run_simulator(settings: Settings, config: SimulationConfig, seed: int | None, duration: float | None) -> int:
    from stream.pipeline.topics import input_topic_of
    from stream.tools.simulator import Simulation, encode, paced

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    producer = _producer(settings, _connect(settings, "simulate"), linger_ms=20)
    topic_of = input_topic_of(settings)
    start = time.time()
    sent = 0
    try:
        simulation = Simulation(config, start=start, seed=seed)
        for source, event in paced(simulation, until=None if duration is None else start + duration):
            key = event.get("agent_id") if source == "agent" else event.get("contact_id")
            producer.send(topic_of[source], key=key.encode() if key else None, value=encode(event))  # type: ignore[index]
            sent += 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the flush short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        producer.flush(timeout=10)
        producer.close(timeout=10)
        log.info("simulator stopped after %d events", sent)
    return 0


def run_replay(settings: Settings, path: Path, fmt: Format, speed: float | None) -> int:
    """Produce the file's events to their topics; 0 when every line was sent, 1 if some were invalid."""
    from stream.pipeline.topics import input_topic_of
    from stream.tools.replay import BadLine, read

    try:
        total = sum(1 for _ in path.open("rb"))
        lines = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        print(f"python -m stream replay: error: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    producer = _producer(settings, _connect(settings, "replay"), linger_ms=20, batch_size=262_144)
    topic_of = input_topic_of(settings)
    progress = Progress(path.name, total)
    sent: dict[str, int] = dict.fromkeys(topic_of, 0)
    invalid = 0
    first_ts: float | None = None
    started = time.monotonic()
    interrupted = False
    try:
        with lines:
            for item in read(lines, fmt):
                if isinstance(item, BadLine):
                    invalid += 1
                    progress.note(f"{path}:{item.line}: {item.reason}")
                else:
                    if speed is not None:
                        first_ts = item.ts if first_ts is None else first_ts
                        time.sleep(max(0.0, (item.ts - first_ts) / speed - (time.monotonic() - started)))
                    producer.send(topic_of[item.source], key=item.key, value=item.value)
                    sent[item.source] += 1
                progress.show(item.line)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        producer.flush(timeout=60)
        producer.close(timeout=10)
    elapsed = time.monotonic() - started
    count = sum(sent.values())
    by_source = ", ".join(f"{source} {n}" for source, n in sent.items() if n)
    progress.done(
        f"{'interrupted: ' if interrupted else ''}replayed {count} events from {path} in {elapsed:.1f} s "
        f"({count / max(elapsed, 1e-9):.0f}/s){': ' + by_source if by_source else ''}; "
        f"{invalid} invalid line{'s' if invalid != 1 else ''} not sent"
    )
    return 130 if interrupted else (1 if invalid else 0)


class Progress:
    """A progress bar on stderr when it is a terminal, else a line every 10 %."""

    def __init__(self, name: str, total: int) -> None:
        self._name, self._total = name, max(total, 1)
        self._tty = sys.stderr.isatty()
        self._shown_at = 0.0
        self._tenth = 0

    def show(self, line: int) -> None:
        share = min(line / self._total, 1.0)
        if self._tty:
            if time.monotonic() - self._shown_at >= 0.2:
                self._shown_at = time.monotonic()
                bar = "#" * int(share * 30)
                print(f"\r{self._name} [{bar:<30}] {share:4.0%} {line}/{self._total} lines", end="", file=sys.stderr)
        elif int(share * 10) > self._tenth:
            self._tenth = int(share * 10)
            print(f"{self._name}: {share:.0%} ({line}/{self._total} lines)", file=sys.stderr)

    def note(self, message: str) -> None:
        print(("\r\033[K" if self._tty else "") + message, file=sys.stderr)

    def done(self, summary: str) -> None:
        print(("\r\033[K" if self._tty else "") + summary, file=sys.stderr)


def _producer(settings: Settings, connection: KafkaConnection, **options: Any) -> KafkaProducer:
    from kafka import KafkaProducer

    compression = None if settings.compression == "none" else settings.compression
    return KafkaProducer(compression_type=compression, **connection.client_options(), **options)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
