"""stream.config.connection: the security settings, and the client arguments every Kafka client gets (SPEC §7)."""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaProducer

from stream.config.connection import BrokerUnusable, KafkaConnection, bootstrap_of, connection_of
from stream.config.settings import ConfigError, load_settings
from stream.pipeline.faust_app import faust_credentials
from stream.tools.admin import check_connection
from stream.tools.embedded_broker import free_port

#: kafka-python asks the broker for its version unless told: these tests have no broker.
NO_VERSION_PROBE = {"api_version": (2, 5, 0)}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA and a client certificate with its key, made with openssl."""
    directory = tmp_path_factory.mktemp("pem")
    for name in ("ca", "client"):
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={name}",
                "-keyout",
                f"{name}.key",
                "-out",
                f"{name}.pem",
            ],
            cwd=directory,
            check=True,
            capture_output=True,
        )
    (directory / "password").write_text("s3cret\n")
    (directory / "not-pem").write_text("hello\n")
    return {
        "ca": directory / "ca.pem",
        "cert": directory / "client.pem",
        "key": directory / "client.key",
        "password": directory / "password",
        "not-pem": directory / "not-pem",
    }


def settings_with(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    monkeypatch.setenv("KPI_BROKER", "kafka://kafka-1:9093,kafka-2:9093")
    for name, value in variables.items():
        monkeypatch.setenv(f"KPI_{name.upper()}", value)


SASL = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "kpi"}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"security_protocol": "TLS"}, "KPI_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT'"),
        ({**SASL, "sasl_mechanism": "GSSAPI"}, "KPI_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256'"),
        ({"security_protocol": "SASL_SSL"}, "KPI_SASL_MECHANISM: required with KPI_SECURITY_PROTOCOL=SASL_SSL"),
        ({**SASL, "sasl_username": ""}, "KPI_SASL_USERNAME: String should have at least 1 character"),
        (
            {**SASL, "sasl_username": ""} | {"sasl_username": "kpi"},
            "KPI_SASL_PASSWORD: give it, or KPI_SASL_PASSWORD_FILE",
        ),
        ({**SASL, "sasl_password": "a", "sasl_password_file": "{password}"}, "KPI_SASL_PASSWORD: give it, or"),
        ({**SASL, "sasl_password_file": "/nonexistent"}, "KPI_SASL_PASSWORD_FILE: Path does not point to a file"),
        (
            {"sasl_username": "kpi"},
            "KPI_SASL_USERNAME: needs KPI_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL, not PLAINTEXT",
        ),
        ({"ssl_cafile": "{ca}"}, "KPI_SSL_CAFILE: needs KPI_SECURITY_PROTOCOL=SSL or SASL_SSL, not PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent"}, "KPI_SSL_CAFILE: Path does not point to a file"),
        ({"security_protocol": "SSL", "ssl_keyfile": "{key}"}, "KPI_SSL_KEYFILE: needs KPI_SSL_CERTFILE"),
        (
            {"security_protocol": "SSL", "ssl_check_hostname": "maybe"},
            "KPI_SSL_CHECK_HOSTNAME: Input should be a valid boolean",
        ),
        ({"replication_factor": "0"}, "KPI_REPLICATION_FACTOR: Input should be greater than or equal to 1"),
        ({"compression": "brotli"}, "KPI_COMPRESSION: Input should be 'none', 'gzip', 'snappy', 'lz4' or 'zstd'"),
    ],
)
def test_each_security_setting_is_checked_at_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path], variables: dict[str, str], message: str
) -> None:
    settings_with(monkeypatch, **{name: value.format(**pem) for name, value in variables.items()})
    with pytest.raises(ConfigError, match="^environment: " + re.escape(message)):
        load_settings()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"security_protocol": "SSL", "ssl_cafile": "{not-pem}"}, "KPI_SSL_CAFILE: {not-pem}: not a PEM CA bundle"),
        (
            {"security_protocol": "SSL", "ssl_certfile": "{ca}", "ssl_keyfile": "{key}"},
            "KPI_SSL_CERTFILE: {ca}: no certificate and key that belong together",
        ),
    ],
)
def test_unusable_tls_files_stop_start_up_naming_them(
    monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path], variables: dict[str, str], message: str
) -> None:
    settings_with(monkeypatch, **{name: value.format(**pem) for name, value in variables.items()})
    with pytest.raises(ConfigError, match="^environment: " + re.escape(message.format(**pem))):
        connection_of(load_settings())


def test_sasl_ssl_with_mutual_tls(monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]) -> None:
    settings_with(
        monkeypatch,
        **SASL,
        sasl_password_file=str(pem["password"]),
        ssl_cafile=str(pem["ca"]),
        ssl_certfile=str(pem["cert"]),
        ssl_keyfile=str(pem["key"]),
        ssl_check_hostname="false",
    )
    connection = connection_of(load_settings())
    assert (connection.bootstrap, connection.url) == ("kafka-1:9093,kafka-2:9093", "kafka://kafka-1:9093;kafka-2:9093")
    assert connection.password == "s3cret"  # the file's trailing newline is not part of it
    assert "s3cret" not in repr(connection) and "s3cret" not in repr(load_settings())
    context = connection.ssl_context
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [((("commonName", "ca"),),)]


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"security_protocol": "SSL"},
        {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "kpi",
            "sasl_password": "pw",
        },
        {**SASL, "sasl_password": "pw"},
        {**SASL, "sasl_mechanism": "SCRAM-SHA-256", "sasl_password": "pw"},
    ],
)
async def test_every_client_accepts_the_same_options(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    """kafka-python (admin, simulate, replay) and aiokafka (recovery, start-up check) take the
    options as built, and Faust's aiokafka driver turns the worker's credentials into the same."""
    settings_with(monkeypatch, **variables)
    connection = connection_of(load_settings())
    options = connection.client_options()
    # kafka-python refuses unknown options in its constructor; its admin client shares the names.
    KafkaProducer(**options, **NO_VERSION_PROBE).close(timeout=0)
    AIOKafkaConsumer(**options)
    AIOKafkaProducer(**options)
    auth = credentials_to_aiokafka_auth(faust_credentials(connection))
    assert {key: options.get(key) for key in auth} == auth
    assert set(options) - set(auth) == {"bootstrap_servers"}


def test_bootstrap_of_every_spelling_of_a_broker_list() -> None:
    for url in ("kafka://a:9092;b:9092", "a:9092,b:9092", "kafka://a:9092,kafka://b:9092", " a:9092 , b:9092 "):
        assert [part.strip() for part in bootstrap_of(url).split(",")] == ["a:9092", "b:9092"]


def test_a_broker_that_cannot_be_reached_is_one_sentence_naming_kpi_broker() -> None:
    port = free_port()
    with pytest.raises(BrokerUnusable, match=rf"^cannot connect to 127\.0\.0\.1:{port}: .*\(check KPI_BROKER\)$"):
        asyncio.run(check_connection(KafkaConnection(f"127.0.0.1:{port}")))
