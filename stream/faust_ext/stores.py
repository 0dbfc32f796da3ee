"""Table stores: in memory, or on disk in RocksDB so a restart replays only the changelogs' tail.

Faust's RocksDB store keeps one database per partition and files a written key under the
partition of the message being processed (``current_event()``). Here keys are routed by the
producer's partitioner instead (``use_partitioner``: a batch mixes partitions, and timers write
outside any message), so :class:`PartitionedRocksDB` files every key under its own partition,
the one its changelog messages go to; reads then look in that one database.

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):
the RocksDB store's ``_set``, ``_del``, ``_get`` and ``_contains``, through which every read and
write of a key goes, and which are the only methods that choose a key's database by the current
event; its ``_dbs`` and ``_db_for_partition`` (one database per partition); recovery writing each
changelog record into its message's partition, the same one; and ``Collection._new_store_by_url``,
whose store arguments :class:`KpiTable` repeats.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import faust
from faust.stores.rocksdb import Store as RocksDBStore

from stream.ingest.partitioning import partition_for

StoreKind = Literal["memory", "rocksdb"]


class PartitionedRocksDB(RocksDBStore):
    """Faust's RocksDB store with keys filed by the partition the producer routes them to."""

    def _partition_of(self, key: bytes) -> int:
        # Keys are raw UTF-8 (stream.pipeline.tables), so this is the partition of the key's changelog.
        return partition_for(key.decode("utf-8"), self.table.partitions)

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._db_for_partition(self._partition_of(key)).put(key, value)

    def _del(self, key: bytes) -> None:
        self._db_for_partition(self._partition_of(key)).delete(key)

    def _get(self, key: bytes) -> bytes | None:
        db = self._dbs.get(self._partition_of(key))
        return None if db is None else db.get(key)

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None


class KpiTable(faust.Table):  # type: ignore[misc]
    """A table whose ``rocksdb://`` store is :class:`PartitionedRocksDB`."""

    def _new_store_by_url(self, url: Any) -> Any:
        if str(url).startswith("rocksdb:"):
            return PartitionedRocksDB(
                url,
                self.app,
                self,
                table_name=self.name,
                key_type=self.key_type,
                key_serializer=self.key_serializer,
                value_serializer=self.value_serializer,
                value_type=self.value_type,
                loop=self.loop,
                options=self.options,
            )
        return super()._new_store_by_url(url)


def store_url(kind: StoreKind) -> str:
    return "rocksdb://" if kind == "rocksdb" else "memory://"


def forget_local_state(table_dir: Path) -> bool:
    """Remove the tables kept on disk; True if there were any.

    Needed when the broker's changelogs are gone (the embedded broker keeps them in memory):
    state on disk would otherwise be taken as already recovered.
    """
    if not table_dir.exists():
        return False
    shutil.rmtree(table_dir)
    return True
