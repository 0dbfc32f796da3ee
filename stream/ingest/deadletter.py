"""What the dead-letter topic keeps of an input message that was not used (SPEC §3): the message
unchanged, where it was read, and why."""

from __future__ import annotations

from base64 import b64decode, b64encode
from dataclasses import dataclass, replace
from typing import Any

from stream.kpi.wire import Row

#: Longest ``detail`` header and log line detail: a reason may quote the input, which may be huge.
DETAIL_CHARS = 300
#: Room kept for the record's headers and framing under the producer's request size limit.
FRAMING_BYTES = 16 * 1024


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
    #: Set once the message was cut to fit (:meth:`fitted`): the sizes of the original.
    original_size: str | None = None

    def headers(self, reason: str, detail: str) -> list[tuple[str, bytes]]:
        headers = [
            ("source_topic", self.topic.encode()),
            ("source_partition", str(self.partition).encode()),
            ("source_offset", str(self.offset).encode()),
            ("reason", reason.encode()),
            ("detail", capped(detail).encode()),
        ]
        if self.original_size is not None:
            headers += [("truncated", b"true"), ("original_size", self.original_size.encode())]
        return headers

    def fitted(self, limit: int) -> InputMessage:
        """This message, cut to fit a record of at most ``limit`` bytes (and saying so in its
        headers): a message too large to be dead-lettered, or carried to a later stage, whole must
        still not stop a stage."""
        room = limit - FRAMING_BYTES
        key = self.key if self.key is None or len(self.key) <= room // 2 else self.key[: room // 2]
        value = self.value[: room - len(key or b"")]
        if key == self.key and value == self.value:
            return self
        original = self.original_size or f"key {len(self.key or b'')} bytes, value {len(self.value)} bytes"
        return replace(self, key=key, value=value, original_size=original)

    def to_wire(self) -> list[Any]:
        return _INPUT_MESSAGE_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> InputMessage:
        return _INPUT_MESSAGE_WIRE.from_wire(row)


def _to_base64(data: bytes | None) -> str | None:
    return None if data is None else b64encode(data).decode()


def _from_base64(text: str | None) -> bytes | None:
    return None if text is None else b64decode(text)


#: Keys and values are any bytes; base64 carries them through the JSON of internal topics unchanged.
_INPUT_MESSAGE_WIRE = Row(
    InputMessage,
    encode=dict.fromkeys(("key", "value"), _to_base64),
    decode=dict.fromkeys(("key", "value"), _from_base64),
)


def capped(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
