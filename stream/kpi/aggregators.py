"""Aggregators: one small object per kind of measurement, registered once, in the shape
``initialize / agg / result``.

Each aggregator owns a few columns of a bucket's totals row, counts a fact into them (:meth:`agg`),
and turns them into KPIs with the formulas of :mod:`stream.kpi.formulas` (:meth:`result`). A
row is a flat list of numbers, the registered aggregators' columns in registration order, and is
what a table's changelog carries. A new aggregator is registered last: rows written before it
existed are read with its initial values (:meth:`Totals.from_wire`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stream.kpi import formulas
from stream.kpi.facts import Fact

#: A column's value: a count or sum, or for a maximum ``None`` until something was seen.
Value = Any
Row = list[Value]
Results = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class WaitRules:
    """The per-queue settings that decide how a completed wait is counted."""

    service_level_seconds: float
    short_abandon_seconds: float


class Aggregator:
    """Counts the facts of :attr:`kinds` into :attr:`columns`, at :attr:`at` in a row."""

    kinds: tuple[str, ...]
    columns: tuple[str, ...]
    #: Columns merged across buckets by their maximum, not their sum.
    maxima: tuple[str, ...] = ()
    #: Where the columns start in a row; set when registered.
    at: int = 0

    def initialize(self) -> Row:
        return [None if column in self.maxima else 0 for column in self.columns]

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        raise NotImplementedError

    def result(self, row: Row) -> Results:
        raise NotImplementedError


class Count(Aggregator):
    """How many facts of one kind."""

    def __init__(self, kind: str, kpi: str) -> None:
        self.kinds, self.columns, self.kpi = (kind,), (kind,), kpi

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        row[self.at] += sign

    def result(self, row: Row) -> Results:
        return {self.kpi: row[self.at]}


class Mean(Aggregator):
    """The mean of one kind's values; optionally also how many there were (survey answers)."""

    def __init__(self, kind: str, columns: tuple[str, str], kpi: str, responses: str | None = None) -> None:
        self.kinds, self.columns, self.kpi, self.responses = (kind,), columns, kpi, responses

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        row[self.at] += sign
        row[self.at + 1] += sign * fact.value

    def result(self, row: Row) -> Results:
        count, total = row[self.at : self.at + 2]
        results = {self.kpi: formulas.mean(total, count)}
        if self.responses:
            results[self.responses] = count
        return results


class Satisfaction(Aggregator):
    """CSAT: the mean score, and the share of satisfied answers."""

    kinds = ("csat",)
    columns = ("csat_count", "csat_sum", "csat_satisfied")

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        row[self.at] += sign
        row[self.at + 1] += sign * fact.value
        if fact.value >= formulas.CSAT_SATISFIED_FROM:
            row[self.at + 2] += sign

    def result(self, row: Row) -> Results:
        count, total, satisfied = row[self.at : self.at + 3]
        return {
            "csat_score": formulas.mean(total, count),
            "csat_satisfied_ratio": formulas.ratio(satisfied, count),
            "csat_responses": count,
        }


class NetScore(Aggregator):
    """NPS-style answers (0-10): promoters minus detractors, per hundred answers."""

    def __init__(self, kind: str, kpi: str) -> None:
        self.kinds = (kind,)
        self.columns = (f"{kind}_count", f"{kind}_promoters", f"{kind}_detractors")
        self.kpi, self.responses = kpi, f"{kind}_responses"

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        row[self.at] += sign
        if fact.value >= formulas.PROMOTER_FROM:
            row[self.at + 1] += sign
        elif fact.value <= formulas.DETRACTOR_UP_TO:
            row[self.at + 2] += sign

    def result(self, row: Row) -> Results:
        count, promoters, detractors = row[self.at : self.at + 3]
        return {self.kpi: formulas.net_score(promoters, detractors, count), self.responses: count}


class Waits(Aggregator):
    """Completed waits: answered or abandoned, within the service level or a short abandon."""

    kinds = ("answered", "abandoned")
    columns = ("answered", "abandoned", "short_abandoned", "answered_in_service_level", "answered_wait_sum", "wait_max")
    maxima = ("wait_max",)

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        at, wait = self.at, fact.value
        if fact.kind == "answered":
            row[at] += sign
            row[at + 4] += sign * wait
            if formulas.within(wait, rules.service_level_seconds):
                row[at + 3] += sign
        else:
            row[at + 1] += sign
            if formulas.is_short_abandon(wait, rules.short_abandon_seconds):
                row[at + 2] += sign
        # Waits are never retracted, so the longest only grows.
        if row[at + 5] is None or wait > row[at + 5]:
            row[at + 5] = wait

    def result(self, row: Row) -> Results:
        answered, abandoned, short, within, wait_sum, wait_max = row[self.at : self.at + 6]
        completed = formulas.completed(answered, abandoned, short)
        return {
            "contacts_answered": answered,
            "contacts_answered_within_threshold": within,
            "contacts_abandoned": abandoned,
            "contacts_short_abandoned": short,
            "contacts_completed": completed,
            "average_wait_seconds": formulas.mean(wait_sum, answered),
            "max_wait_seconds": wait_max,
            "service_level_ratio": formulas.service_level(within, completed),
            "abandon_ratio": formulas.abandon_rate(abandoned, short, completed),
        }


class Patience(Aggregator):
    """How long callers are willing to wait: the total time of every completed wait, which over the
    abandons (counted by :class:`Waits`) is the maximum-likelihood mean of an exponential patience
    (answered waits are patience not yet used up, so their time counts too)."""

    kinds = ("answered", "abandoned")
    columns = ("completed_wait_sum",)

    def __init__(self, waits: Waits) -> None:
        self._waits = waits

    def agg(self, row: Row, fact: Fact, sign: int, rules: WaitRules) -> None:
        row[self.at] += sign * fact.value

    def result(self, row: Row) -> Results:
        abandoned = row[self._waits.at + 1]
        return {"patience_seconds": formulas.mean(row[self.at], abandoned)}


def register(*aggregators: Aggregator) -> tuple[Aggregator, ...]:
    """Place each aggregator's columns after the previous one's."""
    at = 0
    for aggregator in aggregators:
        aggregator.at = at
        at += len(aggregator.columns)
    return aggregators


_WAITS = Waits()
#: Every aggregator, in row order. Append only: the order is the changelog's row layout.
AGGREGATORS = register(
    Count("offered", "contacts_offered"),
    _WAITS,
    Mean("handled", ("handled", "handle_sum"), "average_handle_seconds", responses="contacts_handled"),
    Mean("fcr", ("fcr_count", "fcr_sum"), "fcr_ratio"),
    Mean("repeat", ("repeat_count", "repeat_sum"), "repeat_contact_ratio"),
    Mean("first_response", ("first_response_count", "first_response_sum"), "average_first_response_seconds"),
    Mean("resolution", ("resolution_count", "resolution_sum"), "average_resolution_seconds"),
    Count("reopened", "tickets_reopened"),
    Satisfaction(),
    NetScore("nps", "nps_score"),
    Mean("ces", ("ces_count", "ces_sum"), "ces_score", responses="ces_responses"),
    NetScore("esat", "employee_nps_score"),
    Patience(_WAITS),
)
#: Kind of fact -> the aggregators that count it.
_OF_KIND: dict[str, list[Aggregator]] = {}
for _aggregator in AGGREGATORS:
    for _kind in _aggregator.kinds:
        _OF_KIND.setdefault(_kind, []).append(_aggregator)
_INITIAL: Row = [value for aggregator in AGGREGATORS for value in aggregator.initialize()]
#: Column name -> its place in a row.
COLUMNS = {column: aggregator.at + i for aggregator in AGGREGATORS for i, column in enumerate(aggregator.columns)}
_MAXIMA = frozenset(COLUMNS[column] for aggregator in AGGREGATORS for column in aggregator.maxima)


class Totals:
    """Sums over one bucket (or, merged, over a window): a row of every aggregator's columns."""

    __slots__ = ("row",)

    def __init__(self, row: Row | None = None) -> None:
        self.row = list(_INITIAL) if row is None else row

    @classmethod
    def of(cls, **columns: Value) -> Totals:
        """Totals with the named columns set, the others initial."""
        totals = cls()
        for column, value in columns.items():
            totals.row[COLUMNS[column]] = value
        return totals

    def add(self, fact: Fact, rules: WaitRules) -> None:
        """Count ``fact`` in, or out again if it is a retraction; a kind no aggregator counts is ignored."""
        sign = -1 if fact.retraction else 1
        for aggregator in _OF_KIND.get(fact.kind, ()):
            aggregator.agg(self.row, fact, sign, rules)

    def __getitem__(self, column: str) -> Value:
        return self.row[COLUMNS[column]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Totals) and self.row == other.row

    def __repr__(self) -> str:
        return f"Totals.of({', '.join(f'{c}={self.row[i]!r}' for c, i in COLUMNS.items() if self.row[i])})"

    @classmethod
    def total(cls, parts: Sequence[Totals]) -> Totals:
        """The sums of ``parts``, and their maxima (reports merge many buckets: column-wise, in C)."""
        if not parts:
            return cls()
        columns = zip(*(part.row for part in parts), strict=True)
        return cls(
            [
                max((value for value in column if value is not None), default=None) if i in _MAXIMA else sum(column)
                for i, column in enumerate(columns)
            ]
        )

    def kpis(self) -> Results:
        """The windowed KPIs of SPEC §4 over these totals."""
        results: Results = {}
        for aggregator in AGGREGATORS:
            results.update(aggregator.result(self.row))
        return results

    def to_wire(self) -> Row:
        return self.row

    @classmethod
    def from_wire(cls, row: Row) -> Totals:
        return cls(row + _INITIAL[len(row) :])


#: Every windowed KPI, in the order reports give them.
KPI_NAMES = tuple(Totals().kpis())
