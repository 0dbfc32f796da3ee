"""stream.kpi.wire: every record's JSON form, and what an earlier version wrote still reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic_core import from_json, to_json

from stream.ingest.deadletter import InputMessage
from stream.kpi.contacts import ContactState, Lifecycle
from stream.kpi.customers import Visit
from stream.kpi.facts import Fact
from stream.kpi.presence import NO_PLACE, AgentUpdate, Presence
from stream.kpi.tickets import TicketState
from stream.kpi.wire import Row, Sparse

RECORDS: list[Any] = [
    Lifecycle("answered", 100.0, "c-1", "voice", "sales", "cust-1", None),
    ContactState("chat", queue="sales", queued=1.0, answered=2.5, changed_at=9.0),
    TicketState("billing", None, 10.0, replies=(11.0, 12.0), reopens=(13.0,), changed_at=20.0),
    Visit("cust-1", "c-1", "sales", "voice", 100.0, 200.0, True),
    Fact("answered", "sales", "voice", "c-1", 100.0, 12.5),
    Fact("fcr", "sales", "voice", "c-1", 100.0, 1.0, retraction=True),
    AgentUpdate("a-1", 100.0, "busy", ("sales", "billing"), (2, 41)),
    Presence("sales", "a-1", None, 100.0, (0, 7)),
    InputMessage("calls", 3, 99, b"\x00key", b"\xffvalue", "key 4 bytes, value 6 bytes"),
    InputMessage("calls", 3, 99, None, b"{}"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_reads_back_through_json(record: Any) -> None:
    assert type(record).from_wire(from_json(to_json(record.to_wire()))) == record


@pytest.mark.parametrize(
    ("record", "wire"),
    [
        (Fact("answered", "q", "voice", "c", 1.0, 5.0), ["answered", "q", "voice", "c", 1.0, 5.0]),
        (Fact("fcr", "q", "voice", "c", 1.0, 0.0, True), ["fcr", "q", "voice", "c", 1.0, 0.0, 1]),
        (ContactState("voice", queued=3.0), {"channel": "voice", "queued": 3.0}),
        (TicketState(created=3.0, solves=(4.0,)), {"created": 3.0, "solves": [4.0]}),
        (AgentUpdate("a", 1.0, "away", ("q",)), ["a", 1.0, "away", ["q"], [-1, -1]]),
    ],
)
def test_the_json_form_is_compact_and_unchanged(record: Any, wire: Any) -> None:
    assert from_json(to_json(record.to_wire())) == wire


@pytest.mark.parametrize(
    ("cls", "older", "expected"),
    [
        # before retractions were marked, and before agents' places were recorded
        (Fact, ["answered", "q", "voice", "c", 1.0, 5.0], Fact("answered", "q", "voice", "c", 1.0, 5.0, False)),
        (AgentUpdate, ["a", 1.0, "away", ["q"]], AgentUpdate("a", 1.0, "away", ("q",), NO_PLACE)),
        (Presence, ["q", "a", "busy", 1.0], Presence("q", "a", "busy", 1.0, NO_PLACE)),
        (TicketState, {"queue": "q"}, TicketState("q")),
    ],
)
def test_what_an_earlier_version_wrote_reads_with_defaults(cls: Any, older: Any, expected: Any) -> None:
    assert cls.from_wire(older) == expected


@dataclass(frozen=True)
class _Example:
    a: int
    b: int = 0
    c: int = 0


def test_optional_fields_must_end_the_row() -> None:
    with pytest.raises(ValueError, match="must end the row"):
        Row(_Example, optional=("b",))
    assert Row(_Example, optional=("b", "c")).to_wire(_Example(1)) == [1]
    assert Row(_Example, optional=("b", "c")).to_wire(_Example(1, 0, 2)) == [1, 0, 2]
    assert Row(_Example).to_wire(_Example(1)) == [1, 0, 0]


def test_a_sparse_record_leaves_out_only_defaults() -> None:
    wire = Sparse(_Example)
    assert wire.to_wire(_Example(0, 0, 5)) == {"a": 0, "c": 5}  # a has no default: always there
    assert wire.from_wire({"a": 0, "c": 5}) == _Example(0, 0, 5)
