"""Table writes held back and written together: each key once per interval, and always before
offsets are committed.

Every table write is a changelog message carrying the whole state, and a busy queue's state is
several kilobytes of JSON. The stages touch the same keys (queues, agents, customers) batch after
batch, so writing at the end of every batch wrote hot keys many times a second at live rates.
The stages therefore :meth:`~HeldWrites.put` their new states here and read them back with
:meth:`~HeldWrites.get`; :meth:`~HeldWrites.flush` writes each key once, with its latest
state. A timer writes the states first held :data:`stream.pipeline.stages.HOLD_SECONDS` ago, several times
in that interval, so each write-out holds the event loop for a short while only. The states are
written by ``stream.faust_ext.changelog``, a record batch per changelog partition.

Why this loses nothing: a state held here comes from batches whose messages are acknowledged
only after it was put here, and the consumer flushes (synchronously) right before it chooses the
offsets to commit (``stream.faust_ext.consumer.FlushBeforeCommit``), then drains the producer before
committing. So every committed offset's effects are in the changelogs, as when each batch wrote
its keys; a crash loses only uncommitted work, which is processed again. Reports, alerts and
expiry read through :meth:`~HeldWrites.items`, :meth:`~HeldWrites.keys` and
:meth:`~HeldWrites.get`; expiry holds its deletions here too (:data:`DELETED`), so it never
writes a burst of states at once, and learns from :meth:`~HeldWrites.take_put_keys` which states
the stages changed, since a change can move when a state expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import faust
from faust.types import TableT

from stream.faust_ext.changelog import DELETED, write_states

#: Writes a table's states (``stream.faust_ext.changelog.write_states``).
Write = Callable[[TableT, Sequence[tuple[str, Any]]], None]


class HeldWrites:
    """Latest states per table and key, not yet written to the tables, with when each was first held."""

    def __init__(self, write: Write = write_states, clock: Callable[[], float] = time.monotonic) -> None:
        # Per table, key -> (state, first held at). A dict keeps a key where it was first put, so
        # each table's keys are in the order they were first held.
        self._pending: dict[str, tuple[faust.TableT, dict[str, tuple[Any, float]]]] = {}
        # Per table, the keys put since expiry last took them (stream.pipeline.expiry).
        self._put_keys: dict[str, set[str]] = {}
        self._write = write
        self._clock = clock

    def get(self, table: faust.TableT, key: str) -> Any:
        """The state of ``key``: the one held here, else the table's (``None`` if neither has one,
        or the key is held as deleted)."""
        held = self._pending.get(table.name)
        if held is not None and key in held[1]:
            return held[1][key][0]
        return table.get(key)

    def put(self, table: faust.TableT, key: str, state: Any, *, report: bool = True) -> None:
        """Hold ``state`` for ``key`` (:data:`DELETED`: delete the key). The key is reported by
        :meth:`take_put_keys` unless ``report`` is False (expiry's own writes: it knows them)."""
        held = self._pending.get(table.name)
        if held is None:
            held = self._pending[table.name] = (table, {})
        states = held[1]
        states[key] = (state, states[key][1] if key in states else self._clock())
        if report:
            put_keys = self._put_keys.get(table.name)
            if put_keys is None:
                put_keys = self._put_keys[table.name] = set()
            put_keys.add(key)

    def take_put_keys(self, table: faust.TableT) -> set[str]:
        """The keys put for ``table`` (and reported) since the last call, each once."""
        return self._put_keys.pop(table.name, set())

    def items(self, table: faust.TableT, keep: Callable[[str], bool]) -> list[tuple[str, Any]]:
        """The keys of ``table`` that ``keep`` accepts, with their latest states, held ones included
        (and keys held as deleted left out).

        Keys are chosen before their states are read, which a RocksDB table deserialises.
        """
        held = self._pending[table.name][1] if table.name in self._pending else {}
        stored = [(key, table[key]) for key in table.keys() if key not in held and keep(key)]
        return stored + [(key, state) for key, (state, _) in held.items() if state is not DELETED and keep(key)]

    def keys(self, table: faust.TableT) -> list[str]:
        """Every key of ``table`` and every key held for it (including keys held as deleted)."""
        held = self._pending[table.name][1] if table.name in self._pending else {}
        return [*table.keys(), *(key for key in held if key not in table)]

    def new_keys(self, table: faust.TableT) -> int:
        """Keys held for ``table`` that it does not have yet."""
        held = self._pending.get(table.name)
        return 0 if held is None else sum(1 for key in held[1] if key not in table)

    def flush(self, held_for: float = 0.0) -> int:
        """Write the states first held at least ``held_for`` seconds ago (by default every one) to
        their tables and changelogs; how many were written."""
        cutoff = self._clock() - held_for
        written = 0
        for table, states in self._pending.values():
            due = []
            for key, (state, since) in states.items():
                if since > cutoff:
                    break  # the rest were first held later still
                due.append((key, state))
            if due:
                self._write(table, due)
            for key, _ in due:  # only once written: a write that fails keeps them held
                del states[key]
            written += len(due)
        return written
