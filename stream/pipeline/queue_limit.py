"""KPI_MAX_QUEUES: a flood of made-up queue names cannot grow state or label sets without bound.

A queue named in KPI_CONFIG is always kept; any other while this worker actively owns fewer than
KPI_MAX_QUEUES queue keys of the table (standby copies of other workers' keys do not count).
Idle queues are forgotten (stream.pipeline.expiry), which makes room again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from math import inf

import faust

from stream.pipeline.held_writes import HeldWrites
from stream.pipeline.ownership import Owns
from stream.pipeline.ratelimit import RateLimitedLog


@dataclass
class QueueLimit:
    limit: int
    configured: Collection[str]
    writes: HeldWrites
    owner_of: Callable[[faust.TableT], Owns]
    log: RateLimitedLog
    #: Per table: when its actively owned keys were last counted, and how many there were.
    _owned_keys: dict[str, tuple[float, int]] = field(default_factory=dict, init=False)

    def may_add(self, table: faust.TableT, queue: str, pending: int = 0) -> bool:
        """Whether a new key for ``queue`` may be added to ``table``, which gets ``pending`` new keys
        besides those held for it."""
        new = self.writes.new_keys(table) + pending
        if queue in self.configured or len(table) + new < self.limit:
            return True
        if self._owned_key_count(table) + new < self.limit:
            return True
        self.log.warning(
            "queue-limit",
            "queue %r dropped: this worker already keeps %d queues "
            "(KPI_MAX_QUEUES); see contact_centre_queue_limit_dropped_total",
            queue,
            self.limit,
        )
        return False

    def _owned_key_count(self, table: faust.TableT) -> int:
        """Keys of ``table`` this worker actively owns, counted at most once a second: a flood of
        new queue names asks for every one of them."""
        counted_at, count = self._owned_keys.get(table.name, (-inf, 0))
        if time.monotonic() - counted_at > 1.0:
            owns = self.owner_of(table)
            count = sum(1 for key in table.keys() if owns(key))
            self._owned_keys[table.name] = (time.monotonic(), count)
        return count
