"""Which keys this worker actively owns, for the current partition assignment.

Tables also hold standby copies of other workers' partitions; only the active owner exports,
expires or alerts on a key, so workers never double count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import faust

from stream.ingest.partitioning import partition_for

#: A test of whether this worker actively owns a key.
Owns = Callable[[str], bool]


@dataclass
class Ownership:
    app: faust.App
    partitions: int

    def of(self, topic: faust.TopicT) -> Owns:
        """Whether this worker owns a key of ``topic`` (or of a table partitioned like it), now."""
        name = topic.get_topic_name()
        owned = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == name}
        if len(owned) == self.partitions:
            return lambda key: True  # the only worker: no hash per key (a sweep tests every key)
        partitions = self.partitions
        return lambda key: partition_for(key, partitions) in owned

    def peers(self) -> list[str]:
        """The web addresses of the other workers that own partitions now (KPI_WEB_URL of each)."""
        own = str(self.app.conf.canonical_url)
        return sorted(url for url in self.app.assignor.tables_metadata() if url != own)
