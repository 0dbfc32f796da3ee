"""stream.kpi.windows: window names, bucket arithmetic and local midnight (SPEC §4 'Windows')."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stream.kpi.windows import Window, local_day_start, parse_time_of_day, parse_window, parse_windows

UTC = ZoneInfo("UTC")
WARSAW = ZoneInfo("Europe/Warsaw")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: float = 0) -> float:
    """Epoch seconds of a UTC wall-clock instant (fractional seconds allowed)."""
    whole = int(second)
    return datetime(year, month, day, hour, minute, whole, tzinfo=UTC).timestamp() + (second - whole)


#: 2026-11-22 10:00:00 UTC. 10:00 is a multiple of both 60 s and 240 s since midnight UTC,
#: so it is the start of a 15m bucket and of a 1h bucket.
T0 = utc(2026, 11, 22, 10)


# --------------------------------------------------------------------------- parse_window


@pytest.mark.parametrize(
    ("name", "length", "bucket"),
    [
        # bucket = length // 15 (SPEC: no coarser than 1/15 of the window)
        ("15m", 900, 60),
        ("1h", 3600, 240),
        ("15s", 15, 1),  # the shortest allowed window: 15 buckets of 1 s
        ("30s", 30, 2),
        ("1m", 60, 4),
        ("100s", 100, 6),  # 100 / 15 = 6.67, rounded down so buckets stay finer than 1/15
        ("2h", 7200, 480),
        ("1d", 86400, 5760),
        ("7d", 604800, 40320),
        ("30d", 2592000, 172800),
    ],
)
def test_parse_rolling_window(name: str, length: int, bucket: int) -> None:
    window = parse_window(name)
    assert window == Window(name=name, length=length, bucket=bucket)
    assert window.is_calendar_day is False


def test_parse_window_strips_whitespace() -> None:
    assert parse_window("  15m \t") == Window(name="15m", length=900, bucket=60)


def test_parse_today() -> None:
    window = parse_window("today")
    assert window == Window(name="today", length=None, bucket=0)
    assert window.is_calendar_day is True


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Today",  # names are case-sensitive
        "today2",
        "15",  # no unit
        "m",  # no number
        "0m",  # zero length
        "015m",  # leading zero
        "-1h",
        "1.5h",
        "15M",
        "1w",  # unknown unit
        "15 m",
        "14s",  # shorter than 15 buckets of 1 s
        "1s",
    ],
)
def test_parse_window_rejects(name: str) -> None:
    with pytest.raises(ValueError):
        parse_window(name)


def test_buckets_never_coarser_than_a_fifteenth() -> None:
    """SPEC §4: a window edge may be approximated by buckets no coarser than 1/15 of the window."""
    for name in ["15s", "16s", "29s", "59s", "1m", "7m", "15m", "1h", "13h", "1d", "7d", "30d", "365d"]:
        window = parse_window(name)
        assert window.length is not None
        assert 1 <= window.bucket and window.bucket * 15 <= window.length, name


# --------------------------------------------------------------------------- parse_windows


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("15m,1h,today", ("15m", "1h", "today")),
        ("15m, 1h , today", ("15m", "1h", "today")),
        ("today", ("today",)),
        ("15m,,1h,", ("15m", "1h")),  # empty items are skipped
        ("15m,1h,today,7d,30d", ("15m", "1h", "today", "7d", "30d")),
    ],
)
def test_parse_windows(spec: str, names: tuple[str, ...]) -> None:
    assert tuple(w.name for w in parse_windows(spec)) == names


def test_parse_windows_keeps_lengths() -> None:
    assert parse_windows("15m,1h,today") == (
        Window("15m", 900, 60),
        Window("1h", 3600, 240),
        Window("today", None, 0),
    )


@pytest.mark.parametrize("spec", ["", " ", ",", ",,", "15m,15m", "today,1h,today", "15m,nope", "15m,5s"])
def test_parse_windows_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_windows(spec)


# --------------------------------------------------------------------------- bucket_of


@pytest.mark.parametrize(
    ("name", "ts", "bucket_start"),
    [
        ("15m", T0, T0),
        ("15m", T0 + 0.001, T0),
        ("15m", T0 + 59.999, T0),
        ("15m", T0 + 60, T0 + 60),  # a bucket starts exactly on its own boundary
        ("15m", T0 - 0.001, T0 - 60),
        ("15m", T0 - 60, T0 - 60),
        ("1h", T0, T0),
        ("1h", T0 + 239.999, T0),
        ("1h", T0 + 240, T0 + 240),
        ("1h", T0 - 1, T0 - 240),
        ("15s", T0 + 1.5, T0 + 1),
        # today: the bucket is the local (here UTC) midnight: 2026-11-22 00:00Z
        ("today", T0, utc(2026, 11, 22)),
        ("today", utc(2026, 11, 22, 23, 59, 59.999), utc(2026, 11, 22)),
        ("today", utc(2026, 11, 23), utc(2026, 11, 23)),
    ],
)
def test_bucket_of_utc(name: str, ts: float, bucket_start: float) -> None:
    assert parse_window(name).bucket_of(ts, UTC) == bucket_start


def test_bucket_of_returns_int() -> None:
    assert isinstance(parse_window("15m").bucket_of(T0 + 0.5, UTC), int)
    assert isinstance(parse_window("today").bucket_of(T0 + 0.5, UTC), int)


def test_today_bucket_in_warsaw() -> None:
    """T0 is 11:00 in Warsaw (CET, UTC+1), so the local day began at 2026-11-21 23:00Z."""
    assert parse_window("today").bucket_of(T0, WARSAW) == utc(2026, 11, 21, 23)


def test_rolling_bucket_ignores_time_zone() -> None:
    assert parse_window("15m").bucket_of(T0 + 30, WARSAW) == T0


# --------------------------------------------------------------------------- oldest_live_bucket


@pytest.mark.parametrize(
    ("name", "now", "oldest"),
    [
        # 15m = 900 s in 60 s buckets: the oldest live bucket is now - 900 rounded UP to a bucket start.
        ("15m", T0, T0 - 900),  # exactly on a boundary: the window is exactly 15 minutes
        ("15m", T0 + 0.5, T0 - 840),  # T0-899.5 rounds up to T0-840
        ("15m", T0 + 59, T0 - 840),
        ("15m", T0 + 60, T0 - 840),
        ("15m", T0 + 61, T0 - 780),
        # 1h = 3600 s in 240 s buckets
        ("1h", T0, T0 - 3600),
        ("1h", T0 + 1, T0 - 3360),
        ("1h", T0 + 240, T0 - 3360),
        ("1h", T0 + 241, T0 - 3120),
        # today: local midnight of now
        ("today", T0, utc(2026, 11, 22)),
        ("today", utc(2026, 11, 22), utc(2026, 11, 22)),
        ("today", utc(2026, 11, 21, 23, 59, 59), utc(2026, 11, 21)),
    ],
)
def test_oldest_live_bucket_utc(name: str, now: float, oldest: float) -> None:
    assert parse_window(name).oldest_live_bucket(now, UTC) == oldest


@pytest.mark.parametrize("offset", [0, 0.25, 1, 17, 59.9, 60, 61, 119, 600, 899])
def test_rolling_window_is_never_longer_and_at_most_one_bucket_shorter(offset: float) -> None:
    """The live buckets cover [oldest, now]: at most 900 s and more than 900 - 60 s for 15m."""
    window = parse_window("15m")
    now = T0 + offset
    covered = now - window.oldest_live_bucket(now, UTC)
    assert 840 < covered <= 900


def test_today_oldest_live_bucket_in_warsaw() -> None:
    """At 2026-11-22 23:30Z it is already 00:30 on 23 November in Warsaw."""
    today = parse_window("today")
    assert today.oldest_live_bucket(utc(2026, 11, 22, 23, 30), WARSAW) == utc(2026, 11, 22, 23)
    assert today.oldest_live_bucket(utc(2026, 11, 22, 22, 59, 59), WARSAW) == utc(2026, 11, 21, 23)


# --------------------------------------------------------------------------- local midnight (day start 0)


@pytest.mark.parametrize(
    ("ts", "midnight"),
    [
        (T0, utc(2026, 11, 22)),
        (utc(2026, 11, 22), utc(2026, 11, 22)),
        (utc(2026, 11, 22, 0, 0, 0.001), utc(2026, 11, 22)),
        (utc(2026, 11, 21, 23, 59, 59.999), utc(2026, 11, 21)),
        (utc(2026, 12, 31, 23, 59, 59), utc(2026, 12, 31)),
        (utc(2027, 1, 1), utc(2027, 1, 1)),
        (utc(2028, 2, 29, 12), utc(2028, 2, 29)),  # leap day
    ],
)
def test_local_midnight_utc(ts: float, midnight: float) -> None:
    assert local_day_start(ts, UTC, 0) == midnight


@pytest.mark.parametrize(
    ("ts", "midnight"),
    [
        # Winter, CET = UTC+1: local midnight is 23:00Z the day before.
        (T0, utc(2026, 11, 21, 23)),  # 11:00 local on 22 Nov
        (utc(2026, 11, 22, 22, 59, 59), utc(2026, 11, 21, 23)),  # 23:59:59 local, still 22 Nov
        (utc(2026, 11, 22, 23), utc(2026, 11, 22, 23)),  # 00:00 local on 23 Nov
        (utc(2026, 11, 22, 23, 30), utc(2026, 11, 22, 23)),  # 00:30 local on 23 Nov (UTC date is still 22)
        # Summer, CEST = UTC+2: local midnight is 22:00Z the day before.
        (utc(2026, 7, 1, 21, 59, 59), utc(2026, 6, 30, 22)),
        (utc(2026, 7, 1, 22), utc(2026, 7, 1, 22)),
        # Spring forward on Sun 2026-03-29 (02:00 CET -> 03:00 CEST): the day starts at 00:00 CET
        # = 2026-03-28 23:00Z and lasts 23 h, until 00:00 CEST on 30 March = 2026-03-29 22:00Z.
        (utc(2026, 3, 28, 23), utc(2026, 3, 28, 23)),
        (utc(2026, 3, 29, 0, 59, 59), utc(2026, 3, 28, 23)),  # 01:59:59 CET, just before the jump
        (utc(2026, 3, 29, 1), utc(2026, 3, 28, 23)),  # 03:00 CEST, just after it
        (utc(2026, 3, 29, 21, 59, 59), utc(2026, 3, 28, 23)),  # 23:59:59 CEST
        (utc(2026, 3, 29, 22), utc(2026, 3, 29, 22)),  # 00:00 CEST on 30 March
        (utc(2026, 3, 28, 22, 59, 59), utc(2026, 3, 27, 23)),  # 23:59:59 CET on 28 March
        # Fall back on Sun 2026-10-25 (03:00 CEST -> 02:00 CET): the day starts at 00:00 CEST
        # = 2026-10-24 22:00Z and lasts 25 h, until 00:00 CET on 26 October = 2026-10-25 23:00Z.
        (utc(2026, 10, 24, 22), utc(2026, 10, 24, 22)),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 24, 22)),  # 02:30 CEST (first pass)
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 24, 22)),  # 02:30 CET (second pass)
        (utc(2026, 10, 25, 22, 59, 59), utc(2026, 10, 24, 22)),  # 23:59:59 CET
        (utc(2026, 10, 25, 23), utc(2026, 10, 25, 23)),  # 00:00 CET on 26 October
    ],
)
def test_local_midnight_warsaw(ts: float, midnight: float) -> None:
    assert local_day_start(ts, WARSAW, 0) == midnight


@pytest.mark.parametrize(
    ("day_start", "next_day_start", "hours"),
    [
        (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 23),  # spring-forward day
        (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 25),  # fall-back day
        (utc(2026, 11, 21, 23), utc(2026, 11, 22, 23), 24),  # ordinary day
    ],
)
def test_today_window_spans_the_local_day_on_dst_changes(day_start: float, next_day_start: float, hours: int) -> None:
    """Every instant of the local day maps to its start; the next day's first second does not."""
    assert next_day_start - day_start == hours * 3600
    today = parse_window("today")
    for ts in (day_start, day_start + 1, (day_start + next_day_start) / 2, next_day_start - 0.001):
        assert today.bucket_of(ts, WARSAW) == day_start
        assert today.oldest_live_bucket(ts, WARSAW) == day_start
    assert today.bucket_of(next_day_start, WARSAW) == next_day_start


def test_local_midnight_when_midnight_falls_in_a_dst_gap() -> None:
    """Chile springs forward at local midnight (2026-09-06 00:00 -04 -> 01:00 -03): there is no
    00:00 that day, so the local day starts at 01:00 -03 = 04:00Z, never after the instant itself."""
    santiago = ZoneInfo("America/Santiago")
    assert local_day_start(utc(2026, 9, 6, 13), santiago, 0) == utc(2026, 9, 6, 4)
    assert local_day_start(utc(2026, 9, 6, 4), santiago, 0) == utc(2026, 9, 6, 4)
    # The last second before the jump still belongs to 5 September (which started at 00:00 -04).
    assert local_day_start(utc(2026, 9, 6, 3, 59, 59), santiago, 0) == utc(2026, 9, 5, 4)


def test_local_midnight_returns_int() -> None:
    assert isinstance(local_day_start(T0 + 0.5, WARSAW, 0), int)


# --------------------------------------------------------------------------- business day start


@pytest.mark.parametrize(
    ("ts", "day_start", "expected"),
    [
        # 25 Oct 2026, summer time ends at 03:00 CEST -> 02:00 CET.
        (utc(2026, 10, 25, 5, 30), 6 * 3600, utc(2026, 10, 25, 5, 0)),  # 06:30 CET: day began 06:00 CET
        (utc(2026, 10, 25, 4, 30), 6 * 3600, utc(2026, 10, 24, 4, 0)),  # 05:30 CET: still the day that began 06:00 CEST
        (utc(2026, 10, 25, 22, 59), 0, utc(2026, 10, 24, 22, 0)),  # 23:59 CET: midnight was 00:00 CEST
        (utc(2026, 10, 25, 23, 0), 0, utc(2026, 10, 25, 23, 0)),  # 00:00 CET on the 26th: 25 hours later
        # 29 Mar 2026, 02:00 CET -> 03:00 CEST: a 23-hour day.
        (utc(2026, 3, 29, 21, 59), 0, utc(2026, 3, 28, 23, 0)),
        (utc(2026, 3, 29, 22, 0), 0, utc(2026, 3, 29, 22, 0)),
    ],
)
def test_local_day_start_across_dst(ts: float, day_start: int, expected: float) -> None:
    assert local_day_start(ts, WARSAW, day_start) == expected


def test_a_day_start_inside_the_spring_gap_is_never_after_the_instant() -> None:
    """02:30 does not exist on 29 March 2026 in Warsaw; the day still starts at or before ts."""
    ts = utc(2026, 3, 29, 1, 45)  # 03:45 CEST
    start = local_day_start(ts, WARSAW, 2 * 3600 + 1800)
    assert start <= ts
    assert ts - start < 86400


def test_today_window_uses_the_day_start() -> None:
    [today] = parse_windows("today", day_start=6 * 3600)
    assert today.day_start == 6 * 3600
    assert today.oldest_live_bucket(utc(2026, 10, 25, 5, 30), WARSAW) == utc(2026, 10, 25, 5, 0)


@pytest.mark.parametrize(("text", "seconds"), [("00:00", 0), ("06:30", 23400), ("23:59", 86340)])
def test_parse_time_of_day(text: str, seconds: int) -> None:
    assert parse_time_of_day(text) == seconds


@pytest.mark.parametrize("text", ["24:00", "6:30", "06:60", "noon", ""])
def test_parse_time_of_day_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time_of_day(text)
