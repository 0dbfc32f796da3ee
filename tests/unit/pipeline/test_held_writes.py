"""Held table writes (stream.pipeline.held_writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from stream.pipeline.held_writes import DELETED, HeldWrites


class Table(dict[str, Any]):
    """A table as the stages use it: a mapping with a name, and the writes it was given."""

    def __init__(self, name: str, **states: Any) -> None:
        super().__init__(states)
        self.name = name
        self.writes: list[tuple[str, Any]] = []


def write(table: Table, states: Sequence[tuple[str, Any]]) -> None:
    """What stream.faust_ext.changelog does, on the stand-in table: the states written, the deletions done."""
    for key, state in states:
        if state is not DELETED:
            table[key] = state
        elif key in table:
            del table[key]
        else:
            continue
        table.writes.append((key, state))


def test_a_held_state_is_read_back_before_it_is_written() -> None:
    writes, agents = HeldWrites(write), Table("agents", a1="ready")
    assert writes.get(agents, "a1") == "ready"
    writes.put(agents, "a1", "busy")
    writes.put(agents, "a2", "ready")
    assert (writes.get(agents, "a1"), writes.get(agents, "a2"), writes.get(agents, "a3")) == ("busy", "ready", None)
    assert agents.writes == [] and agents["a1"] == "ready"


def test_a_flush_writes_each_key_once_with_its_latest_state() -> None:
    writes, agents, queues = HeldWrites(write), Table("agents"), Table("queues")
    for state in ("ready", "busy", "wrap-up"):
        writes.put(agents, "a1", state)
    writes.put(queues, "sales/voice", {"offered": 3})
    assert writes.flush() == 2
    assert agents.writes == [("a1", "wrap-up")] and queues.writes == [("sales/voice", {"offered": 3})]
    assert writes.flush() == 0  # nothing held any more
    assert agents.writes == [("a1", "wrap-up")]


def test_items_and_new_keys_count_held_states() -> None:
    writes, queues = HeldWrites(write), Table("queues", **{"sales/voice": 1, "sales/chat": 2})
    writes.put(queues, "sales/voice", 10)
    writes.put(queues, "support/voice", 3)
    everything = sorted(writes.items(queues, lambda key: True))
    assert everything == [("sales/chat", 2), ("sales/voice", 10), ("support/voice", 3)]
    sales = sorted(writes.items(queues, lambda key: key.startswith("sales/")))
    assert sales == [("sales/chat", 2), ("sales/voice", 10)]
    assert writes.new_keys(queues) == 1
    assert writes.new_keys(Table("presence")) == 0


def test_a_partial_flush_writes_only_states_held_long_enough_keeping_each_key_where_it_was_first_held() -> None:
    now = [100.0]
    writes, agents = HeldWrites(write, clock=lambda: now[0]), Table("agents")
    writes.put(agents, "a1", "ready")
    now[0] = 100.3
    writes.put(agents, "a2", "ready")
    writes.put(agents, "a1", "busy")  # changed again: still first held at 100.0
    now[0] = 100.6
    assert writes.flush(held_for=0.5) == 1
    assert agents.writes == [("a1", "busy")]
    writes.put(agents, "a1", "wrap-up")  # held anew, behind a2
    now[0] = 100.9
    assert writes.flush(held_for=0.5) == 1
    assert agents.writes == [("a1", "busy"), ("a2", "ready")]
    assert writes.get(agents, "a1") == "wrap-up"
    assert writes.flush() == 1  # before a commit: everything
    assert agents.writes[-1] == ("a1", "wrap-up")


def test_a_key_held_as_deleted_is_gone_at_once_and_deleted_when_written() -> None:
    writes, contacts = HeldWrites(write), Table("contacts", c1="done", c2="open")
    writes.put(contacts, "c1", DELETED)
    writes.put(contacts, "c3", "queued")
    writes.put(contacts, "c3", DELETED)  # held and deleted before ever being written
    assert writes.get(contacts, "c1") is None and writes.get(contacts, "c3") is None
    assert writes.items(contacts, lambda key: True) == [("c2", "open")]
    assert writes.flush() == 2
    assert contacts.writes == [("c1", DELETED)] and dict(contacts) == {"c2": "open"}


def test_states_whose_write_fails_stay_held() -> None:
    def failing(table: Table, states: Sequence[tuple[str, Any]]) -> None:
        raise OSError("disk full")

    writes, agents = HeldWrites(failing), Table("agents")
    writes.put(agents, "a1", "busy")
    with pytest.raises(OSError):
        writes.flush()
    assert writes.get(agents, "a1") == "busy" and writes.new_keys(agents) == 1


def test_the_keys_put_are_taken_once_each_leaving_out_puts_not_reported() -> None:
    writes, contacts, agents = HeldWrites(write), Table("contacts"), Table("agents")
    writes.put(contacts, "c1", "queued")
    writes.put(contacts, "c1", "answered")
    writes.put(contacts, "c2", DELETED)
    writes.put(contacts, "c3", "abandoned", report=False)  # expiry's own
    writes.put(agents, "a1", "ready")
    assert writes.take_put_keys(contacts) == {"c1", "c2"}
    assert writes.take_put_keys(contacts) == set()
    writes.flush()
    assert writes.take_put_keys(agents) == {"a1"}  # written out meanwhile, still reported
