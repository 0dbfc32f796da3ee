"""Reading historical events from JSON-lines or CSV files, for ``python -m stream replay``.

Turns a file into :class:`Record` (what to send where) or :class:`BadLine` (why not), validating
each event exactly as the worker will, or stops at once with :class:`UnusableFile` when nothing in
it can be used. Producing to Kafka is the caller's job.

CSV files have a header row naming columns after the event fields of SPEC §3; an empty cell is
an absent field, ``resolved`` and ``public`` are ``true``/``false``, ``score`` an integer,
``hold_seconds`` a number, ``queues`` a ``|``-separated list, and ``ts`` ISO-8601 or epoch
seconds. Calls and chats share their event types, so a ``channel`` column (or JSON field)
says which topic a ``contact.*`` event goes to: ``voice`` (the default) or ``chat``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, get_args

from pydantic import ValidationError

from schemas import decode_event
from schemas.events import AgentState, ContactEvent, Event
from stream.ingest.decoding import Source, rejection

Format = Literal["jsonl", "csv"]
_CONTACT_CHANNELS = ("voice", "chat")
_BOOLEAN = {"true": True, "false": False}


def _required_fields() -> tuple[str, ...]:
    """The fields every event type requires, in the schema's order."""
    models = get_args(get_args(Event)[0])
    return tuple(
        name
        for name in models[0].model_fields
        if all(name in model.model_fields and model.model_fields[name].is_required() for model in models)
    )


#: A CSV header without one of these makes every row invalid.
REQUIRED_COLUMNS = _required_fields()


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


class UnusableFile(Exception):
    """Nothing in the file can be replayed: it cannot be read, is empty or not UTF-8, or its CSV
    header lacks a column every event needs. Exit status 2."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.line = line

    def where(self, path: Path) -> str:
        """``FILE:LINE: reason``, or ``FILE: reason`` for the whole file."""
        return f"{path}{'' if self.line is None else f':{self.line}'}: {self}"


@dataclass
class EventFile:
    """An open replay file: its events in order, and its number of lines (for progress)."""

    items: Iterator[Record | BadLine]
    lines: int
    _file: IO[str] = field(repr=False)

    def __enter__(self) -> EventFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._file.close()


def open_events(path: Path, fmt: Format) -> EventFile:
    """Open ``path`` for :func:`read`, or raise :class:`UnusableFile` before any event is read: a file
    with a line that is not UTF-8 fails here, not halfway through a replay."""
    try:
        with path.open("rb") as raw:
            lines = _count_utf8_lines(raw)
        if not lines:
            raise UnusableFile("empty file: no events")
        text = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise UnusableFile(exc.strerror or str(exc)) from None
    try:
        return EventFile(read(text, fmt), lines, text)
    except UnusableFile:
        text.close()
        raise


def _count_utf8_lines(raw: Iterable[bytes]) -> int:
    number = 0
    for number, line in enumerate(raw, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnusableFile(
                f"not UTF-8: byte {exc.start + 1} of the line is {line[exc.start]:#04x}; save the file as UTF-8", number
            ) from None
    return number


def read(lines: Iterable[str], fmt: Format) -> Iterator[Record | BadLine]:
    """Records in file order; line numbers count from 1 and include a CSV header.

    A CSV header without a column every event needs raises :class:`UnusableFile` at once, rather
    than one error per row."""
    rows = _csv_rows(lines) if fmt == "csv" else _jsonl_rows(lines)
    return (row if isinstance(row, BadLine) else to_record(number, row) for number, row in rows)


def exit_status(events: int, invalid: int) -> int:
    """0 when every line was an event, 1 when some were invalid, 2 when there was no event at all."""
    if invalid:
        return 1
    return 0 if events else 2


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
    _check_header(reader.fieldnames)  # reads the header line now, not at the first row
    return _csv_cells(reader)


def _check_header(names: Sequence[str] | None) -> None:
    if not names:
        raise UnusableFile(f"no CSV header: the first line names the columns ({', '.join(REQUIRED_COLUMNS)}, ...)", 1)
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if not missing:
        return
    reason = f"the CSV header has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}"
    separator = next((sep for sep in (";", "\t", "|") if len(names) == 1 and sep in names[0]), None)
    if separator is not None:
        raise UnusableFile(f"{reason}: its columns are separated by {separator!r}; the separator must be ','", 1)
    raise UnusableFile(f"{reason}; its columns: {', '.join(map(repr, names))}", 1)


def _csv_cells(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the csv module's size limit
            yield reader.reader.line_num, BadLine(reader.reader.line_num, f"not CSV: {exc}")
            continue
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
