"""schemas.jsonkeys: the cheap look at the bytes never clears a document that repeats a key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.jsonkeys import reject_repeated_keys

#: Few key names, so that repeats are common; some are also used as string values.
NAMES = ["a", "b", "type", 'q"', "\\", "é", ""]


@st.composite
def json_strings(draw: st.DrawFn) -> bytes:
    """A name as a JSON string: plain, or with some characters written as \\u escapes."""
    name = draw(st.sampled_from(NAMES))
    escape = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    plain = [json.dumps(c, ensure_ascii=False)[1:-1] for c in name]
    characters = (f"\\u{ord(c):04x}" if e else p for c, p, e in zip(name, plain, escape, strict=True))
    return f'"{"".join(characters)}"'.encode()


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> bytes:
    """JSON text with objects written pair by pair, so that a key may repeat, with JSON's whitespace."""
    space = draw(st.sampled_from([b"", b" ", b"\n\t"]))
    kind = draw(st.sampled_from(["object", "array", "string", "scalar"] if depth < 3 else ["string", "scalar"]))
    if kind == "object":
        pairs = draw(st.lists(st.tuples(json_strings(), documents(depth + 1)), max_size=5))
        return b"{" + (b"," + space).join(key + space + b":" + space + value for key, value in pairs) + b"}"
    if kind == "array":
        return b"[" + (b"," + space).join(draw(st.lists(documents(depth + 1), max_size=4))) + b"]"
    if kind == "string":
        return draw(json_strings())
    return draw(st.sampled_from([b"1", b"-2.5e3", b"true", b"null", b"NaN"]))


def repeats_a_key(raw: bytes) -> bool:
    """The oracle: a full parse that sees every pair of every object."""
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({key for key, _ in items}) < len(items)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return found


@settings(max_examples=1000, deadline=None)
@given(documents())
def test_agrees_with_a_full_parse(raw: bytes) -> None:
    if repeats_a_key(raw):
        with pytest.raises(ValidationError) as caught:
            reject_repeated_keys(raw)
        assert caught.value.errors()[0]["type"] == "duplicate_key"
    else:
        reject_repeated_keys(raw)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"a":1,"a"', b'{"a":1,"a":2', b'{"a":1,\xff"a":2}', b"[" * 5000 + b'{"a":1,"a":2}', b'"\\"'],
)
def test_what_is_not_json_passes_to_the_validator(raw: bytes) -> None:
    reject_repeated_keys(raw)


def test_a_number_of_any_length_does_not_hide_a_repeat() -> None:
    with pytest.raises(ValidationError):
        reject_repeated_keys(b'{"a": 1' + b"0" * 5000 + b', "a": 2}')


def test_large_message_is_parsed_outright() -> None:
    with pytest.raises(ValidationError):
        reject_repeated_keys(json.dumps({f"k{n}": n for n in range(100)}).encode()[:-1] + b', "k7": 0}')
    reject_repeated_keys(json.dumps({"extra": ["same"] * 1000}).encode())


def test_detail_names_the_key_as_decoded() -> None:
    with pytest.raises(ValidationError) as caught:
        reject_repeated_keys(b'{"type": 1, "\\u0074ype": 2}')
    assert caught.value.errors()[0]["msg"] == "key 'type' appears twice in one object"
