"""A second worker joins the group of a first one that is reading a backlog: together they still
equal a single worker that read it alone. Apart from test_scale_out.py so that, last in the heavy
xdist group (tests/conftest.py), it runs when the other process is left with light tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import LOADED, WorkerSpec, new_topics, running_worker, running_workers, wait_for
from tests.integration.test_crash_recovery import comparable, differences, processed, produce_stream
from tests.integration.test_scale_out import combined, keyed

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("heavy")]  # several workers at once (tests/conftest.py)


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
    with running_workers(
        broker,
        WorkerSpec(tmp_path_factory.mktemp("single"), topics=topics, settings=LOADED),
        WorkerSpec(tmp_path_factory.mktemp("first"), app_id, topics, LOADED),
    ) as (single, first):
        wait_for(lambda: processed(first) > total * 0.05, timeout=120, interval=0.2)
        with running_worker(
            broker, tmp_path_factory.mktemp("second"), app_id=app_id, topics=topics, **LOADED
        ) as second:
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
                    bool(truth[0][0]) and seen[0] == truth[0] and all(keyed(comparable(w))[0] for w in (first, second))
                )

            # Three workers through the backlog on two cores, beside the light tests of make test's
            # other process (tests/conftest.py): the single worker may take minutes to catch up.
            try:
                wait_for(split_equals_single, timeout=600, interval=2)
            except BaseException:
                pytest.fail("after a rebalance under load:\n" + "\n".join(differences(list(seen), list(truth))[:30]))
