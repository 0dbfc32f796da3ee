"""Broker administration at start-up: can the brokers be used, and the topics we need, created.

Kafka clients retry a broker they cannot use and log each failure, so a wrong address, CA or
password shows as half a minute of client errors. Start-up instead asks each bootstrap broker
once, and a failure becomes one sentence naming what failed and the setting to check.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping

from aiokafka import errors as aiokafka_errors
from aiokafka.conn import create_conn
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from stream.config.connection import BrokerUnusable, KafkaConnection

log = logging.getLogger(__name__)

#: How long start-up waits for a broker to answer.
CHECK_TIMEOUT_SECONDS = 10.0


class PartitionMismatch(BrokerUnusable):
    """An existing topic has another partition count than the one configured."""


async def check_connection(connection: KafkaConnection, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
    """Connect (TCP, TLS, SASL) to each bootstrap broker until one answers; raise
    :class:`BrokerUnusable` with the first broker's failure if none does."""
    failures = []
    for address in connection.bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **_connection_options(connection)),
                timeout,
            )
        except Exception as exc:  # every failure is explained below, none is re-raised as it is
            failures.append(describe_failure(exc, address, connection))
            continue
        conn.close()
        return
    raise BrokerUnusable(failures[0])


def _connection_options(connection: KafkaConnection) -> dict[str, object]:
    options = connection.client_options()
    del options["bootstrap_servers"]
    return options


def describe_failure(exc: BaseException, address: str, connection: KafkaConnection) -> str:
    """One sentence: what failed at ``address`` and which setting to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        setting = "KPI_SSL_CHECK_HOSTNAME" if "hostname" in (exc.verify_message or "").lower() else "KPI_SSL_CAFILE"
        return f"TLS handshake with {address} failed: {exc.verify_message} (check {setting})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {address} failed: {exc.reason or exc} (check KPI_SECURITY_PROTOCOL and KPI_SSL_*)"
    if isinstance(exc, (aiokafka_errors.SaslAuthenticationFailed, aiokafka_errors.IllegalSaslStateError)):
        return (
            f"the broker at {address} refused the credentials of {connection.username!r} "
            f"({connection.sasl_mechanism}) (check KPI_SASL_USERNAME and KPI_SASL_PASSWORD)"
        )
    if isinstance(exc, aiokafka_errors.UnsupportedSaslMechanismError):
        return (
            f"the broker at {address} does not offer SASL {connection.sasl_mechanism} (check "
            "KPI_SASL_MECHANISM and KPI_SECURITY_PROTOCOL)"
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return (
            f"no answer from {address} within {CHECK_TIMEOUT_SECONDS:g} s (check KPI_BROKER and KPI_SECURITY_PROTOCOL)"
        )
    if isinstance(exc, aiokafka_errors.KafkaConnectionError):
        return (
            f"the broker at {address} closed the connection (check KPI_SECURITY_PROTOCOL: "
            f"{connection.security_protocol} may not be what it expects)"
        )
    if isinstance(exc, OSError):
        return f"cannot connect to {address}: {exc.strerror or exc} (check KPI_BROKER)"
    if isinstance(exc, ValueError):
        return f"{address!r} is not host:port (check KPI_BROKER)"
    return f"cannot use the broker at {address}: {exc!r}"


def create_topics(
    connection: KafkaConnection,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    exact: frozenset[str] = frozenset(),
    timeout: float = 30.0,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Create the topics that do not exist yet; the broker's auto-created ones have the wrong size.

    Topics in ``exact`` must have exactly ``partitions`` partitions: keys are routed by
    that count, so a different one would scatter a key's state over two partitions. ``configs``:
    topic -> the configuration it is created with; an existing topic whose ``cleanup.policy``
    differs from it is reported (a warning naming the setting), not changed.
    """
    configs = configs or {}
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(client_id="contact-centre-kpi-admin", **connection.client_options())
            break
        except kafka_errors.NoBrokersAvailable:
            if time.monotonic() > deadline:
                raise BrokerUnusable(
                    f"no broker of {connection.bootstrap} answered the admin client within "
                    f"{timeout:g} s (check KPI_BROKER)"
                ) from None
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(configs.get(name, {})))
            for name in names
            if name not in existing
        ]
        if missing:
            _create(admin, missing, replication_factor)
        warn_of_cleanup_policies(admin, {name: configs[name] for name in names if name in existing and name in configs})
        present = [name for name in names if name in exact]
        for topic in admin.describe_topics(present) if present else []:
            if len(topic["partitions"]) != partitions:
                raise PartitionMismatch(
                    f"topic {topic['name']} has {len(topic['partitions'])} partitions but KPI_PARTITIONS is "
                    f"{partitions}; set KPI_PARTITIONS={len(topic['partitions'])} or use a new KPI_APP_ID"
                )
    finally:
        admin.close()


def warn_of_cleanup_policies(admin: KafkaAdminClient, wanted: Mapping[str, Mapping[str, str]]) -> None:
    """A warning for each existing topic whose ``cleanup.policy`` is not the one it would be created with."""
    policies = {name: config["cleanup.policy"] for name, config in wanted.items() if "cleanup.policy" in config}
    if not policies:
        return
    # A broker that keeps no topic configurations (the embedded one) drops the connection, which
    # kafka-python logs as errors: the check is optional, so its client's logs are quiet meanwhile.
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None}) for name in policies],
            config_filter="all",
        )
    except kafka_errors.KafkaError as exc:  # not authorised, or a broker that keeps no topic configs
        log.debug("topic configurations not described: %r", exc)
        return
    finally:
        kafka_log.setLevel(level)
    for name, entries in described.get("TOPIC", described.get("topic", {})).items():
        actual = str((entries.get("cleanup.policy") or {}).get("value", ""))
        if actual and actual != policies[name]:
            log.warning(
                "topic %s has cleanup.policy=%s, not %s: a changelog loses states older than its retention.ms "
                "and a restart reads every superseded state; set it with kafka-configs.sh --alter --entity-type "
                "topics --entity-name %s --add-config cleanup.policy=%s",
                name,
                actual,
                policies[name],
                name,
                policies[name],
            )


def _create(admin: KafkaAdminClient, topics: list[NewTopic], replication_factor: int) -> None:
    names = ", ".join(topic.name for topic in topics)
    try:
        admin.create_topics(topics)
    except kafka_errors.TopicAlreadyExistsError:
        pass
    except kafka_errors.AuthorizationError as exc:
        raise BrokerUnusable(
            f"not authorised to create topics ({type(exc).__name__}): {names}; grant the "
            "user CREATE on them, or create them beforehand"
        ) from None
    except kafka_errors.InvalidReplicationFactorError:
        raise BrokerUnusable(
            f"the cluster cannot hold topics with KPI_REPLICATION_FACTOR={replication_factor} (fewer brokers?): {names}"
        ) from None
