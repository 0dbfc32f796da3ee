"""Gauge and histogram families written out in the Prometheus text format directly.

/metrics is built on the event loop at every scrape, and prometheus_client builds each line it
writes from tuples of dicts, its labels sorted and escaped line by line; with thousands of KPI
gauge and histogram lines that held the event loop (docs/decisions/0010-metrics-written-as-text.md).
These families write the same text, byte for byte (labels in name order, Go's float format, the
same escaping), from strings prepared once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.utils import floatToGoString

PREFIX = "contact_centre_"


class GaugeFamily:
    """One gauge family's samples, added for a scrape and written out once."""

    __slots__ = ("name", "help", "header", "_order", "_line", "lines")

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.header = header(name, help_text, "gauge")
        self._order = sorted(range(len(labels)), key=labels.__getitem__)
        pairs = ",".join(f'{labels[i]}="%s"' for i in self._order)
        self._line = f"{self.name}{{{pairs}}} %s\n"
        self.lines: list[str] = []

    def line(self, values: Sequence[str], value: float) -> str:
        """The sample line of ``value`` with label ``values`` (in the order the labels were given)."""
        return self._line % (*(escape_label_value(values[i]) for i in self._order), floatToGoString(value))

    def add(self, values: Sequence[str], value: float) -> None:
        self.lines.append(self.line(values, value))

    def text(self) -> str:
        return self.header + "".join(self.lines)


class HistogramFamily:
    """Histograms with the same bucket edges, one per combination of label values, kept for the
    life of the process and written out at each scrape.

    An observation increments one bucket (found by bisection); the cumulative counts that the
    text format wants are summed when it is written.
    """

    __slots__ = ("name", "help", "_labels", "_edges", "_series")

    def __init__(self, name: str, help_text: str, labels: Sequence[str], buckets: Sequence[float]) -> None:
        if list(buckets) != sorted(buckets):
            raise ValueError(f"buckets of {name} are not in increasing order: {list(buckets)}")
        self.name = name
        self.help = help_text
        self._labels = tuple(labels)
        self._edges = tuple(float(edge) for edge in buckets if edge != float("inf"))
        self._series: dict[tuple[str, ...], _Series] = {}

    def observe(self, values: tuple[str, ...], amount: float) -> None:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = _Series(self.name, self._labels, values, self._edges)
        series.counts[bisect_left(self._edges, amount)] += 1
        series.total += amount
        series.written = None

    def remove(self, values: tuple[str, ...]) -> None:
        self._series.pop(values, None)

    def label_values(self) -> list[tuple[str, ...]]:
        return list(self._series)

    def text(self) -> str:
        return header(self.name, self.help, "histogram") + "".join(series.text() for series in self._series.values())


class _Series:
    """One histogram's counts per bucket (the last one above every edge) and sum, and the start
    of each of its lines."""

    __slots__ = ("counts", "total", "bucket_prefixes", "count_prefix", "sum_prefix", "written")

    def __init__(self, name: str, labels: tuple[str, ...], values: tuple[str, ...], edges: tuple[float, ...]) -> None:
        self.counts = [0] * (len(edges) + 1)
        self.total = 0.0
        #: The lines last written, until the next observation: most series see none between scrapes.
        self.written: str | None = None
        pairs = dict(zip(labels, map(escape_label_value, values), strict=True))
        self.bucket_prefixes = [
            f"{name}_bucket{{{label_text({**pairs, 'le': floatToGoString(edge)})}}} " for edge in (*edges, float("inf"))
        ]
        self.count_prefix = f"{name}_count{{{label_text(pairs)}}} "
        self.sum_prefix = f"{name}_sum{{{label_text(pairs)}}} "

    def text(self) -> str:
        if self.written is None:
            lines = []
            count = 0
            for prefix, in_bucket in zip(self.bucket_prefixes, self.counts, strict=True):
                count += in_bucket
                lines.append(f"{prefix}{floatToGoString(count)}\n")
            lines.append(f"{self.count_prefix}{floatToGoString(count)}\n")
            lines.append(f"{self.sum_prefix}{floatToGoString(self.total)}\n")
            self.written = "".join(lines)
        return self.written


def label_text(pairs: dict[str, str]) -> str:
    return ",".join(f'{name}="{pairs[name]}"' for name in sorted(pairs))


def header(name: str, help_text: str, kind: str) -> str:
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n"


def escape_label_value(value: str) -> str:
    # Queue names cannot need it (SPEC §3: [A-Za-z0-9_.-]); the check is for anything else.
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value
