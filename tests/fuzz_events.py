"""Valid events of every type and ways to break them, shared by the decoder and pipeline fuzz tests."""

from __future__ import annotations

import json
import random
from typing import Any

#: One valid event per type; "ts" is filled in by the caller.
VALID: dict[str, list[dict[str, Any]]] = {
    "voice": [
        {"type": "contact.queued", "contact_id": "c", "queue": "fuzz", "customer_id": "k"},
        {"type": "contact.answered", "contact_id": "c", "agent_id": "a"},
        {"type": "contact.abandoned", "contact_id": "c"},
        {"type": "contact.ended", "contact_id": "c", "hold_seconds": 12.5},
        {"type": "contact.wrapped", "contact_id": "c", "resolved": True, "disposition": "sale"},
    ],
    "ticket": [
        {"type": "ticket.created", "contact_id": "t", "queue": "fuzz", "customer_id": "k"},
        {"type": "ticket.replied", "contact_id": "t", "agent_id": "a", "public": False},
        {"type": "ticket.solved", "contact_id": "t"},
        {"type": "ticket.reopened", "contact_id": "t"},
    ],
    "survey": [
        {"type": "survey.csat", "queue": "fuzz", "channel": "voice", "score": 5},
        {"type": "survey.nps", "queue": "fuzz", "score": 0},
        {"type": "survey.ces", "queue": "fuzz", "channel": "chat", "score": 7},
        {"type": "survey.esat", "queue": "fuzz", "agent_id": "a", "score": 9},
    ],
    "agent": [{"type": "agent.state", "agent_id": "a", "queues": ["fuzz", "fuzz-2"], "state": "busy"}],
}
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1e308,
    -1e308,
    "",
    "x" * 300,
    [],
    {},
    [1, "a"],
    {"a": 1},
    "2026-13-45T99:99:99Z",
    "\u0000",
    "\ud7ff",
    1.5,
    "NaN",
    # just past a bound: ids, queue names, dispositions, the queues of an agent
    "x" * 129,
    "q" * 65,
    "d" * 257,
    ["q"] * 201,
    # epoch forms: milliseconds as a number and as a string, the unit threshold, non-finite
    1795341540000,
    "1795341540000",
    1e11,
    99999999999,
    float("inf"),
    float("-inf"),
    float("nan"),
]
#: Longest valid value of each bounded string field (SPEC §3, schemas.events).
STRING_BOUNDS: dict[str, int] = {
    "event_id": 128,
    "contact_id": 128,
    "customer_id": 128,
    "agent_id": 128,
    "queue": 64,
    "disposition": 256,
}


def valid_event(rng: random.Random, source: str, ts: float) -> dict[str, Any]:
    template = rng.choice(VALID[source])
    suffix = f"{rng.randrange(10**9)}"
    event = {**template, "event_id": f"fz-{suffix}", "ts": ts}
    for field in ("contact_id", "customer_id", "agent_id"):
        if field in event:
            event[field] = f"{event[field]}-{suffix}"
    return event


def mutate(rng: random.Random, event: dict[str, Any]) -> bytes:
    """One random change: drop a field, give it an odd value, add junk, name a key twice, or damage the bytes."""
    event = dict(event)
    choice = rng.randrange(6)
    field = rng.choice(sorted(event))
    if choice == 5:
        return with_repeated_key(json.dumps(event).encode(), field, rng.choice([event[field], *ODD_VALUES]))
    if choice == 0:
        del event[field]
    elif choice == 1:
        event[field] = rng.choice(ODD_VALUES)
    elif choice == 2:
        event[rng.choice(["extra", "queue", "score", "type", "ts"])] = rng.choice(ODD_VALUES)
    raw = json.dumps(event).encode()
    if choice == 3 and raw:
        cut = rng.randrange(len(raw))
        raw = raw[:cut] + bytes([rng.randrange(256)]) + raw[cut + 1 :]
    elif choice == 4:
        raw = raw[: rng.randrange(len(raw) + 1)]
    return raw


def with_repeated_key(raw: bytes, key: str, value: Any) -> bytes:
    """``raw`` (a JSON object) with ``key`` named once more, at the end: JSON can say it, dicts cannot."""
    return raw[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(value).encode() + b"}"
