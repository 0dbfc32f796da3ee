"""Broker administration with kafka-python: creating topics with the partition counts we need."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def bootstrap_of(broker_url: str) -> str:
    """``kafka://a:9092;b:9092`` -> ``a:9092,b:9092`` for kafka-python clients."""
    return ",".join(part.split("://", 1)[-1] for part in broker_url.replace(";", ",").split(","))


class PartitionMismatch(Exception):
    """An existing topic has another partition count than the one configured."""


def create_topics(
    bootstrap: str, names: list[str], partitions: int, exact: frozenset[str] = frozenset(), timeout: float = 30.0
) -> None:
    """Create the topics that do not exist yet; the broker's auto-created ones have the wrong size.

    Topics in ``exact`` must have exactly ``partitions`` partitions: keys are routed by
    that count, so a different one would scatter a key's state over two partitions.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="contact-centre-kpi-admin")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        present = [name for name in names if name in exact]
        for topic in admin.describe_topics(present) if present else []:
            if len(topic["partitions"]) != partitions:
                raise PartitionMismatch(
                    f"topic {topic['name']} has {len(topic['partitions'])} partitions but KPI_PARTITIONS is "
                    f"{partitions}; set KPI_PARTITIONS={len(topic['partitions'])} or use a new KPI_APP_ID"
                )
    finally:
        admin.close()
