"""Two workers in one consumer group split the partitions: each exports only the queues it owns,
together they equal a single worker on the same input, and when one is killed the other takes
over with the numbers still right."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import Worker, new_topics, running_worker, wait_for
from tests.integration.test_crash_recovery import comparable, differences, processed, produce_stream

pytestmark = pytest.mark.integration


def keyed(document: dict[str, Any]) -> tuple[dict[tuple[str, str], Any], dict[str, Any]]:
    return ({(q["queue"], q["channel"]): q for q in document["queues"]},
            {a["queue"]: a["states"] for a in document["agents"]})  # fmt: skip


def combined(*workers: Worker) -> tuple[dict[tuple[str, str], Any], dict[str, Any]] | None:
    """The union of what the workers export; None if any queue or agent row is exported twice."""
    queues: dict[tuple[str, str], Any] = {}
    agents: dict[str, Any] = {}
    for worker in workers:
        own_queues, own_agents = keyed(comparable(worker))
        if set(own_queues) & set(queues) or set(own_agents) & set(agents):
            return None
        queues.update(own_queues)
        agents.update(own_agents)
    return queues, agents


def run_two_workers(broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory,
                    kill_one: bool) -> None:  # fmt: skip
    topics = new_topics(uuid.uuid4().hex[:8])
    app_id = f"it-scale-{uuid.uuid4().hex[:8]}"
    with running_worker(broker, tmp_path_factory.mktemp("first"), app_id=app_id, topics=topics) as first, \
            running_worker(broker, tmp_path_factory.mktemp("second"), app_id=app_id, topics=topics) as second, \
            running_worker(broker, tmp_path_factory.mktemp("single"), topics=topics) as single:
        produce_stream(producer, topics, rate=1.5)
        truth: list[Any] = []
        seen: list[Any] = []

        def split_equals_single() -> bool:
            truth[:] = [keyed(comparable(single))]
            seen[:] = [combined(first, second)]
            both_own_some = all(keyed(comparable(w))[0] for w in (first, second))
            return bool(truth[0][0]) and seen[0] == truth[0] and both_own_some

        try:
            wait_for(split_equals_single, timeout=300, interval=2)
        except BaseException:
            pytest.fail("two workers != one:\n" + "\n".join(differences(list(seen), list(truth))[:30]))
        if not kill_one:
            return

        second.kill()
        # The group rebalances (session timeout 10 s); the survivor recovers the lost partitions'
        # tables and processes what the dead worker had not committed, each fact once.

        def survivor_equals_single() -> bool:
            # Read at the same moment: rolling windows move on while the group rebalances.
            truth[:] = [keyed(comparable(single))]
            seen[:] = [keyed(comparable(first))]
            return seen[0] == truth[0]

        try:
            wait_for(survivor_equals_single, timeout=180, interval=2)
        except BaseException:
            pytest.fail("after losing a worker:\n" + "\n".join(differences(list(seen), list(truth))[:30]))


def test_two_workers_split_the_queues_and_equal_one(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_two_workers(broker, producer, tmp_path_factory, kill_one=False)


def test_the_survivor_of_a_kill_takes_over_with_the_same_numbers(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_two_workers(broker, producer, tmp_path_factory, kill_one=True)


@pytest.mark.timeout(900)
def test_a_worker_joining_during_a_backlog_rebalances_without_losing_or_repeating(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A rebalance while the first worker's stream buffers are full of a backlog: the partitions it
    gives up are suspended mid-flow (stream.faust_ext.consumer's hand-off must let that happen), and the two
    workers still add up to a single worker that read everything alone. The backlog's batches
    also make more facts than one Kafka message holds (stream.pipeline.outbox splits them)."""
    topics = new_topics(uuid.uuid4().hex[:8])
    app_id = f"it-join-{uuid.uuid4().hex[:8]}"
    # Large enough that the first worker is still reading it when the second has joined (about
    # 10 s after it starts) on a machine where the pipeline reads 10,000 events/s.
    total = produce_stream(producer, topics, rate=24.0)
    with running_worker(broker, tmp_path_factory.mktemp("single"), topics=topics) as single, \
            running_worker(broker, tmp_path_factory.mktemp("first"), app_id=app_id, topics=topics) as first:
        wait_for(lambda: processed(first) > total * 0.05, timeout=120, interval=0.2)
        with running_worker(broker, tmp_path_factory.mktemp("second"), app_id=app_id, topics=topics) as second:
            # The group has rebalanced (the second worker is healthy) before the backlog was read.
            assert processed(first) < total, "the first worker read everything before the second joined"
            truth: list[Any] = []
            seen: list[Any] = []

            def split_equals_single() -> bool:
                truth[:] = [keyed(comparable(single))]
                seen[:] = [combined(first, second)]
                return (
                    bool(truth[0][0]) and seen[0] == truth[0]
                    and all(keyed(comparable(w))[0] for w in (first, second))
                )

            # Three workers through the backlog on two cores, beside another test file's workers
            # (make test runs two at once): the single worker may take minutes to catch up.
            try:
                wait_for(split_equals_single, timeout=600, interval=2)
            except BaseException:
                pytest.fail("after a rebalance under load:\n" + "\n".join(differences(list(seen), list(truth))[:30]))
