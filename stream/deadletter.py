"""What the dead-letter topic keeps of an input message that was not used (SPEC §3): the message
unchanged, where it was read, and why."""

from __future__ import annotations

from base64 import b64decode, b64encode
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class InputMessage:
    """An input message as it was read.

    Ingest judges most messages itself; a late contact or ticket event is judged by the contact
    stage, which alone knows whether its contact is held, so the message travels there whole.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    def headers(self, reason: str, detail: str) -> list[tuple[str, bytes]]:
        return [
            ("source_topic", self.topic.encode()),
            ("source_partition", str(self.partition).encode()),
            ("source_offset", str(self.offset).encode()),
            ("reason", reason.encode()),
            ("detail", detail.encode()),
        ]

    def to_wire(self) -> list[Any]:
        # Keys and values are any bytes; base64 carries them through the JSON of internal topics unchanged.
        key = None if self.key is None else b64encode(self.key).decode()
        return [self.topic, self.partition, self.offset, key, b64encode(self.value).decode()]

    @classmethod
    def from_wire(cls, row: list[Any]) -> InputMessage:
        topic, partition, offset, key, value = row
        return cls(topic, partition, offset, None if key is None else b64decode(key), b64decode(value))
