"""Window specifications and the bucket arithmetic behind rolling and calendar windows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

#: A rolling window is approximated by this many buckets (SPEC §4: no coarser than 1/15).
BUCKETS_PER_WINDOW = 15

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ROLLING = re.compile(r"^([1-9][0-9]*)([smhd])$")
TODAY = "today"


@dataclass(frozen=True, slots=True)
class Window:
    """A named window: rolling (``length`` seconds ending now) or ``today`` (since local midnight)."""

    name: str
    length: int | None
    bucket: int
    #: Calendar windows only: seconds after local midnight at which the day starts.
    day_start: int = 0

    @property
    def is_calendar_day(self) -> bool:
        return self.length is None

    def bucket_of(self, ts: float, tz: ZoneInfo) -> int:
        """Start (epoch seconds) of the bucket that holds ``ts``."""
        if self.length is None:
            return local_day_start(ts, tz, self.day_start)
        return int(ts // self.bucket) * self.bucket

    def oldest_live_bucket(self, now: float, tz: ZoneInfo) -> int:
        """Buckets starting at or after this instant are inside the window at ``now``."""
        if self.length is None:
            return local_day_start(now, tz, self.day_start)
        # Only buckets wholly inside [now - length, now] count (plus the open one),
        # so the window is never longer than its name and at most one bucket shorter.
        return int(-(-(now - self.length) // self.bucket)) * self.bucket


def local_day_start(ts: float, tz: ZoneInfo, day_start: int) -> int:
    """Epoch seconds of the start (local midnight + ``day_start`` seconds of wall-clock time)
    of the business day holding ``ts``. Days are 23 or 25 hours long across DST changes."""
    local = datetime.fromtimestamp(ts, tz)
    start = _wall_time(local.date(), day_start, tz)
    # A day that starts inside a DST gap has no such wall-clock time; fold=0 resolves it, and
    # the guard keeps the start from landing after ts.
    if start > ts:
        start = _wall_time(local.date() - timedelta(days=1), day_start, tz)
    return int(start)


def _wall_time(day: date, seconds: int, tz: ZoneInfo) -> float:
    hours, rest = divmod(seconds, 3600)
    return datetime(day.year, day.month, day.day, hours, rest // 60, rest % 60, tzinfo=tz).timestamp()


def parse_duration(text: str) -> int:
    """Seconds in ``<n><s|m|h|d>`` (e.g. ``90s``, ``7d``)."""
    match = _ROLLING.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a length like 90s, 15m, 1h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_window(name: str, day_start: int = 0) -> Window:
    """Parse ``today`` (from ``day_start`` seconds after local midnight) or ``<n><s|m|h|d>``
    (e.g. ``15m``, ``7d``)."""
    name = name.strip()
    if name == TODAY:
        return Window(name=TODAY, length=None, bucket=0, day_start=day_start)
    if _ROLLING.match(name) is None:
        raise ValueError(f"window {name!r} is neither 'today' nor a length like 15m, 1h or 7d")
    length = parse_duration(name)
    if length < BUCKETS_PER_WINDOW:
        raise ValueError(f"window {name!r} is shorter than {BUCKETS_PER_WINDOW} seconds")
    return Window(name=name, length=length, bucket=length // BUCKETS_PER_WINDOW)


def parse_windows(spec: str, day_start: int = 0) -> tuple[Window, ...]:
    """Parse a comma-separated list of window names; names must be unique."""
    windows = tuple(parse_window(part, day_start) for part in spec.split(",") if part.strip())
    if not windows:
        raise ValueError("at least one window is required")
    names = [w.name for w in windows]
    if len(set(names)) != len(names):
        raise ValueError(f"window names repeat: {spec!r}")
    return windows


def parse_time_of_day(text: str) -> int:
    """Seconds after midnight of ``HH:MM``."""
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day like 00:00 or 06:30")
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60


@dataclass(frozen=True, slots=True)
class WindowSet:
    """The windows to keep and the time zone their calendar days are in."""

    windows: tuple[Window, ...]
    tz: ZoneInfo

    def kept_from(self, now: float) -> float:
        """The earliest instant some window still covers at ``now``: an event dated before it
        counts in no window (SPEC §3: unless its contact or ticket is held, it is late).

        Every window's oldest live bucket starts on a bucket edge, so an event counts in a window
        exactly when it is dated at or after that window's edge."""
        return min(w.oldest_live_bucket(now, self.tz) for w in self.windows)
