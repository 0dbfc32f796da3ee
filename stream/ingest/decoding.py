"""Turning raw input messages into what the stages pass on, or a reason they cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from schemas import ContactEvent, decode_event
from schemas.events import (
    AgentState,
    ContactQueued,
    ContactWrapped,
    Event,
    SurveyCes,
    SurveyCsat,
    SurveyEsat,
    SurveyNps,
    TicketCreated,
    TicketReopened,
    TicketReplied,
    TicketSolved,
)
from stream.kpi.contacts import Lifecycle
from stream.kpi.facts import Fact
from stream.kpi.presence import AgentUpdate

#: What an input topic carries: a contact channel's lifecycle, tickets, surveys or agent states.
Source = Literal["voice", "chat", "ticket", "survey", "agent"]
#: A survey answer without a channel, and every employee answer, count under this channel.
UNKNOWN_CHANNEL = "unknown"

_TICKET_EVENTS = (TicketCreated, TicketReplied, TicketSolved, TicketReopened)
_SURVEY_EVENTS = (SurveyCsat, SurveyNps, SurveyCes, SurveyEsat)
_ACCEPTED: dict[str, tuple[type, ...]] = {
    "voice": ContactEvent.__args__,  # type: ignore[attr-defined]
    "chat": ContactEvent.__args__,  # type: ignore[attr-defined]
    "ticket": _TICKET_EVENTS,
    "survey": _SURVEY_EVENTS,
    "agent": (AgentState,),
}

#: Events dated further ahead than this are rejected (SPEC §3).
MAX_FUTURE_SECONDS = 86400.0
#: Events dated before 1970 are refused: no contact centre's data is that old, and dates near year 1
#: cannot be placed in a local day (the day's start would be in year 0).
MIN_TIMESTAMP = 0.0

#: Bounded reason codes, used as the ``reason`` label of the invalid-events counter.
Reason = Literal[
    "not_json",
    "not_object",
    "duplicate_key",
    "unknown_type",
    "missing_field",
    "invalid_field",
    "out_of_range",
    "no_timezone",
    "future_timestamp",
    "wrong_topic",
]

_REASON_BY_ERROR: dict[str, Reason] = {
    "json_invalid": "not_json",
    "json_type": "not_json",
    "model_attributes_type": "not_object",
    "model_type": "not_object",
    "dict_type": "not_object",
    "duplicate_key": "duplicate_key",
    "union_tag_invalid": "unknown_type",
    "union_tag_not_found": "missing_field",
    "missing": "missing_field",
    "timezone_aware": "no_timezone",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    # A value past a length bound, or a number that is not finite, is malformed rather than a
    # reading out of range: the same reason as any other ill-formed field.
    "string_too_short": "invalid_field",
    "string_too_long": "invalid_field",
    "too_long": "invalid_field",
    "finite_number": "invalid_field",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid event that measures nothing (a private ticket note)."""

    why: str


Decoded = Lifecycle | Fact | AgentUpdate


def decode(raw: bytes, source: Source, wall_now: float) -> Decoded | Ignored | Rejected:
    """Validate a message from the input topic of ``source``; ``wall_now`` (the wall clock, even
    when now is event time) tells how far ahead an event may be dated.

    How late an event arrives is no reason to refuse it (SPEC §3): whether it can still change
    anything depends on the windows and the contacts held, which the stages judge.
    """
    try:
        event = decode_event(raw)
    except ValidationError as exc:
        return rejection(exc)
    if not isinstance(event, _ACCEPTED[source]):
        return Rejected("wrong_topic", f"type {event.type!r} does not belong on the {source} topic")
    ts = event.ts.timestamp()
    if ts > wall_now + MAX_FUTURE_SECONDS:
        return Rejected("future_timestamp", f"ts {event.ts.isoformat()} is more than a day ahead")
    if ts < MIN_TIMESTAMP:
        return Rejected("out_of_range", f"ts {event.ts.isoformat()} is before 1970")
    return _convert(event, source, ts)


def _convert(event: Event, source: Source, ts: float) -> Decoded | Ignored:
    if isinstance(event, AgentState):
        return AgentUpdate(event.agent_id, ts, event.state, tuple(event.queues))
    if isinstance(event, _SURVEY_EVENTS):
        kind = event.type.removeprefix("survey.")
        # eNPS has no channel (SPEC §5): every employee answer of a queue counts in one place.
        channel = UNKNOWN_CHANNEL if isinstance(event, SurveyEsat) else event.channel or UNKNOWN_CHANNEL
        return Fact(kind, event.queue, channel, event.event_id, ts, float(event.score))  # type: ignore[arg-type]
    if isinstance(event, TicketReplied) and not event.public:
        return Ignored("private reply")
    return Lifecycle(
        kind=event.type.split(".", 1)[1],  # type: ignore[arg-type]
        ts=ts,
        contact_id=event.contact_id,
        channel=source,
        queue=getattr(event, "queue", None),
        customer_id=event.customer_id if isinstance(event, (ContactQueued, TicketCreated)) else None,
        resolved=event.resolved if isinstance(event, ContactWrapped) else None,
    )


def rejection(exc: ValidationError) -> Rejected:
    """A short reason code and a readable sentence for the first validation error."""
    first = exc.errors(include_url=False)[0]
    reason = _REASON_BY_ERROR.get(first["type"], "invalid_field")
    # The first element of a union error's location is the event type tag.
    location = ".".join(str(part) for part in first["loc"][1:]) if len(first["loc"]) > 1 else ""
    return Rejected(reason, f"{location}: {first['msg']}" if location else first["msg"])
