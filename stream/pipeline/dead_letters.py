"""The dead-letter topic (SPEC §3): every input message not used, unchanged, with where it was read
and why it was not used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import faust
from prometheus_client import Counter

from stream.ingest.deadletter import InputMessage
from stream.pipeline.ratelimit import RateLimitedLog


@dataclass
class DeadLetters:
    topic: faust.TopicT
    late_counter: Counter
    log: RateLimitedLog
    max_bytes: int

    async def send(self, message: InputMessage, reason: str, detail: str) -> None:
        """Send ``message`` with its reason; cut to fit, and saying so, if it is too large to go whole."""
        fitted = message.fitted(self.max_bytes)
        await self.topic.send(key=fitted.key, value=fitted.value, headers=fitted.headers(reason, detail))

    async def send_late(self, messages: Sequence[InputMessage], kept_from: float, unheld: str) -> None:
        """Count and dead-letter events that can change nothing any more (SPEC §3), with one log line
        per batch at most once a minute: a backlog after a long outage may hold many."""
        if not messages:
            return
        kept = datetime.fromtimestamp(kept_from, UTC).isoformat()
        detail = f"dated before every kept window (the earliest starts at {kept}){unheld}"
        for message in messages:
            self.late_counter.labels(message.topic).inc()
            await self.send(message, "late", detail)
        self.log.warning(
            "late",
            "dead-letter: %d late events (%s), e.g. %s[%d]@%d",
            len(messages),
            detail,
            messages[0].topic,
            messages[0].partition,
            messages[0].offset,
        )
