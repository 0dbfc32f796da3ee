"""stream.ingest.deadletter and stream.pipeline.ratelimit: any input message can be dead-lettered, and
logged, safely."""

from __future__ import annotations

import logging

import pytest

from stream.ingest.deadletter import DETAIL_CHARS, InputMessage, capped
from stream.pipeline.ratelimit import RateLimitedLog

LIMIT = 1_000_000  # the producer's request size limit


def message(key: bytes | None, value: bytes) -> InputMessage:
    return InputMessage("contact-centre.calls", 3, 42, key, value)


@pytest.mark.parametrize(
    ("key_bytes", "value_bytes", "truncated"),
    [
        (10, 900_000, False),  # fits with its headers
        (10, 983_600, False),
        (10, 983_700, True),  # would not fit with the framing
        (10, 1_040_000, True),  # over the limit, under the broker's
        (600_000, 600_000, True),  # a huge key is cut too
        (None, 2_000_000, True),
    ],
)
def test_a_message_too_large_to_go_whole_is_cut_to_fit_and_says_so(
    key_bytes: int | None, value_bytes: int, truncated: bool
) -> None:
    original = message(None if key_bytes is None else b"k" * key_bytes, b"v" * value_bytes)
    fitted = original.fitted(LIMIT)
    headers = fitted.headers("not_json", "x")
    record = len(fitted.key or b"") + len(fitted.value) + sum(len(k) + len(v) for k, v in headers)
    assert record < LIMIT - 8 * 1024  # room left for the record batch's own framing
    if truncated:
        assert dict(headers)["truncated"] == b"true"
        assert dict(headers)["original_size"] == f"key {key_bytes or 0} bytes, value {value_bytes} bytes".encode()
        # cut again (to be dead-lettered after being carried cut) it keeps the original's sizes
        assert fitted.fitted(LIMIT // 2).original_size == fitted.original_size
        assert original.value.startswith(fitted.value) and len(fitted.value) > 0
        assert original.key is None or original.key.startswith(fitted.key or b"")
    else:
        assert fitted == original and "truncated" not in dict(headers)


def test_detail_is_capped() -> None:
    assert capped("short") == "short"
    long = capped("x" * 500_000)
    assert len(long) == DETAIL_CHARS and long.endswith("…")
    headers = dict(message(None, b"").headers("unknown_type", "t" * 600_000))
    assert len(headers["detail"].decode()) == DETAIL_CHARS


def test_the_wire_form_carries_any_bytes_and_a_cut() -> None:
    original = message(b"\xff\x00key", b"\x80not utf-8")
    assert InputMessage.from_wire(original.to_wire()) == original
    cut = message(b"k", b"v" * 100_000).fitted(20_000)
    assert InputMessage.from_wire(cut.to_wire()) == cut and cut.original_size is not None


def test_a_flood_is_logged_once_a_minute_per_kind_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    log = RateLimitedLog(logging.getLogger("test.ratelimit"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.ratelimit"):
        for _ in range(500):
            log.warning("not_json", "dead-letter %s", "calls")
        log.warning("no_timezone", "dead-letter %s", "chats")
        now[0] += 59.9
        log.warning("not_json", "dead-letter %s", "calls")
        now[0] += 0.2
        log.warning("not_json", "dead-letter %s", "calls")
    assert [r.getMessage() for r in caplog.records] == [
        "dead-letter calls",
        "dead-letter chats",
        "dead-letter calls (500 more like it in the last 60 s not logged)",
    ]
