"""Building and producing SPEC §3 events in integration tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(kind: str, contact_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "type": kind, "ts": iso(ts), "contact_id": contact_id, **fields}


def make_agent_state(agent_id: str, ts: float, state: str, *queues: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "agent.state",
        "ts": iso(ts),
        "agent_id": agent_id,
        "queues": list(queues),
        "state": state,
    }


def produce(producer: KafkaProducer, topic: str, message: dict[str, Any], key: bytes | None) -> None:
    producer.send(topic, key=key, value=json.dumps(message).encode())
