"""JSON Schemas of the input events, generated from the models: one per event type and one of any event.

``python -m schemas.json_schema [OUTDIR]`` writes them (default ``docs/schemas``) with an index,
``README.md``. Each schema is the model's own (:meth:`pydantic.BaseModel.model_json_schema`) with
descriptions added and ``ts`` written out: pydantic's ``date-time`` says neither that the offset is
required nor that an epoch number is read. A schema accepts no event the models refuse, except for
what its description lists under "Not expressed"; the models read a few spellings more than it
allows ("Also read").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from schemas.events import Event
from schemas.timestamps import EPOCH_MS_FROM, MAX_TS_CHARS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://github.com/contact-centre-kpi/contact-centre-kpi/docs/schemas/"
#: The union of every type, its file in the output directory.
ANY_EVENT = "event.json"
INDEX = "README.md"
DEFAULT_OUTDIR = Path("docs/schemas")

#: 9999-12-31T23:59:59.999Z in epoch milliseconds, plus one: the first epoch past year 9999.
_EPOCH_LIMIT_MS = 253_402_300_800_000
# ISO-8601 as RFC 3339 writes it, with an offset, from 1970 (the processor refuses earlier dates).
_ISO = (
    r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# An epoch in a string: at most 14 digits before the point keeps it below 1e14 ms (year 5138).
_EPOCH_STRING = r"^[0-9]{1,14}(\.[0-9]+)?$"
_MS_FROM = f"{EPOCH_MS_FROM:.0e}".replace("e+", "e")

TIMESTAMP: dict[str, Any] = {
    "description": (
        "Event time: ISO-8601 with a UTC offset (2026-11-22T10:15:03.120Z), or an epoch as a JSON number or a "
        f"string holding one, read the same way: below {_MS_FROM} seconds, from {_MS_FROM} up milliseconds. "
        "From 1970 on, and at most a day ahead of the processor's clock."
    ),
    "anyOf": [
        {"type": "string", "format": "date-time", "maxLength": MAX_TS_CHARS, "pattern": _ISO},
        {"type": "number", "minimum": 0, "exclusiveMaximum": _EPOCH_LIMIT_MS},
        {"type": "string", "pattern": _EPOCH_STRING},
    ],
}

#: What every schema cannot say, and what the processor does about it.
NOT_EXPRESSED = (
    "a ts more than a day ahead of the processor's clock (dead-lettered as future_timestamp)",
    "a date that does not exist, such as 30 February (only a validator that asserts format date-time sees it)",
    "a key named twice in one object (duplicate_key; a JSON parser keeps one of the values)",
    "the topic: each type belongs on the topics named here (wrong_topic elsewhere)",
)
#: Said of the types with a score.
SCORE_NOT_EXPRESSED = "a score written with a fraction (5.0): an integer to JSON Schema, refused by the processor"
ALSO_READ = (
    "other ISO-8601 spellings of ts (a space or _ for T, lower-case t and z, +hhmm offsets, a comma before the "
    "fraction, no seconds), epoch strings with a sign, an exponent or more digits, and numbers in strings where "
    "a number is expected (hold_seconds). Producers should not rely on them"
)


@dataclass(frozen=True, slots=True)
class EventType:
    """An event type: its model, the default input topics it belongs on, and what it means."""

    model: type[BaseModel]
    topics: tuple[str, ...]
    meaning: str

    @property
    def name(self) -> str:
        return type_of(self.model)


#: Each family of types (the part of ``type`` before the dot) -> its input topics, by default name.
_TOPICS = {
    "contact": ("contact-centre.calls", "contact-centre.chats"),
    "ticket": ("contact-centre.tickets",),
    "survey": ("contact-centre.surveys",),
    "agent": ("contact-centre.agents",),
}
_MEANINGS = {
    "contact.queued": "A contact (one queue visit of a call or chat) offered to a queue: waiting starts.",
    "contact.answered": "An agent took the contact: waiting ends.",
    "contact.abandoned": "The customer left before an answer: waiting ends.",
    "contact.ended": "The conversation is over: after-contact work starts.",
    "contact.wrapped": "After-contact work finished: the contact is complete (handle time, FCR).",
    "ticket.created": "A ticket opened (offered to its queue).",
    "ticket.replied": "An agent replied; the first public reply ends first-response time.",
    "ticket.solved": "The ticket was solved: resolution time ends.",
    "ticket.reopened": "A solved ticket came back: its earlier resolution no longer counts.",
    "survey.csat": "A customer satisfaction answer (1-5).",
    "survey.nps": "A net promoter answer (0-10).",
    "survey.ces": "A customer effort answer (1-7, 7 = very easy).",
    "survey.esat": "An employee satisfaction answer (0-10, 'how likely are you to recommend working here').",
    "agent.state": "An agent's new state, and the queues it serves.",
}

#: One valid event of each type, in each schema's ``examples``.
_EXAMPLES: dict[str, dict[str, Any]] = {
    "contact.queued": {"contact_id": "c-42", "queue": "sales", "customer_id": "k-7"},
    "contact.answered": {"contact_id": "c-42", "agent_id": "a-3"},
    "contact.abandoned": {"contact_id": "c-43"},
    "contact.ended": {"contact_id": "c-42", "hold_seconds": 30},
    "contact.wrapped": {"contact_id": "c-42", "resolved": True, "disposition": "sale"},
    "ticket.created": {"contact_id": "T-1001", "queue": "support", "customer_id": "k-7"},
    "ticket.replied": {"contact_id": "T-1001", "agent_id": "a-9", "public": True},
    "ticket.solved": {"contact_id": "T-1001"},
    "ticket.reopened": {"contact_id": "T-1001"},
    "survey.csat": {"queue": "sales", "channel": "voice", "contact_id": "c-42", "score": 5},
    "survey.nps": {"queue": "sales", "score": 9},
    "survey.ces": {"queue": "sales", "channel": "chat", "score": 6},
    "survey.esat": {"queue": "sales", "agent_id": "a-3", "score": 8},
    "agent.state": {"agent_id": "a-3", "queues": ["sales", "support"], "state": "available"},
}

#: Field descriptions; ``type.field`` entries override the plain field's for that type.
_FIELDS = {
    "event_id": "Identifies the event. A survey answer whose event_id was already counted is a duplicate.",
    "type": "The event type.",
    "contact_id": "The contact: one queue visit of a call or chat, the same id on each of its events.",
    "previous_contact_id": "The contact a transfer came from (a transfer is a new contact). No KPI reads it.",
    "queue": "Optional and not used: a contact's queue is the one of its contact.queued.",
    "customer_id": "The customer, for repeat contacts and first-contact resolution; absent or null: a first contact.",
    "agent_id": "The agent. No KPI reads it.",
    "contact.queued.queue": "The queue the contact waits in; its later events count there.",
    "contact.ended.hold_seconds": "Time on hold, 0 to 86400. No KPI reads it (handle time is wrapped - answered).",
    "contact.wrapped.resolved": "Whether the issue was resolved: FCR counts resolved first contacts.",
    "contact.wrapped.disposition": "A wrap-up code, at most 256 characters. No KPI reads it.",
    "ticket.created.queue": "The queue of the ticket; its later events count there.",
    "ticket.created.contact_id": "The ticket's id, the same on each of its events.",
    "ticket.replied.contact_id": "The ticket's id.",
    "ticket.solved.contact_id": "The ticket's id.",
    "ticket.reopened.contact_id": "The ticket's id.",
    "ticket.replied.public": "false: a private note, which measures nothing.",
    "survey.queue": "The queue the answer counts for.",
    "survey.channel": "The channel label the answer counts under; absent or null: unknown.",
    "survey.esat.channel": "Checked, then ignored: employee answers count per queue, without a channel.",
    "survey.contact_id": "The contact answered about. No KPI reads it.",
    "survey.csat.score": "1-5; 4 and 5 are satisfied.",
    "survey.nps.score": "0-10; 9-10 are promoters, 0-6 detractors.",
    "survey.ces.score": "1-7, 7 = very easy.",
    "survey.esat.score": "0-10; 9-10 count for, 0-6 against (eNPS).",
    "agent.state.agent_id": "The agent; its latest state by ts counts.",
    "agent.state.queues": "The queues the agent serves now (at most 200): it counts in each, and leaves the others.",
    "agent.state.state": "The agent's state.",
}


def event_types() -> list[EventType]:
    """Every event type, in the order of the union in :mod:`schemas.events`."""
    models: Sequence[type[BaseModel]] = get_args(get_args(Event)[0])
    return [EventType(model, _TOPICS[type_of(model).split(".")[0]], _MEANINGS[type_of(model)]) for model in models]


def type_of(model: type[BaseModel]) -> str:
    """The ``type`` an event model takes (its ``Literal``)."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


def _describe(event_type: str, field: str) -> str:
    family = event_type.split(".")[0]
    for key in (f"{event_type}.{field}", f"{family}.{field}", field):
        if key in _FIELDS:
            return _FIELDS[key]
    raise KeyError(f"no description of {event_type}.{field}")


def _without_titles(schema: Any) -> Any:
    """``schema`` without pydantic's titles ("Event Id"), which only repeat the field names."""
    if isinstance(schema, dict):
        return {key: _without_titles(value) for key, value in schema.items() if key != "title"}
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    return schema


def event_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema of one event type."""
    generated = event_type.model.model_json_schema()
    name = event_type.name
    generated_properties = _without_titles(generated["properties"])
    properties = {}
    for field in sorted(generated_properties, key=_order):
        schema = generated_properties[field]
        properties[field] = TIMESTAMP if field == "ts" else {"description": _describe(name, field), **schema}
    not_expressed = list(NOT_EXPRESSED)
    if "score" in properties:
        not_expressed.append(SCORE_NOT_EXPRESSED)
    description = (
        f"{event_type.meaning} On {' or '.join(event_type.topics)} (default topic names). "
        "Fields not listed are allowed and ignored. "
        f"Not expressed here: {'; '.join(not_expressed)}. Also read, beyond this schema: {ALSO_READ}."
    )
    return {
        "$schema": DRAFT,
        "$id": BASE_ID + f"{name}.json",
        "title": name,
        "description": description,
        "type": "object",
        "required": sorted(generated["required"], key=_order),
        "properties": properties,
        "additionalProperties": True,
        "examples": [example(name)],
    }


def example(event_type: str) -> dict[str, Any]:
    """A valid event of ``event_type``."""
    return {
        "event_id": f"e-{event_type}",
        "type": event_type,
        "ts": "2026-11-22T10:15:03.120Z",
        **_EXAMPLES[event_type],
    }


#: Fields every event has, first in each schema; the others follow in the model's order.
_FIRST = ("event_id", "type", "ts")


def _order(field: str) -> int:
    return _FIRST.index(field) if field in _FIRST else len(_FIRST)


def any_event_schema(types: Sequence[EventType]) -> dict[str, Any]:
    """A schema of any input event: ``type`` picks the schema of its type."""
    names = [event_type.name for event_type in types]
    return {
        "$schema": DRAFT,
        "$id": BASE_ID + ANY_EVENT,
        "title": "Input event",
        "description": (
            "Any event of the input topics: an object whose type is one of the event types, valid against "
            "that type's schema (which says what it does not express)."
        ),
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": names}},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"$ref": f"{name}.json"},
            }
            for name in names
        ],
    }


def index(types: Sequence[EventType]) -> str:
    """The index of the schemas: one row per event type."""
    rows = []
    for event_type in types:
        schema = event_schema(event_type)
        required = [field for field in schema["required"] if field != "type"]
        optional = [field for field in schema["properties"] if field not in schema["required"]]
        rows.append(
            f"| [`{event_type.name}`]({event_type.name}.json) | {', '.join(f'`{t}`' for t in event_type.topics)} "
            f"| {', '.join(f'`{f}`' for f in required)} | {', '.join(f'`{f}`' for f in optional) or '-'} |"
        )
    return "\n".join(
        [
            "# Event schemas",
            "",
            "JSON Schemas (draft 2020-12) of the input events, generated from the models in `schemas/events.py`",
            "by `python -m schemas.json_schema docs/schemas`; a unit test fails when they differ from the models.",
            f"[`{ANY_EVENT}`]({ANY_EVENT}) accepts any input event, by its `type`. The meaning of each event and",
            "field, and what the processor does with it, is in [../events.md](../events.md).",
            "",
            "| type | topic (default name) | required | optional |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            "Fields not listed are allowed and ignored. No schema can say, and the processor still refuses:",
            "",
            *(f"- {item};" for item in NOT_EXPRESSED),
            f"- {SCORE_NOT_EXPRESSED}.",
            "",
            f"The processor also reads, beyond the schemas: {ALSO_READ}.",
            "",
        ]
    )


def render() -> dict[str, str]:
    """Every file of the output directory: name -> text."""
    types = event_types()
    files = {f"{event_type.name}.json": _dump(event_schema(event_type)) for event_type in types}
    files[ANY_EVENT] = _dump(any_event_schema(types))
    files[INDEX] = index(types)
    return files


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(outdir: Path) -> list[Path]:
    """Write every file of :func:`render` into ``outdir``; return their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = outdir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.json_schema", description="Write the JSON Schemas of the input events."
    )
    parser.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR, help="default: %(default)s")
    outdir: Path = parser.parse_args(argv).outdir
    print(f"wrote {len(write(outdir))} files to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
