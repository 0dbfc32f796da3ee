"""stream.faust_ext.stores: RocksDB tables file each key under the partition its changelog goes to, also for
writes outside any message (timers, batches), and keep it across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.types import TP

from stream.config.settings import Settings
from stream.faust_ext.stores import PartitionedRocksDB, forget_local_state
from stream.ingest.partitioning import partition_for
from stream.kpi.queue_state import QueueState
from stream.pipeline.app import Pipeline, create_pipeline

KEYS = [f"queue-{n}/voice" for n in range(12)]


def rocksdb_pipeline(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    p = create_pipeline(Settings(broker="kafka://127.0.0.1:9", partitions=4, store="rocksdb", data_dir=data_dir))
    p.app.finalize()
    changelog = p.tables.queues.changelog_topic.get_topic_name()
    monkeypatch.setattr(p.app.assignor, "assigned_actives", lambda: {TP(changelog, n) for n in range(4)})
    return p


async def test_keys_written_outside_any_message_land_in_their_own_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = rocksdb_pipeline(tmp_path, monkeypatch)
    table = p.tables.queues
    store = table.data
    assert isinstance(store, PartitionedRocksDB)
    for n, key in enumerate(KEYS):
        state = QueueState()
        state.origins = {"contact-events/0": n}
        store[key] = state  # what a table write does locally, without a current event
    for n, key in enumerate(KEYS):
        partition = partition_for(key, 4)
        raw = store._dbs[partition].get(key.encode())
        assert raw is not None
        assert all(db.get(key.encode()) is None for other, db in store._dbs.items() if other != partition)
        assert store[key].origins == {"contact-events/0": n}
    assert sorted(store.keys()) == sorted(KEYS)
    del store[KEYS[0]]
    assert KEYS[0] not in store and store.get(KEYS[0]) is None and len(store) == len(KEYS) - 1


async def test_a_restarted_worker_reads_the_tables_it_kept_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = rocksdb_pipeline(tmp_path, monkeypatch)
    state = QueueState()
    state.origins = {"contact-events/2": 41}
    first.tables.queues.data["sales/voice"] = state
    first.tables.queues.data._dbs.clear()  # what stopping does; RocksDB keeps the files

    restarted = rocksdb_pipeline(tmp_path, monkeypatch)
    store = restarted.tables.queues.data
    # Recovery opens the databases of the assigned partitions before anything reads them.
    changelog = restarted.tables.queues.changelog_topic.get_topic_name()
    await store.assign_partitions(restarted.tables.queues, {TP(changelog, n) for n in range(4)})
    assert store["sales/voice"].origins == {"contact-events/2": 41}


def test_forget_local_state_removes_the_tables_directory(tmp_path: Path) -> None:
    tables = tmp_path / "v1" / "tables"
    (tables / "queues-0.db").mkdir(parents=True)
    assert forget_local_state(tables)
    assert not tables.exists()
    assert not forget_local_state(tables)
