"""Two workers in one consumer group split the partitions: each exports only the queues it owns,
together they equal a single worker on the same input, and when one is killed the other takes
over with the numbers still right."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import Worker, WorkerSpec, new_topics, running_worker, running_workers, wait_for
from tests.integration.test_crash_recovery import comparable, differences, processed, produce_stream

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("heavy")]  # several workers at once (tests/conftest.py)


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


@pytest.mark.machine("alone")  # three workers through a backlog: no other large input beside it
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
    with running_workers(broker, WorkerSpec(tmp_path_factory.mktemp("single"), topics=topics),
                         WorkerSpec(tmp_path_factory.mktemp("first"), app_id, topics)) as (single, first):
        wait_for(lambda: processed(first) > total * 0.05, timeout=120, interval=0.2)
        with running_worker(broker, tmp_path_factory.mktemp("second"), app_id=app_id, topics=topics) as second:
            # The group has rebalanced (the second worker is healthy) before the backlog was read.
            read_at_join = processed(first)
            print(f"the first worker had read {read_at_join:.0f} of {total} events when the second joined")
            assert read_at_join < total, "the first worker read everything before the second joined"
            truth: list[Any] = []
            seen: list[Any] = []

            def split_equals_single() -> bool:
                truth[:] = [keyed(comparable(single))]
                seen[:] = [combined(first, second)]
                return (
                    bool(truth[0][0]) and seen[0] == truth[0]
                    and all(keyed(comparable(w))[0] for w in (first, second))
                )

            # Three workers through the backlog on two cores, beside the light tests of make test's
            # other process (tests/conftest.py): the single worker may take minutes to catch up.
            try:
                wait_for(split_equals_single, timeout=600, interval=2)
            except BaseException:
                pytest.fail("after a rebalance under load:\n" + "\n".join(differences(list(seen), list(truth))[:30]))


@dataclass
class Pair:
    """Two workers in one group (``first``, ``second``) and a ``single`` worker alone, on the same input."""

    first: Worker
    second: Worker
    single: Worker


@pytest.fixture(scope="module")
def pair(broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Shared by the two tests below; the second kills ``second``."""
    topics = new_topics(uuid.uuid4().hex[:8])
    app_id = f"it-scale-{uuid.uuid4().hex[:8]}"
    with running_workers(broker, WorkerSpec(tmp_path_factory.mktemp("first"), app_id, topics),
                         WorkerSpec(tmp_path_factory.mktemp("second"), app_id, topics),
                         WorkerSpec(tmp_path_factory.mktemp("single"), topics=topics)) as (first, second, single):
        produce_stream(producer, topics, rate=1.5)
        yield Pair(first, second, single)


def wait_until_split_equals_single(pair: Pair) -> None:
    truth: list[Any] = []
    seen: list[Any] = []

    def split_equals_single() -> bool:
        truth[:] = [keyed(comparable(pair.single))]
        seen[:] = [combined(pair.first, pair.second)]
        both_own_some = all(keyed(comparable(w))[0] for w in (pair.first, pair.second))
        return bool(truth[0][0]) and seen[0] == truth[0] and both_own_some

    try:
        wait_for(split_equals_single, timeout=300, interval=2)
    except BaseException:
        pytest.fail("two workers != one:\n" + "\n".join(differences(list(seen), list(truth))[:30]))


def test_two_workers_split_the_queues_and_equal_one(pair: Pair) -> None:
    wait_until_split_equals_single(pair)


def test_the_survivor_of_a_kill_takes_over_with_the_same_numbers(pair: Pair) -> None:
    wait_until_split_equals_single(pair)  # at once if the test above ran
    pair.second.kill()
    # The group rebalances (session timeout 10 s); the survivor recovers the lost partitions'
    # tables and processes what the dead worker had not committed, each fact once.
    truth: list[Any] = []
    seen: list[Any] = []

    def survivor_equals_single() -> bool:
        # Read at the same moment: rolling windows move on while the group rebalances.
        truth[:] = [keyed(comparable(pair.single))]
        seen[:] = [keyed(comparable(pair.first))]
        return seen[0] == truth[0]

    try:
        wait_for(survivor_equals_single, timeout=180, interval=2)
    except BaseException:
        pytest.fail("after losing a worker:\n" + "\n".join(differences(list(seen), list(truth))[:30]))
