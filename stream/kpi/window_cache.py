"""Each queue's window KPIs kept between reports, computed again only when they can have changed.

/metrics and /api/kpis report every queue over every window at each request. Summing a window's
buckets and deriving its KPIs for hundreds of queue/channel keys took most of a 100 ms build at
200 queues, although between two scrapes most queues receive no fact and no window gains or loses
a bucket. A window's KPIs depend only on the state's buckets and on which of them are live at
``now``; the state's :attr:`~stream.kpi.queue_state.QueueState.revision` changes with its buckets,
and the live buckets change only when ``now`` enters another bucket or the oldest live one moves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from stream.kpi.queue_state import QueueState, window_totals
from stream.kpi.windows import Window

#: window name -> KPI metric name (without prefix) -> value, ``None`` when absent.
WindowKpis = dict[str, dict[str, float | None]]


@dataclass(slots=True)
class _Entry:
    state: QueueState
    revision: int
    #: Per window: its name, its oldest live bucket and the bucket ``now`` falls in.
    marks: tuple[tuple[str, int, int], ...]
    kpis: WindowKpis


class WindowKpisCache:
    """The window KPIs last computed per queue key, with what they were computed from."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        #: The marks last computed, and for what: the same for every key of a report, and a
        #: calendar day's start costs a time-zone conversion.
        self._marks: tuple[tuple[float, tuple[Window, ...]], tuple[tuple[str, int, int], ...]] | None = None

    def kpis(self, key: str, state: QueueState, windows: Sequence[Window], tz: ZoneInfo, now: float) -> WindowKpis:
        """The KPIs of ``state`` over ``windows`` at ``now``: the same object as last time when
        nothing they depend on changed (so callers may keep what they derived from it)."""
        marks = self._marks_at(now, tuple(windows), tz)
        entry = self._entries.get(key)
        # The same object, not an equal one: a state read again from RocksDB or the changelog is
        # new, and its revision starts again at 0.
        if entry is not None and entry.state is state and entry.revision == state.revision and entry.marks == marks:
            return entry.kpis
        kpis = {w.name: window_totals(state, w, tz, now).kpis() for w in windows}
        self._entries[key] = _Entry(state, state.revision, marks, kpis)
        return kpis

    def _marks_at(self, now: float, windows: tuple[Window, ...], tz: ZoneInfo) -> tuple[tuple[str, int, int], ...]:
        if self._marks is None or self._marks[0] != (now, windows):
            marks = tuple((w.name, w.oldest_live_bucket(now, tz), w.bucket_of(now, tz)) for w in windows)
            self._marks = ((now, windows), marks)
        return self._marks[1]

    def keep_only(self, keys: Collection[str]) -> None:
        """Forget the keys not in ``keys`` (expired queues, queues now owned by another worker)."""
        for key in [key for key in self._entries if key not in keys]:
            del self._entries[key]
