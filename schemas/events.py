"""Event models: one discriminated union on ``type``, validated straight from bytes.

Every string and list has a bound. SPEC §3 fixes two; the others sit far above real use, so that a
value past them is a broken or hostile producer, never a real contact centre. A value past a bound
makes the event invalid. ``ts`` follows the rule of :mod:`schemas.timestamps`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter

from schemas.jsonkeys import reject_repeated_keys
from schemas.timestamps import Timestamp

#: SPEC §3: 1-128 characters.
EventId = Annotated[str, Field(min_length=1, max_length=128)]
#: SPEC §3: 1-64 characters of ``[A-Za-z0-9_.-]``.
QueueName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
#: Contact, customer and agent ids: 1-128 characters; real ones are UUIDs (36) or CRM keys (about 20).
Identifier = Annotated[str, Field(min_length=1, max_length=128)]
#: A wrap-up code: at most 256 characters; real ones are short labels ("sale", "callback-requested").
Disposition = Annotated[str, Field(max_length=256)]
#: The queues of one agent: at most 200; real agents serve a handful, the widest skill sets a few dozen.
AgentQueues = Annotated[list[QueueName], Field(max_length=200)]
#: Time on hold of one contact: 0 to one day; real holds last seconds to minutes.
HoldSeconds = Annotated[float, Field(ge=0, le=86400)]
Channel = Literal["voice", "chat", "ticket"]
VOICE, CHAT, TICKET = "voice", "chat", "ticket"


class _Event(BaseModel):
    # Unknown extra fields are tolerated so producers can add context without
    # breaking the processor; the fields we use are strictly typed, and a number is finite
    # (JSON has no Infinity or NaN, yet 1e400 parses as infinity).
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False, allow_inf_nan=False)

    event_id: EventId
    ts: Timestamp


class _ContactScoped(_Event):
    contact_id: Identifier
    # The contact a transfer came from (SPEC §3). No KPI reads it; it is bounded like every id.
    previous_contact_id: Identifier | None = None


class ContactQueued(_ContactScoped):
    type: Literal["contact.queued"]
    queue: QueueName
    customer_id: Identifier | None = None


class ContactAnswered(_ContactScoped):
    type: Literal["contact.answered"]
    agent_id: Identifier
    queue: QueueName | None = None


class ContactAbandoned(_ContactScoped):
    type: Literal["contact.abandoned"]
    queue: QueueName | None = None


class ContactEnded(_ContactScoped):
    type: Literal["contact.ended"]
    hold_seconds: HoldSeconds | None = None
    queue: QueueName | None = None


class ContactWrapped(_ContactScoped):
    type: Literal["contact.wrapped"]
    resolved: StrictBool
    disposition: Disposition | None = None
    queue: QueueName | None = None


class TicketCreated(_ContactScoped):
    type: Literal["ticket.created"]
    queue: QueueName
    customer_id: Identifier | None = None


class TicketReplied(_ContactScoped):
    type: Literal["ticket.replied"]
    agent_id: Identifier
    public: StrictBool = True


class TicketSolved(_ContactScoped):
    type: Literal["ticket.solved"]


class TicketReopened(_ContactScoped):
    type: Literal["ticket.reopened"]


class _Survey(_Event):
    # Scores are strict integers: true or "5" is an ill-typed answer, not a score.
    queue: QueueName
    channel: Channel | None = None
    contact_id: Identifier | None = None
    agent_id: Identifier | None = None


class SurveyCsat(_Survey):
    type: Literal["survey.csat"]
    score: Annotated[int, Field(strict=True, ge=1, le=5)]


class SurveyNps(_Survey):
    type: Literal["survey.nps"]
    score: Annotated[int, Field(strict=True, ge=0, le=10)]


class SurveyCes(_Survey):
    type: Literal["survey.ces"]
    score: Annotated[int, Field(strict=True, ge=1, le=7)]


class SurveyEsat(_Survey):
    type: Literal["survey.esat"]
    score: Annotated[int, Field(strict=True, ge=0, le=10)]


class AgentState(_Event):
    type: Literal["agent.state"]
    agent_id: Identifier
    queues: AgentQueues
    state: Literal["available", "busy", "wrapup", "away", "offline"]


ContactEvent = ContactQueued | ContactAnswered | ContactAbandoned | ContactEnded | ContactWrapped

Event = Annotated[
    ContactQueued
    | ContactAnswered
    | ContactAbandoned
    | ContactEnded
    | ContactWrapped
    | TicketCreated
    | TicketReplied
    | TicketSolved
    | TicketReopened
    | SurveyCsat
    | SurveyNps
    | SurveyCes
    | SurveyEsat
    | AgentState,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def decode_event(raw: bytes) -> Event:
    """Validate one message value; raises :class:`pydantic.ValidationError`, also for a repeated key.

    Keys are checked once the message is otherwise valid: an invalid one needs no second look, so a
    large bad message costs one parse.
    """
    event = EVENT_ADAPTER.validate_json(raw)
    reject_repeated_keys(raw)
    return event
