"""Turning raw call and chat messages into lifecycle events, or a reason they cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from schemas import ContactEvent, decode_event
from schemas.events import ContactQueued, ContactWrapped
from stream.contacts import Lifecycle

#: Events dated further ahead than this are rejected (SPEC §3).
MAX_FUTURE_SECONDS = 86400.0

#: Bounded reason codes, used as the ``reason`` label of the invalid-events counter.
Reason = Literal[
    "not_json",
    "not_object",
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
    "union_tag_invalid": "unknown_type",
    "union_tag_not_found": "missing_field",
    "missing": "missing_field",
    "timezone_aware": "no_timezone",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Late:
    """A valid event older than the allowed lateness."""

    age_seconds: float


def decode_contact(raw: bytes, channel: str, now: float, lateness: float) -> Lifecycle | Rejected | Late:
    """Validate a message from a call or chat topic."""
    try:
        event = decode_event(raw)
    except ValidationError as exc:
        return rejection(exc)
    if not isinstance(event, ContactEvent.__args__):  # type: ignore[attr-defined]
        return Rejected("wrong_topic", f"type {event.type!r} does not belong on a {channel} topic")
    ts = event.ts.timestamp()
    if ts > now + MAX_FUTURE_SECONDS:
        return Rejected("future_timestamp", f"ts {event.ts.isoformat()} is more than a day ahead")
    if ts < now - lateness:
        return Late(now - ts)
    return Lifecycle(
        kind=event.type.removeprefix("contact."),  # type: ignore[arg-type]
        ts=ts,
        contact_id=event.contact_id,
        channel=channel,
        queue=event.queue,
        customer_id=event.customer_id if isinstance(event, ContactQueued) else None,
        resolved=event.resolved if isinstance(event, ContactWrapped) else None,
    )


def rejection(exc: ValidationError) -> Rejected:
    """A short reason code and a readable sentence for the first validation error."""
    first = exc.errors(include_url=False)[0]
    reason = _REASON_BY_ERROR.get(first["type"], "invalid_field")
    # The first element of a union error's location is the event type tag.
    location = ".".join(str(part) for part in first["loc"][1:]) if len(first["loc"]) > 1 else ""
    return Rejected(reason, f"{location}: {first['msg']}" if location else first["msg"])
