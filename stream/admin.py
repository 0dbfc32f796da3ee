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
) -> dict[str, int]:
    """Create the topics that do not exist yet (the broker's auto-created ones have the wrong
    size); return every named topic's partition count.

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
        counts = {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics(names)} if names else {}
        for name in (name for name in names if name in exact):
            if counts[name] != partitions:
                raise PartitionMismatch(
                    f"topic {name} has {counts[name]} partitions but KPI_PARTITIONS is {partitions}; set "
                    f"KPI_PARTITIONS={counts[name]} or use a new KPI_APP_ID"
                )
        return counts
    finally:
        admin.close()
