"""Event time: ISO-8601 with an offset, or an epoch number, read by one rule.

An epoch may be a JSON number or a string holding one (``1795341540``, ``"1795341540.12"``,
``"1.79534154e9"``); both read the same way. Its unit follows from its size: a magnitude below
``EPOCH_MS_FROM`` (1e11) is seconds, from 1e11 up it is milliseconds. 1e11 seconds is the year 5138,
which no event can carry, while a millisecond epoch is 1e11 or more for every date from 1973-03-03 on;
so no plausible instant is ambiguous. Non-finite numbers and instants outside years 1-9999 are
invalid. Any other string must be ISO-8601 with a UTC offset.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

#: Epoch values at or above this magnitude are milliseconds, below it seconds.
EPOCH_MS_FROM = 1e11
#: Longest ``ts`` string; real ones are at most 35 characters (nanoseconds and an offset).
MAX_TS_CHARS = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A number in a string, in JSON's syntax widened to what pydantic's own parser would take as a number
# ("+5", "5.", ".5"), so that no numeric string escapes this rule into pydantic's different one.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DECIMAL_MARKS = frozenset(".eE")


def _epoch_to_datetime(value: object) -> object:
    if isinstance(value, str):
        if len(value) > MAX_TS_CHARS:
            raise ValueError(f"a timestamp string is at most {MAX_TS_CHARS} characters")
        # A colon marks a time of day, never a number: the usual ISO string skips the pattern.
        if ":" in value or not _NUMBER.fullmatch(value):
            return value  # ISO-8601, judged by AwareDatetime
        # Read as the JSON number it spells, so a string and a number give the same instant.
        value = float(value) if _DECIMAL_MARKS.intersection(value) else int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("an epoch timestamp must be a finite number")
    try:
        if abs(value) >= EPOCH_MS_FROM:
            return _EPOCH + timedelta(milliseconds=value)  # exact for whole milliseconds, unlike value / 1000
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("an epoch timestamp must lie in years 1-9999") from None


Timestamp = Annotated[AwareDatetime, BeforeValidator(_epoch_to_datetime)]
