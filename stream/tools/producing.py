"""``python -m stream simulate`` and ``replay``: events produced to the input topics."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from kafka import KafkaProducer

from stream.config.connection import KafkaConnection
from stream.config.settings import Settings
from stream.pipeline.topics import input_topic_of
from stream.tools.broker_connection import connect
from stream.tools.replay import BadLine, Format, UnusableFile, exit_status, open_events
from stream.tools.simulator import Simulation, SimulationConfig, encode, paced

log = logging.getLogger("stream")


def run_simulator(settings: Settings, config: SimulationConfig, seed: int | None, duration: float | None) -> int:
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    producer = _producer(settings, connect(settings, "simulate"), linger_ms=20)
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
    """Produce the file's events to their topics; the status of :func:`exit_status`, 2 when the file
    cannot be used (before the broker is asked), 130 when interrupted."""
    try:
        events = open_events(path, fmt)
    except UnusableFile as exc:
        print(f"python -m stream replay: error: {exc.where(path)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    producer = _producer(settings, connect(settings, "replay"), linger_ms=20, batch_size=262_144)
    topic_of = input_topic_of(settings)
    progress = Progress(path.name, events.lines)
    sent: dict[str, int] = dict.fromkeys(topic_of, 0)
    invalid = 0
    first_ts: float | None = None
    started = time.monotonic()
    interrupted = False
    try:
        with events:
            for item in events.items:
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
    return 130 if interrupted else exit_status(count, invalid)


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
    compression = None if settings.compression == "none" else settings.compression
    return KafkaProducer(compression_type=compression, **connection.client_options(), **options)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
