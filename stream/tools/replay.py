"""Reading historical events from JSON-lines or CSV files, for ``python -m stream replay``.

Pure: turns lines into :class:`Record` (what to send where) or :class:`BadLine` (why not),
validating each event exactly as the worker will. Producing to Kafka is the caller's job.

CSV files have a header row naming columns after the event fields of SPEC §3; an empty cell is
an absent field, ``resolved`` and ``public`` are ``true``/``false``, ``score`` an integer,
``hold_seconds`` a number, ``queues`` a ``|``-separated list, and ``ts`` ISO-8601 or epoch
seconds. Calls and chats share their event types, so a ``channel`` column (or JSON field)
says which topic a ``contact.*`` event goes to: ``voice`` (the default) or ``chat``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from schemas import decode_event
from schemas.events import AgentState, ContactEvent, Event
from stream.ingest.decoding import Source, rejection

Format = Literal["jsonl", "csv"]
_CONTACT_CHANNELS = ("voice", "chat")
_BOOLEAN = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    source: Source
    key: bytes | None
    value: bytes
    ts: float


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


def read(lines: Iterable[str], fmt: Format) -> Iterator[Record | BadLine]:
    """Records in file order; line numbers count from 1 and include a CSV header."""
    rows = _csv_rows(lines) if fmt == "csv" else _jsonl_rows(lines)
    for number, row in rows:
        yield row if isinstance(row, BadLine) else to_record(number, row)


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, BadLine(number, f"not JSON: {exc.msg}")
            continue
        yield number, row if isinstance(row, dict) else BadLine(number, "not a JSON object")


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    reader = csv.DictReader(lines)
    for row in reader:
        number = reader.line_num
        try:
            yield number, {name: _cell(name, value) for name, value in row.items() if name and value not in ("", None)}
        except ValueError as exc:
            yield number, BadLine(number, str(exc))


def _cell(name: str, value: str) -> Any:
    if name in ("resolved", "public"):
        if value.lower() not in _BOOLEAN:
            raise ValueError(f"{name}: {value!r} is not true or false")
        return _BOOLEAN[value.lower()]
    if name == "score":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"score: {value!r} is not a whole number") from None
    if name in ("hold_seconds", "ts"):
        try:
            return float(value)
        except ValueError:
            if name == "ts":
                return value  # ISO-8601
            raise ValueError(f"hold_seconds: {value!r} is not a number") from None
    if name == "queues":
        return [queue for queue in value.split("|") if queue]
    return value


def to_record(number: int, row: dict[str, Any]) -> Record | BadLine:
    channel = row.pop("channel", None) if str(row.get("type", "")).startswith("contact.") else row.get("channel")
    value = json.dumps(row, separators=(",", ":")).encode()
    try:
        event = decode_event(value)
    except ValidationError as exc:
        rejected = rejection(exc)
        return BadLine(number, f"{rejected.reason}: {rejected.detail}")
    source = _source_of(event, channel)
    if source is None:
        return BadLine(number, f"channel {channel!r} of a contact event is neither voice nor chat")
    return Record(number, source, _key_of(event), value, event.ts.timestamp())


def _source_of(event: Event, channel: Any) -> Source | None:
    if isinstance(event, ContactEvent.__args__):  # type: ignore[attr-defined]
        channel = channel or "voice"
        return channel if channel in _CONTACT_CHANNELS else None
    if isinstance(event, AgentState):
        return "agent"
    if event.type.startswith("ticket."):
        return "ticket"
    return "survey"


def _key_of(event: Event) -> bytes | None:
    if isinstance(event, AgentState):
        return event.agent_id.encode()
    contact_id = getattr(event, "contact_id", None)
    return contact_id.encode() if contact_id else None
