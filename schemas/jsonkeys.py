"""Refusing a JSON object that names a key twice, which pydantic would silently read as the last value.

Two ``type`` keys make an event mean different things to different readers, so such a message is
invalid. A second parse by :mod:`json`, which sees every pair, costs about as much as validating the
message; a look at the bytes of a small message spares most events that parse.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

#: Largest message given the look: its cost grows with the number of strings faster than a parse's.
LOOK_LIMIT = 512


def reject_repeated_keys(raw: bytes) -> None:
    """Raise a ``duplicate_key`` :class:`ValidationError` if an object in ``raw``, at any depth,
    repeats a key. Bytes that are not JSON pass: judging them is the validator's job."""
    if _no_string_repeats(raw):
        return
    try:
        _STRICT_DECODER.decode(raw.decode("utf-8"))
    except _RepeatedKey as repeated:
        context = {"key": repr(repeated.key)}
        error = PydanticCustomError("duplicate_key", "key {key} appears twice in one object", context)
        raise ValidationError.from_exception_data("Event", [InitErrorDetails(type=error, loc=(), input=raw)]) from None
    except (ValueError, RecursionError):
        return


def _no_string_repeats(raw: bytes) -> bool:
    """True if ``raw`` is small, has no escape, and no JSON string in it is written twice; then no key
    repeats. Without an escape every quote delimits a string and each string has one spelling, so
    splitting on quotes lists them all; with one, ``"\\u0074ype"`` could be ``"type"``."""
    if len(raw) > LOOK_LIMIT or b"\\" in raw:
        return False
    strings = raw.split(b'"')[1::2]
    return len(set(strings)) == len(strings)


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return found


# Numbers are kept as text: only keys matter here, and int() refuses numbers of over 4,300 digits.
_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_unique, parse_int=str, parse_float=str)
