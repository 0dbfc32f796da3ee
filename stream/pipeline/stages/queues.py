"""The queue stage: facts -> each queue and channel's window aggregates, and the wait and handle histograms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faust

from stream.kpi.aggregators import WaitRules
from stream.kpi.facts import Fact
from stream.kpi.queue_keys import queue_key
from stream.kpi.queue_state import QueueState, apply_facts, apply_staffing, prune, split_staffing
from stream.kpi.windows import WindowSet
from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.outbox import Delivery
from stream.pipeline.queue_limit import QueueLimit
from stream.serving.metrics import Metrics


@dataclass
class QueueStage:
    queues: faust.TableT
    writes: HeldWrites
    queue_limit: QueueLimit
    wait_rules_of: Callable[[str], WaitRules]
    window_set: WindowSet
    clock: Callable[[], float]
    contact_ttl_seconds: float
    dedupe_seconds: float
    #: The internal topic facts come on (re-deliveries are counted against it) and the input topic of
    #: survey answers (duplicate answers are counted against it).
    facts_topic: str
    surveys_topic: str
    metrics: Metrics

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        """Apply messages of facts. A section of facts whose origin was already counted for a key (the
        same input of an earlier stage, processed again after a crash or rebalance) is skipped."""
        table = self.queues
        now = self.clock()
        touched: dict[str, QueueState] = {}
        new_keys = 0
        measured: list[Fact] = []
        for sections, _ in deliveries:
            for section in sections:
                source = section["origin"]
                by_key: dict[str, list[Fact]] = defaultdict(list)
                for row in section["facts"]:
                    fact = Fact.from_wire(row)
                    by_key[queue_key(fact.queue, fact.channel)].append(fact)
                for key, facts in by_key.items():
                    queue = facts[0].queue
                    measures, staffing = split_staffing(facts)
                    state = touched.get(key) or self.writes.get(table, key)
                    if state is None:
                        if not measures:
                            continue  # agents alone do not make a queue's channel
                        if not self.queue_limit.may_add(table, queue, new_keys):
                            self.metrics.over_queue_limit.labels("queues").inc(len(facts))
                            continue
                        state, new_keys = QueueState(), new_keys + 1
                    if source is not None and not state.accept_origin(source[0], source[1]):
                        self.metrics.redelivered.labels(self.facts_topic).inc(len(facts))
                        continue
                    touched[key] = state
                    apply_staffing(state, staffing)
                    if not measures:
                        continue
                    applied = apply_facts(state, measures, self.wait_rules_of(queue), self.window_set, now)
                    if applied.duplicates:
                        self.metrics.duplicate.labels(self.surveys_topic).inc(applied.duplicates)
                    if applied.over_limit:
                        self.metrics.over_state_limit.labels("queues").inc(applied.over_limit)
                    measured += measures
        for key, state in touched.items():
            prune(state, self.window_set, now, self.contact_ttl_seconds, self.dedupe_seconds)
            self.writes.put(table, key, state)
        for fact in measured:
            if fact.retraction:
                continue
            if fact.kind in ("answered", "abandoned"):
                self.metrics.observe_wait(fact.queue, fact.channel, fact.value)
            elif fact.kind == "handled":
                self.metrics.observe_handle(fact.queue, fact.channel, fact.value)
