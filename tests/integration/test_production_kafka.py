"""Production Kafka: a broker behind TLS serves the worker, ``simulate`` and ``replay`` with its CA;
every start-up failure (wrong CA, no SASL, wrong protocol, no broker) is one line with status 2;
every topic the project creates has KPI_REPLICATION_FACTOR replicas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from stream.tools.embedded_broker import EmbeddedBroker, free_port, start_embedded_broker
from tests.integration.conftest import running_worker, wait_for
from tests.integration.events import iso
from tests.integration.scrape import series
from tests.integration.tls import Certificates, TlsProxy, make_certificates

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_broker(certificates: Certificates) -> Iterator[EmbeddedBroker]:
    """The embedded broker reached only through the TLS proxy: it advertises the proxy's port."""
    listener, front = free_port(), free_port()
    broker = start_embedded_broker(port=listener, advertised_port=front)
    try:
        with TlsProxy(front, listener, certificates):
            yield broker
    finally:
        broker.stop()


def tls_settings(certificates: Certificates, ca: Path | None = None) -> dict[str, str]:
    return {"KPI_SECURITY_PROTOCOL": "SSL", "KPI_SSL_CAFILE": str(ca or certificates.ca)}


def run_command(*args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("KPI_")}
    return subprocess.run(
        [sys.executable, "-m", "stream", *args], env={**clean, **env}, capture_output=True, text=True, timeout=timeout
    )


def test_worker_simulate_and_replay_through_tls(
    tls_broker: EmbeddedBroker, certificates: Certificates, tmp_path: Path
) -> None:
    settings = tls_settings(certificates)
    with running_worker(tls_broker, tmp_path, **settings) as worker:
        env = {name: value for name, value in worker.env.items() if name.startswith("KPI_")}
        simulated = run_command(
            "simulate", "--rate", "20", "--duration", "4", "--queues", "tls-simulated", "--seed", "3", env=env
        )
        assert simulated.returncode == 0, simulated.stderr
        now = time.time()
        lines = [
            json.dumps(
                {
                    "event_id": f"r-{n}",
                    "type": "contact.queued",
                    "ts": iso(now - 60 + n),
                    "contact_id": f"tls-r-{n}",
                    "queue": "tls-replayed",
                }
            )
            for n in range(7)
        ]
        replay_file = tmp_path / "calls.jsonl"
        replay_file.write_text("\n".join(lines) + "\n")
        replayed = run_command("replay", str(replay_file), env=env)
        assert replayed.returncode == 0, replayed.stderr
        offered = series("contact_centre_contacts_offered", queue="tls-replayed", channel="voice", window="15m")
        wait_for(lambda: worker.metrics().get(offered) == 7)
        simulated_offered = series(
            "contact_centre_contacts_offered", queue="tls-simulated", channel="voice", window="15m"
        )
        wait_for(lambda: worker.metrics().get(simulated_offered, 0) > 0)


@pytest.mark.parametrize("command", [["worker"], ["simulate", "--duration", "1"], ["replay", "{file}"]])
def test_a_ca_that_did_not_sign_the_broker_stops_each_command_with_one_line(
    tls_broker: EmbeddedBroker, certificates: Certificates, tmp_path: Path, command: list[str]
) -> None:
    events = tmp_path / "events.jsonl"  # one good event: replay checks its file before the broker
    events.write_text(
        '{"event_id":"e-1","type":"contact.queued","ts":"2026-01-01T00:00:00Z","contact_id":"c-1",'
        '"queue":"sales","channel":"voice"}\n'
    )
    env = {
        "KPI_BROKER": tls_broker.url,
        "KPI_DATA_DIR": str(tmp_path),
        **tls_settings(certificates, certificates.other_ca),
    }
    result = run_command(*(part.format(file=events) for part in command), env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line == (
        f"python -m stream {command[0]}: error: TLS handshake with {tls_broker.bootstrap} failed: "
        "unable to get local issuer certificate (check KPI_SSL_CAFILE)"
    )


@pytest.mark.parametrize(
    ("settings", "failure"),
    [
        (
            {
                "KPI_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KPI_SASL_MECHANISM": "SCRAM-SHA-512",
                "KPI_SASL_USERNAME": "kpi",
                "KPI_SASL_PASSWORD": "secret-password",
            },
            "the broker at {address} does not offer SASL SCRAM-SHA-512 (check KPI_SASL_MECHANISM and "
            "KPI_SECURITY_PROTOCOL)",
        ),
        # A plaintext broker takes the TLS greeting for the start of a request and waits for the rest.
        (
            {"KPI_SECURITY_PROTOCOL": "SSL"},
            "no answer from {address} within 10 s (check KPI_BROKER and KPI_SECURITY_PROTOCOL)",
        ),
    ],
)
def test_a_broker_that_speaks_neither_sasl_nor_tls_stops_the_worker_with_one_line(
    broker: EmbeddedBroker, tmp_path: Path, settings: dict[str, str], failure: str
) -> None:
    result = run_command("worker", env={"KPI_BROKER": broker.url, "KPI_DATA_DIR": str(tmp_path), **settings})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("python -m stream worker: error: " + failure.format(address=broker.bootstrap)), line
    assert "secret-password" not in result.stderr


def test_plaintext_to_a_tls_listener_says_which_setting_to_check(tls_broker: EmbeddedBroker, tmp_path: Path) -> None:
    result = run_command("worker", env={"KPI_BROKER": tls_broker.url, "KPI_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line == (
        f"python -m stream worker: error: the broker at {tls_broker.bootstrap} closed the connection "
        "(check KPI_SECURITY_PROTOCOL: PLAINTEXT may not be what it expects)"
    )


def test_no_broker_at_the_address_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = run_command("worker", env={"KPI_BROKER": f"kafka://127.0.0.1:{port}", "KPI_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"python -m stream worker: error: cannot connect to 127.0.0.1:{port}: "), line
    assert line.endswith("(check KPI_BROKER)")


def test_every_topic_the_worker_creates_has_the_replication_factor(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Inputs, dead letters, alerts and the internal topics through the admin client; the
    changelogs through Faust (the embedded broker records replicas on its one node)."""
    with running_worker(broker, tmp_path, KPI_REPLICATION_FACTOR="3") as worker:
        app_id = worker.env["KPI_APP_ID"]
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            ours = [name for name in admin.list_topics() if name.startswith(app_id) or name in worker.topics.values()]
            replicas = {
                topic["name"]: {len(p["replica_nodes"]) for p in topic["partitions"]}
                for topic in admin.describe_topics(ours)
            }
        finally:
            admin.close()
    assert set(worker.topics.values()) <= set(replicas)
    assert any(name.endswith("-changelog") for name in replicas), sorted(replicas)
    assert {name: counts for name, counts in replicas.items() if counts != {3}} == {}
