"""Event models: one discriminated union on ``type``, validated straight from bytes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
)


def _epoch_to_datetime(value: object) -> object:
    # Epoch seconds are accepted as a number; a bool is not a number here.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch seconds {value!r} are out of range") from None
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_epoch_to_datetime)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]
QueueName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Identifier = Annotated[str, Field(min_length=1, max_length=256)]
Channel = Literal["voice", "chat", "ticket"]
VOICE, CHAT, TICKET = "voice", "chat", "ticket"


class _Event(BaseModel):
    # Unknown extra fields are tolerated so producers can add context without
    # breaking the processor; the fields we use are strictly typed.
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)

    event_id: EventId
    ts: Timestamp


class _ContactScoped(_Event):
    contact_id: Identifier


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
    hold_seconds: Annotated[float, Field(ge=0)] | None = None
    queue: QueueName | None = None


class ContactWrapped(_ContactScoped):
    type: Literal["contact.wrapped"]
    resolved: StrictBool
    disposition: str | None = None
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
    queues: list[QueueName]
    state: Literal["available", "busy", "wrapup", "away", "offline"]


ContactEvent = Union[ContactQueued, ContactAnswered, ContactAbandoned, ContactEnded, ContactWrapped]

Event = Annotated[
    Union[
        ContactQueued,
        ContactAnswered,
        ContactAbandoned,
        ContactEnded,
        ContactWrapped,
        TicketCreated,
        TicketReplied,
        TicketSolved,
        TicketReopened,
        SurveyCsat,
        SurveyNps,
        SurveyCes,
        SurveyEsat,
        AgentState,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def decode_event(raw: bytes) -> Event:
    """Validate one message value; raises :class:`pydantic.ValidationError`."""
    return EVENT_ADAPTER.validate_json(raw)
