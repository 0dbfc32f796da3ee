"""Two workers in one consumer group split the partitions: each exports only the queues it owns,
together they equal a single worker on the same input, and when one is killed the other takes
over with the numbers still right."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import LOADED, Worker, WorkerSpec, new_topics, running_workers, wait_for
from tests.integration.test_crash_recovery import comparable, differences, produce_stream

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("heavy")]  # several workers at once (tests/conftest.py)


def keyed(document: dict[str, Any]) -> tuple[dict[tuple[str, str], Any], dict[str, Any]]:
    return (
        {(q["queue"], q["channel"]): q for q in document["queues"]},
        {a["queue"]: a["states"] for a in document["agents"]},
    )


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
    with running_workers(
        broker,
        WorkerSpec(tmp_path_factory.mktemp("first"), app_id, topics, LOADED),
        WorkerSpec(tmp_path_factory.mktemp("second"), app_id, topics, LOADED),
        WorkerSpec(tmp_path_factory.mktemp("single"), topics=topics, settings=LOADED),
    ) as (first, second, single):
        produce_stream(producer, topics, rate=1.5)
        yield Pair(first, second, single)


def wait_until_split_equals_single(pair: Pair) -> None:
    truth: list[Any] = []
    seen: list[Any] = []

    def split_equals_single() -> bool:
        truth[:] = [keyed(comparable(pair.single))]
        seen[:] = [combined(pair.first, pair.second)]
        both_own_some = all(keyed(comparable(w))[0] for w in (pair.first, pair.second))
        # Either worker's /api/kpis answers for the whole centre: its own queues and the other's.
        each_shows_all = all(keyed(comparable(w, "")) == truth[0] for w in (pair.first, pair.second))
        return bool(truth[0][0]) and seen[0] == truth[0] and both_own_some and each_shows_all

    try:
        wait_for(split_equals_single, timeout=300, interval=2)
    except BaseException:
        pytest.fail("two workers != one:\n" + "\n".join(differences(list(seen), list(truth))[:30]))


def test_two_workers_split_the_queues_and_equal_one(pair: Pair) -> None:
    wait_until_split_equals_single(pair)


def test_the_survivor_of_a_kill_takes_over_with_the_same_numbers(pair: Pair) -> None:
    wait_until_split_equals_single(pair)  # at once if the test above ran
    pair.second.kill()

    def second_missing() -> bool:
        """Before the group notices (its session timeout), the survivor answers without the dead
        worker's queues and says so."""
        document = json.loads(pair.first.get("/api/kpis")[1])
        return document["partial"] and [m["worker"] for m in document["missing"]] == [pair.second.base_url]

    wait_for(second_missing, timeout=8, interval=0.25)
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
