"""stream.kpi.queue_state and stream.kpi.aggregators: bucketed totals per window and the call/chat KPIs (SPEC §4)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stream.kpi.aggregators import Totals, WaitRules
from stream.kpi.contacts import ContactState, Lifecycle, apply_event
from stream.kpi.facts import Fact
from stream.kpi.ids import id_key
from stream.kpi.queue_state import (
    QueueState,
    WaitingNow,
    apply_facts,
    apply_staffing,
    prune,
    split_staffing,
    waiting_now,
    window_totals,
)
from stream.kpi.staffing import Staffing
from stream.kpi.windows import WindowSet, parse_window, parse_windows

UTC = ZoneInfo("UTC")
#: 2026-11-22 10:00:00 UTC: the start of a 60 s and of a 240 s bucket; 10 h after midnight UTC.
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
#: T0 as the int bucket start that the code stores as a dict key.
B0 = int(T0)
MIDNIGHT = datetime(2026, 11, 22, tzinfo=UTC).timestamp()  # T0 - 36000
DEFAULT_RULES = WaitRules(service_level_seconds=20, short_abandon_seconds=5)
WINDOWS = WindowSet(parse_windows("15m,1h,today"), UTC)


def keyed(by_id: dict[str, float]) -> dict[str, float]:
    """A state's collection of ids as it keeps them: by digest."""
    return {id_key(identifier): value for identifier, value in by_id.items()}


def fact(kind: str, seconds: float = 0.0, ts: float = T0, contact_id: str = "v-1") -> Fact:
    return Fact(kind, "sales", "voice", contact_id, ts, seconds)  # type: ignore[arg-type]


def totals_of(*facts: Fact, rules: WaitRules = DEFAULT_RULES) -> Totals:
    totals = Totals()
    for f in facts:
        totals.add(f, rules)
    return totals


EMPTY_KPIS = {
    "contacts_offered": 0,
    "contacts_answered": 0,
    "contacts_answered_within_threshold": 0,
    "contacts_abandoned": 0,
    "contacts_short_abandoned": 0,
    "contacts_completed": 0,
    "average_wait_seconds": None,
    "max_wait_seconds": None,
    "service_level_ratio": None,
    "abandon_ratio": None,
    "average_handle_seconds": None,
    "fcr_ratio": None,
    "repeat_contact_ratio": None,
    "average_first_response_seconds": None,
    "average_resolution_seconds": None,
    "tickets_reopened": 0,
    "csat_score": None,
    "csat_satisfied_ratio": None,
    "nps_score": None,
    "ces_score": None,
    "employee_nps_score": None,
    "csat_responses": 0,
    "nps_responses": 0,
    "ces_responses": 0,
    "esat_responses": 0,
    "patience_seconds": None,
    "contacts_handled": 0,
}


# --------------------------------------------------------------------------- Totals.add


@pytest.mark.parametrize(
    ("threshold", "wait", "within"),
    [
        (20, 0.0, True),
        (20, 19.999, True),
        (20, 20.0, True),  # exactly the threshold counts as within (wait <= service_level_seconds)
        (20, 20.001, False),
        (20, 60.0, False),
        (60, 20.001, True),  # per-queue threshold: 60 s for this queue
        (60, 60.0, True),
        (60, 60.5, False),
        (10, 10.0, True),
        (10, 11.0, False),
    ],
)
def test_service_level_threshold(threshold: float, wait: float, within: bool) -> None:
    totals = totals_of(fact("answered", wait), rules=WaitRules(threshold, 5))
    assert totals["answered"] == 1
    assert totals["answered_in_service_level"] == (1 if within else 0)
    # one answered contact: service level is 1/1 or 0/1
    assert totals.kpis()["service_level_ratio"] == (1.0 if within else 0.0)


@pytest.mark.parametrize(
    ("short_after", "wait", "short"),
    [
        (5, 0.0, True),
        (5, 4.999, True),
        (5, 5.0, False),  # exactly 5 s is NOT short (wait < short_abandon_seconds)
        (5, 5.001, False),
        (5, 300.0, False),
        (10, 9.5, True),
        (10, 10.0, False),
        (0, 0.0, False),  # short_abandon_seconds 0: no abandon is short
    ],
)
def test_short_abandon_threshold(short_after: float, wait: float, short: bool) -> None:
    totals = totals_of(fact("abandoned", wait), rules=WaitRules(20, short_after))
    assert totals["abandoned"] == 1  # short or not, it counts as abandoned
    assert totals["short_abandoned"] == (1 if short else 0)
    kpis = totals.kpis()
    assert kpis["contacts_abandoned"] == 1
    # alone in its window: a short abandon leaves both denominators at 0 -> absent;
    # a counted abandon makes abandon ratio 1/1 and service level 0/1.
    assert kpis["abandon_ratio"] == (None if short else 1.0)
    assert kpis["service_level_ratio"] == (None if short else 0.0)
    assert kpis["max_wait_seconds"] == wait  # max wait includes every abandoned wait, short ones too


def test_add_offered_and_handled() -> None:
    totals = totals_of(fact("offered"), fact("offered"), fact("handled", 100.0), fact("handled", 50.5))
    assert totals == Totals.of(offered=2, handled=2, handle_sum=150.5)


def test_waiting_fact_does_not_count_in_totals() -> None:
    assert totals_of(fact("waiting")) == Totals()


# --------------------------------------------------------------------------- Totals.kpis


def test_empty_totals_give_zero_counts_and_absent_ratios() -> None:
    assert Totals().kpis() == EMPTY_KPIS


def test_kpis_of_a_mixed_window() -> None:
    """8 offered; 6 answered (waits 10, 20, 21, 40, 2, 27 s); 3 abandoned (3 s short, 5 s, 95 s);
    2 handled (100, 200 s).

    - completed = answered + abandoned - short = 6 + 3 - 1 = 8
    - service level: waits <= 20 s are 10, 20, 2 -> 3 / 8 = 0.375
    - abandon ratio: (3 - 1) / 8 = 0.25
    - ASA: (10 + 20 + 21 + 40 + 2 + 27) / 6 = 120 / 6 = 20.0
    - max wait: 95 s, an abandoned wait, longer than any answered one
    - AHT: (100 + 200) / 2 = 150.0
    """
    totals = totals_of(
        *[fact("offered") for _ in range(8)],
        *[fact("answered", w) for w in (10, 20, 21, 40, 2, 27)],
        *[fact("abandoned", w) for w in (3, 5, 95)],
        fact("handled", 100),
        fact("handled", 200),
    )
    assert totals == Totals.of(
        offered=8,
        answered=6,
        abandoned=3,
        short_abandoned=1,
        answered_in_service_level=3,
        answered_wait_sum=120.0,
        wait_max=95.0,
        handled=2,
        handle_sum=300.0,
        completed_wait_sum=223.0,
    )
    # no fcr, repeat, ticket or survey facts: those KPIs stay absent, their counts 0 (as in EMPTY_KPIS)
    assert totals.kpis() == {
        **EMPTY_KPIS,
        "contacts_offered": 8,
        "contacts_answered": 6,
        "contacts_answered_within_threshold": 3,
        "contacts_abandoned": 3,
        "contacts_short_abandoned": 1,
        "contacts_completed": 8,  # 6 + 3 - 1 short
        "average_wait_seconds": 20.0,
        "max_wait_seconds": 95.0,
        "service_level_ratio": 0.375,
        "abandon_ratio": 0.25,
        "average_handle_seconds": 150.0,
        "contacts_handled": 2,
        "patience_seconds": 223.0 / 3,  # every completed wait's time over the abandons
    }


@pytest.mark.parametrize(
    ("answered", "abandoned", "service_level", "abandon_ratio", "average_wait", "max_wait"),
    [
        # answered waits, abandoned waits -> SL, abandon ratio, ASA, max wait (rules: SL 20 s, short < 5 s)
        ([], [], None, None, None, None),
        ([15], [], 1.0, 0.0, 15.0, 15.0),
        ([25], [], 0.0, 0.0, 25.0, 25.0),
        ([], [30], 0.0, 1.0, None, 30.0),  # no answer: ASA absent, but SL and abandon ratio are 0/1 and 1/1
        ([], [1, 2, 4.9], None, None, None, 4.9),  # only short abandons: both ratios have no denominator
        ([10], [1], 1.0, 0.0, 10.0, 10.0),  # the short abandon is in neither denominator: 1/1 and 0/1
        ([10], [5], 0.5, 0.5, 10.0, 10.0),  # 5 s is not short: SL 1/2, abandon 1/2
        ([10, 30, 20], [40], 0.5, 0.25, 20.0, 40.0),  # SL (10, 20) 2/4; abandon 1/4; ASA 60/3
        ([1, 2, 3], [4, 50], 0.75, 0.25, 2.0, 50.0),  # short 4 s left out: SL 3/4; abandon 1/4
        ([20, 20, 20, 21], [], 0.75, 0.0, 20.25, 21.0),  # exactly 20 s is within: 3/4; ASA 81/4
    ],
)
def test_wait_kpis(
    answered: list[float],
    abandoned: list[float],
    service_level: float | None,
    abandon_ratio: float | None,
    average_wait: float | None,
    max_wait: float | None,
) -> None:
    totals = totals_of(*[fact("answered", w) for w in answered], *[fact("abandoned", w) for w in abandoned])
    kpis = totals.kpis()
    assert kpis["contacts_answered"] == len(answered)
    assert kpis["contacts_abandoned"] == len(abandoned)  # short abandons are still counted here
    assert kpis["service_level_ratio"] == service_level
    assert kpis["abandon_ratio"] == abandon_ratio
    assert kpis["average_wait_seconds"] == average_wait
    assert kpis["max_wait_seconds"] == max_wait


def test_service_level_of_two_thirds() -> None:
    """Answered 5 s and 50 s, abandoned 8 s: SL = 1 / 3, abandon ratio = 1 / 3."""
    kpis = totals_of(fact("answered", 5), fact("answered", 50), fact("abandoned", 8)).kpis()
    assert kpis["service_level_ratio"] == pytest.approx(0.3333333333)
    assert kpis["abandon_ratio"] == pytest.approx(0.3333333333)


def test_handle_time_without_wait_data() -> None:
    """A wrap in a window where the wait ended in an earlier window: AHT present, wait KPIs absent."""
    kpis = totals_of(fact("handled", 210)).kpis()
    assert kpis == {**EMPTY_KPIS, "average_handle_seconds": 210.0, "contacts_handled": 1}


def test_zero_waits_are_a_value_not_absence() -> None:
    """A wait of 0 s is a sample: max wait 0.0 and ASA 0.0, not None."""
    kpis = totals_of(fact("answered", 0.0)).kpis()
    assert kpis["max_wait_seconds"] == 0.0
    assert kpis["average_wait_seconds"] == 0.0


# --------------------------------------------------------------------------- Totals.total


def test_total_sums_counts_and_keeps_the_longest_wait() -> None:
    a = Totals.of(
        offered=2,
        answered=1,
        abandoned=1,
        short_abandoned=1,
        answered_in_service_level=1,
        answered_wait_sum=10.0,
        wait_max=10.0,
        handled=1,
        handle_sum=100.0,
    )
    b = Totals.of(
        offered=3,
        answered=2,
        abandoned=1,
        short_abandoned=0,
        answered_in_service_level=0,
        answered_wait_sum=70.0,
        wait_max=45.0,
        handled=2,
        handle_sum=50.0,
    )
    assert Totals.total([a, b]) == Totals.of(
        offered=5,
        answered=3,
        abandoned=2,
        short_abandoned=1,
        answered_in_service_level=1,
        answered_wait_sum=80.0,
        wait_max=45.0,
        handled=3,
        handle_sum=150.0,
    )


def test_total_keeps_own_max_when_larger() -> None:
    a = Totals.of(answered=1, answered_wait_sum=90.0, wait_max=90.0)
    merged = Totals.total([a, Totals.of(abandoned=1, wait_max=30.0)])
    assert merged["wait_max"] == 90.0
    assert (merged["answered"], merged["abandoned"]) == (1, 1)


@pytest.mark.parametrize(
    ("left_max", "right_max", "merged_max"),
    [(None, None, None), (None, 12.0, 12.0), (12.0, None, 12.0), (0.0, None, 0.0), (None, 0.0, 0.0), (3.0, 4.0, 4.0)],
)
def test_total_max_with_absent_values(
    left_max: float | None, right_max: float | None, merged_max: float | None
) -> None:
    left, right = Totals.of(wait_max=left_max), Totals.of(wait_max=right_max)
    assert Totals.total([left, right])["wait_max"] == merged_max


def test_total_equals_adding_everything_to_one_bucket() -> None:
    """Splitting the same facts across buckets and merging gives the totals of a single bucket."""
    facts = [fact("offered"), fact("answered", 12), fact("abandoned", 3), fact("abandoned", 61), fact("handled", 30)]
    merged = Totals.total([totals_of(f) for f in facts])
    assert merged == Totals.of(
        offered=1,
        answered=1,
        abandoned=2,
        short_abandoned=1,
        answered_in_service_level=1,
        answered_wait_sum=12.0,
        wait_max=61.0,
        handled=1,
        handle_sum=30.0,
        completed_wait_sum=76.0,
    )


#: The 21 fields appended after handle_sum, at their defaults: fcr_count, fcr_sum, repeat_count, repeat_sum,
#: first_response_count, first_response_sum, resolution_count, resolution_sum, reopened, csat_count, csat_sum,
#: csat_satisfied, nps_count, nps_promoters, nps_detractors, ces_count, ces_sum, esat_count, esat_promoters,
#: esat_detractors, completed_wait_sum.
APPENDED_ZEROS = [0, 0.0, 0, 0.0, 0, 0.0, 0, 0.0, 0, 0, 0.0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0]


def test_contact_totals_wire_round_trip() -> None:
    totals = Totals.from_wire([8, 6, 3, 1, 3, 120.0, 95.0, 2, 300.0])
    assert totals.to_wire() == [8, 6, 3, 1, 3, 120.0, 95.0, 2, 300.0, *APPENDED_ZEROS]
    assert Totals.from_wire(json.loads(json.dumps(totals.to_wire()))) == totals
    assert Totals().to_wire() == [0, 0, 0, 0, 0, 0.0, None, 0, 0.0, *APPENDED_ZEROS]
    # A row written before the fields were appended still reads, the new fields at their defaults.
    assert Totals.from_wire([8, 6, 3, 1, 3, 120.0, 95.0, 2, 300.0]) == totals


def test_contact_totals_wire_keeps_every_field_in_declaration_order() -> None:
    # Line 1: the call/chat fields as above; line 2: fcr, repeat, first response, resolution (count, sum each)
    # and reopened; line 3: csat (count, sum, satisfied), nps (count, promoters, detractors), ces (count, sum),
    # esat (count, promoters, detractors).
    row = [
        8,
        6,
        3,
        1,
        3,
        120.0,
        95.0,
        2,
        300.0,
        4,
        3.0,
        5,
        2.0,
        6,
        1800.0,
        7,
        86400.0,
        1,
        10,
        42.0,
        8,
        11,
        6,
        2,
        12,
        48.0,
        13,
        5,
        4,
        230.0,
    ]
    totals = Totals.from_wire(row)
    assert (totals["fcr_count"], totals["fcr_sum"], totals["reopened"]) == (4, 3.0, 1)
    assert (totals["csat_count"], totals["csat_sum"], totals["csat_satisfied"]) == (10, 42.0, 8)
    assert (totals["esat_count"], totals["esat_promoters"], totals["esat_detractors"]) == (13, 5, 4)
    assert totals.to_wire() == row
    assert Totals.from_wire(json.loads(json.dumps(row))) == totals


# --------------------------------------------------------------------------- apply_facts: window edges


@pytest.mark.parametrize(
    ("ts", "in_15m", "in_1h", "in_today"),
    [
        (T0, True, True, True),
        (T0 - 59.999, True, True, True),
        # 15m: at now = T0 the oldest live 60 s bucket starts at T0 - 900
        (T0 - 900, True, True, True),  # first second of the oldest live bucket: counts
        (T0 - 900.001, False, True, True),  # in the bucket one older (T0 - 960): does not
        (T0 - 960, False, True, True),
        # 1h: 240 s buckets, the oldest live one starts at T0 - 3600
        (T0 - 3600, False, True, True),
        (T0 - 3600.001, False, False, True),
        (T0 - 3840, False, False, True),
        # today: since 00:00 UTC = T0 - 36000
        (MIDNIGHT, False, False, True),
        (MIDNIGHT - 0.001, False, False, False),
    ],
)
def test_window_edges_at_a_bucket_boundary(ts: float, in_15m: bool, in_1h: bool, in_today: bool) -> None:
    state = QueueState()
    apply_facts(state, [fact("answered", 7.0, ts)], DEFAULT_RULES, WINDOWS, now=T0)
    for name, expected in (("15m", in_15m), ("1h", in_1h), ("today", in_today)):
        totals = window_totals(state, parse_window(name), UTC, T0)
        assert totals["answered"] == (1 if expected else 0), name
        # a fact outside its window is not even stored in that window's buckets
        assert (name in state.buckets) is expected, name


@pytest.mark.parametrize(
    ("ts", "counts"),
    [
        # now = T0 + 30: now - 900 = T0 - 870, rounded up to the bucket start T0 - 840
        (T0 - 840, True),
        (T0 - 840.001, False),  # in bucket T0 - 900, which is no longer live at T0 + 30
        (T0 - 870, False),  # although less than 15 minutes old: the window is at most one bucket short
        (T0 + 29, True),
    ],
)
def test_15m_edge_between_bucket_boundaries(ts: float, counts: bool) -> None:
    now = T0 + 30
    state = QueueState()
    apply_facts(state, [fact("offered", 0.0, ts)], DEFAULT_RULES, WINDOWS, now=now)
    assert window_totals(state, parse_window("15m"), UTC, now)["offered"] == (1 if counts else 0)


@pytest.mark.parametrize(
    ("ts", "counts"),
    [
        # 1h at now = T0 + 100: now - 3600 = T0 - 3500, rounded up to a 240 s bucket start: T0 - 3360
        (T0 - 3360, True),
        (T0 - 3360.5, False),
    ],
)
def test_1h_edge_between_bucket_boundaries(ts: float, counts: bool) -> None:
    now = T0 + 100
    state = QueueState()
    apply_facts(state, [fact("offered", 0.0, ts)], DEFAULT_RULES, WINDOWS, now=now)
    assert window_totals(state, parse_window("1h"), UTC, now)["offered"] == (1 if counts else 0)


def test_facts_land_in_their_buckets() -> None:
    """15m buckets are 60 s, 1h buckets 240 s, today has one bucket at midnight."""
    state = QueueState()
    facts = [fact("offered", 0.0, T0 - 130), fact("answered", 12.0, T0 - 118), fact("handled", 200.0, T0 - 5)]
    apply_facts(state, facts, DEFAULT_RULES, WINDOWS, now=T0)
    assert state.buckets == {
        "15m": {
            T0 - 180: Totals.of(offered=1),  # T0 - 130 is in [T0 - 180, T0 - 120)
            T0 - 120: Totals.of(
                answered=1, answered_in_service_level=1, answered_wait_sum=12.0, wait_max=12.0, completed_wait_sum=12.0
            ),
            T0 - 60: Totals.of(handled=1, handle_sum=200.0),
        },
        "1h": {
            T0 - 240: Totals.of(
                offered=1,
                answered=1,
                answered_in_service_level=1,
                answered_wait_sum=12.0,
                wait_max=12.0,
                completed_wait_sum=12.0,
                handled=1,
                handle_sum=200.0,
            ),
        },
        "today": {
            MIDNIGHT: Totals.of(
                offered=1,
                answered=1,
                answered_in_service_level=1,
                answered_wait_sum=12.0,
                wait_max=12.0,
                completed_wait_sum=12.0,
                handled=1,
                handle_sum=200.0,
            ),
        },
    }
    assert state.waiting == {}


def test_today_window_in_warsaw() -> None:
    """T0 is 11:00 in Warsaw (UTC+1): 'today' started at 2026-11-21 23:00Z = T0 - 39600.
    A fact at 23:30Z on the 21st is today in Warsaw (00:30 local) though yesterday in UTC."""
    warsaw = ZoneInfo("Europe/Warsaw")
    window_set = WindowSet(parse_windows("today"), warsaw)
    state = QueueState()
    apply_facts(
        state, [fact("offered", 0.0, T0 - 37800), fact("offered", 0.0, T0 - 39601)], DEFAULT_RULES, window_set, now=T0
    )
    assert state.buckets == {"today": {T0 - 39600: Totals.of(offered=1)}}


# --------------------------------------------------------------------------- apply_facts: waiting


def test_waiting_set_follows_facts() -> None:
    state = QueueState()
    apply_facts(
        state,
        [
            fact("offered", 0, T0 - 50, "a"),
            fact("waiting", 0, T0 - 50, "a"),
            fact("offered", 0, T0 - 20, "b"),
            fact("waiting", 0, T0 - 20, "b"),
            fact("offered", 0, T0 - 10, "c"),
            fact("waiting", 0, T0 - 10, "c"),
        ],
        DEFAULT_RULES,
        WINDOWS,
        now=T0,
    )
    assert state.waiting == keyed({"a": T0 - 50, "b": T0 - 20, "c": T0 - 10})
    assert waiting_now(state, T0) == WaitingNow(3, 50.0)
    # 'a' is answered and 'c' abandons: only 'b' (queued 20 s before T0) still waits
    apply_facts(
        state, [fact("answered", 49, T0 - 1, "a"), fact("abandoned", 9, T0 - 1, "c")], DEFAULT_RULES, WINDOWS, now=T0
    )
    assert state.waiting == keyed({"b": T0 - 20})
    assert waiting_now(state, T0 + 10) == WaitingNow(1, 30.0)


def test_duplicate_survey_answer_is_counted_once() -> None:
    """csat 5 (s-1), the same answer again, and csat 3 (s-2): one duplicate ignored.
    Counted: 2 answers, sum 8, satisfied (score >= 4) 1 -> CSAT 8/2 = 4.0, satisfied ratio 1/2."""
    state = QueueState()
    facts = [fact("csat", 5.0, T0, "s-1"), fact("csat", 5.0, T0, "s-1"), fact("csat", 3.0, T0, "s-2")]
    assert apply_facts(state, facts, DEFAULT_RULES, WINDOWS, now=T0).duplicates == 1
    assert state.answers == keyed({"s-1": T0, "s-2": T0})
    assert state.buckets["15m"] == {B0: Totals.of(csat_count=2, csat_sum=8.0, csat_satisfied=1)}
    # the same id delivered again later is still recognised
    assert apply_facts(state, [fact("csat", 5.0, T0, "s-1")], DEFAULT_RULES, WINDOWS, now=T0).duplicates == 1
    kpis = window_totals(state, parse_window("15m"), UTC, T0).kpis()
    assert kpis == {**EMPTY_KPIS, "csat_score": 4.0, "csat_satisfied_ratio": 0.5, "csat_responses": 2}


def test_waiting_fact_is_not_bucketed() -> None:
    state = QueueState()
    apply_facts(state, [fact("waiting", 0, T0)], DEFAULT_RULES, WINDOWS, now=T0)
    assert state.buckets == {}


def test_answer_of_an_unknown_waiter_is_harmless() -> None:
    state = QueueState(waiting=keyed({"b": T0 - 20}))
    apply_facts(state, [fact("answered", 3, T0, "zzz")], DEFAULT_RULES, WINDOWS, now=T0)
    assert state.waiting == keyed({"b": T0 - 20})


def test_stale_answer_still_ends_the_wait() -> None:
    """An answer too old for every window still removes the contact from 'waiting now'."""
    state = QueueState(waiting=keyed({"a": MIDNIGHT - 100}))
    apply_facts(state, [fact("answered", 50, MIDNIGHT - 50, "a")], DEFAULT_RULES, WINDOWS, now=T0)
    assert state.waiting == {}
    assert state.buckets == {}


# --------------------------------------------------------------------------- waiting_now


@pytest.mark.parametrize(
    ("waiting", "now", "expected"),
    [
        ({}, T0, WaitingNow(0, 0.0)),  # no one waiting: oldest waiting is 0
        ({"a": T0 - 30}, T0, WaitingNow(1, 30.0)),
        ({"a": T0 - 30, "b": T0 - 90, "c": T0}, T0, WaitingNow(3, 90.0)),
        ({"a": T0 + 5}, T0, WaitingNow(1, 0.0)),  # queued in the future (clock skew): age is 0, not -5
    ],
)
def test_waiting_now(waiting: dict[str, float], now: float, expected: WaitingNow) -> None:
    assert waiting_now(QueueState(waiting=dict(waiting)), now) == expected


# --------------------------------------------------------------------------- window_totals and prune


def bucketed_state() -> QueueState:
    """15m buckets at T0-960 (stale at T0), T0-900 (oldest live), T0-60 and T0; one waiter."""
    return QueueState(
        buckets={
            "15m": {
                B0 - 960: Totals.of(offered=100, answered=1, answered_wait_sum=500.0, wait_max=500.0),
                B0 - 900: Totals.of(
                    offered=1, answered=1, answered_in_service_level=1, answered_wait_sum=4.0, wait_max=4.0
                ),
                B0 - 60: Totals.of(offered=2, abandoned=1, wait_max=30.0),
                B0: Totals.of(handled=1, handle_sum=90.0),
            },
        },
        waiting=keyed({"old": T0 - 14401, "edge": T0 - 14400, "new": T0 - 10}),
    )


def test_window_totals_skips_stale_buckets_even_before_pruning() -> None:
    """Live at T0: T0-900, T0-60 and T0 -> offered 1+2, one answer (4 s), one abandon (30 s), one handle."""
    totals = window_totals(bucketed_state(), parse_window("15m"), UTC, T0)
    assert totals == Totals.of(
        offered=3,
        answered=1,
        abandoned=1,
        answered_in_service_level=1,
        answered_wait_sum=4.0,
        wait_max=30.0,
        handled=1,
        handle_sum=90.0,
    )


def test_window_totals_as_time_passes() -> None:
    """One second later (now = T0 + 1) the oldest live bucket is T0 - 840: only T0-60 and T0 remain."""
    totals = window_totals(bucketed_state(), parse_window("15m"), UTC, T0 + 1)
    assert totals == Totals.of(offered=2, abandoned=1, wait_max=30.0, handled=1, handle_sum=90.0)


def test_window_totals_of_an_unknown_window_is_empty() -> None:
    totals = window_totals(bucketed_state(), parse_window("1h"), UTC, T0)
    assert totals == Totals()
    assert totals.kpis() == EMPTY_KPIS


def test_prune_drops_stale_buckets_lost_waiters_and_old_answer_ids() -> None:
    state = bucketed_state()
    state.answers = keyed({"s-old": T0 - 600.5, "s-edge": T0 - 600, "s-new": T0 - 5})
    assert prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600) is True
    assert sorted(state.buckets["15m"]) == [T0 - 900, T0 - 60, T0]
    # queued 14401 s ago: more than the TTL, dropped; exactly 14400 s: kept
    assert state.waiting == keyed({"edge": T0 - 14400, "new": T0 - 10})
    # answered 600.5 s ago: more than the 600 s answer TTL, dropped; exactly 600 s: kept
    assert state.answers == keyed({"s-edge": T0 - 600, "s-new": T0 - 5})


def test_prune_of_an_old_answer_id_alone_is_a_change() -> None:
    state = QueueState(answers={"s-1": T0 - 601})
    assert prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600) is True
    assert state.answers == {}
    assert state.is_empty


def test_prune_is_idempotent() -> None:
    state = bucketed_state()
    prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600)
    assert prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600) is False


def test_prune_removes_an_emptied_window() -> None:
    state = QueueState(buckets={"15m": {T0 - 960: Totals.of(offered=1)}})
    assert prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600) is True
    assert state.buckets == {}


def test_prune_with_nothing_to_do() -> None:
    assert prune(QueueState(), WINDOWS, T0, waiting_ttl=14400, dedupe=600) is False


def test_prune_drops_windows_no_longer_configured() -> None:
    """Buckets of a window removed from KPI_WINDOWS would otherwise keep the key alive forever."""
    state = QueueState(buckets={"7d": {B0: Totals.of(offered=1)}, "15m": {B0: Totals.of(offered=2)}})
    assert prune(state, WINDOWS, T0, waiting_ttl=14400, dedupe=600) is True
    assert state.buckets == {"15m": {B0: Totals.of(offered=2)}}


# --------------------------------------------------------------------------- QueueState wire


def test_queue_state_wire_round_trip() -> None:
    state = bucketed_state()
    state.alerts = frozenset({"service_level_ratio", "oldest_waiting_seconds"})
    state.answers = keyed({"s-1": T0 - 30})
    state.origins = {"it-contact-events/3": 41}
    state.active_at = T0 - 5
    state.staffing = Staffing(12, 3)
    wire = state.to_wire()
    assert wire == {
        "buckets": {
            "15m": {
                # JSON object keys are strings: '1795340640' is T0 - 960, and so on.
                # every row also carries the 20 appended fields, all zero in these buckets
                "1795340640": [100, 1, 0, 0, 0, 500.0, 500.0, 0, 0.0, *APPENDED_ZEROS],
                "1795340700": [1, 1, 0, 0, 1, 4.0, 4.0, 0, 0.0, *APPENDED_ZEROS],
                "1795341540": [2, 0, 1, 0, 0, 0.0, 30.0, 0, 0.0, *APPENDED_ZEROS],
                "1795341600": [0, 0, 0, 0, 0, 0.0, None, 1, 90.0, *APPENDED_ZEROS],
            }
        },
        "waiting": keyed({"old": T0 - 14401, "edge": T0 - 14400, "new": T0 - 10}),
        "alerts": ["oldest_waiting_seconds", "service_level_ratio"],
        "origins": {"it-contact-events/3": 41},
        "answers": keyed({"s-1": T0 - 30}),
        "active_at": T0 - 5,
        "staffing": [12, 3],
    }
    restored = QueueState.from_wire(json.loads(json.dumps(wire)))
    assert restored == state
    # written with full ids, before they were kept as digests: read into the same keys
    assert QueueState.from_wire({"waiting": {"old": T0}, "answers": {"s-1": T0}}) == QueueState(
        waiting=keyed({"old": T0}), answers=keyed({"s-1": T0})
    )
    assert all(isinstance(start, int) for start in restored.buckets["15m"])
    # written before any agent state of the queue: none known
    assert QueueState.from_wire({"waiting": {}}).staffing is None


def test_staffing_facts_set_the_agents_and_count_nothing() -> None:
    state = QueueState()
    told = [
        Fact("staffed", "sales", "voice", "", T0, 7.0),
        Fact("available", "sales", "voice", "", T0, 2.0),
    ]
    measures, staffing = split_staffing([fact("offered", 0.0, T0 - 10), *told])
    assert [f.kind for f in measures] == ["offered"] and staffing == told
    apply_staffing(state, staffing)
    assert state.staffing == Staffing(7, 2) and state.is_empty
    # a later word replaces it; half of one (a single fact) changes nothing
    apply_staffing(state, [Fact("staffed", "sales", "voice", "", T0 + 1, 9.0)])
    assert state.staffing == Staffing(7, 2)


def test_queue_state_is_empty_only_without_buckets_waits_alerts_and_answers() -> None:
    assert QueueState().is_empty
    assert not QueueState(buckets={"15m": {B0: Totals()}}).is_empty
    assert not QueueState(waiting={"c": T0}).is_empty
    # An active alert keeps the queue, or its recovery could never be published.
    assert not QueueState(alerts=frozenset({"oldest_waiting_seconds"})).is_empty
    # Survey ids seen are kept until pruned, or a late duplicate would count twice.
    assert not QueueState(answers={"s-1": T0}).is_empty


def test_origins_accept_each_offset_once() -> None:
    """Facts from one origin partition arrive in offset order; an offset at or below the highest
    seen is a re-delivery. Origins are independent of each other."""
    state = QueueState()
    assert state.accept_origin("ce/0", 5)
    assert not state.accept_origin("ce/0", 5)
    assert not state.accept_origin("ce/0", 4)
    assert state.accept_origin("ce/1", 2)
    assert state.accept_origin("ce/0", 6)
    assert state.origins == {"ce/0": 6, "ce/1": 2}


def test_queue_state_from_empty_wire() -> None:
    assert QueueState.from_wire({}) == QueueState()
    assert QueueState.from_wire(QueueState().to_wire()) == QueueState()


# --------------------------------------------------------------------------- contacts -> aggregates


def test_end_to_end_from_lifecycle_events() -> None:
    """Five contacts in queue 'sales' (SL 20 s, short abandon < 5 s), all completed in the last 15 minutes:

    - v-1: queued T0-600, answered T0-590 (wait 10), wrapped T0-290 (handle 300)
    - v-2: queued T0-500, answered T0-480 (wait 20, exactly the threshold: within)
    - v-3: queued T0-400, abandoned T0-396 (wait 4: short)
    - v-4: queued T0-300, abandoned T0-240 (wait 60)
    - v-5: queued T0-100, still waiting at T0
    So offered 5, answered 2, abandoned 2; completed = 2 + 2 - 1 = 3; SL = 2/3; abandon ratio = 1/3;
    ASA = (10 + 20) / 2 = 15; max wait 60 (the abandoned v-4); AHT 300; one waiting for 100 s.
    No event has a customer_id, so wrapped v-1 is a first contact and resolved: FCR = 1/1 = 1.0.
    """
    events = [
        Lifecycle("queued", T0 - 600, "v-1", "voice", "sales"),
        Lifecycle("answered", T0 - 590, "v-1", "voice"),
        Lifecycle("wrapped", T0 - 290, "v-1", "voice", resolved=True),
        Lifecycle("answered", T0 - 480, "v-2", "voice"),  # out of order: before its queued
        Lifecycle("queued", T0 - 500, "v-2", "voice", "sales"),
        Lifecycle("queued", T0 - 400, "v-3", "voice", "sales"),
        Lifecycle("abandoned", T0 - 396, "v-3", "voice"),
        Lifecycle("queued", T0 - 300, "v-4", "voice", "sales"),
        Lifecycle("abandoned", T0 - 240, "v-4", "voice"),
        Lifecycle("answered", T0 - 200, "v-4", "voice"),  # conflicting second outcome: ignored
        Lifecycle("queued", T0 - 100, "v-5", "voice", "sales"),
        Lifecycle("queued", T0 - 100, "v-5", "voice", "sales"),  # duplicate
    ]
    contacts: dict[str, ContactState] = {}
    queue = QueueState()
    for event in events:
        result = apply_event(contacts.get(event.contact_id), event, event.ts)
        if result is None:
            continue
        contacts[event.contact_id], facts = result
        # No survey answers: no duplicates.
        assert apply_facts(queue, facts, DEFAULT_RULES, WINDOWS, now=T0).duplicates == 0
    expected = {
        **EMPTY_KPIS,
        "contacts_offered": 5,
        "contacts_answered": 2,
        "contacts_answered_within_threshold": 2,
        "contacts_abandoned": 2,
        "contacts_short_abandoned": 1,
        "contacts_completed": 3,  # 2 + 2 - 1 short
        "average_wait_seconds": 15.0,
        "max_wait_seconds": 60.0,
        "service_level_ratio": pytest.approx(0.6666666667),
        "abandon_ratio": pytest.approx(0.3333333333),
        "average_handle_seconds": 300.0,
        "contacts_handled": 1,
        "fcr_ratio": 1.0,
        "patience_seconds": 47.0,  # (12 + 18 + 4 + 60) / 2 abandons
    }
    for window in WINDOWS.windows:
        assert window_totals(queue, window, UTC, T0).kpis() == expected, window.name
    assert waiting_now(queue, T0) == WaitingNow(1, 100.0)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "-".join("QAEW"[i] for i in o))
def test_arrival_order_does_not_change_the_queue_state(order: tuple[int, ...]) -> None:
    """SPEC §3: out-of-order events give the same result as in order. Whatever the order of
    queued (T0-100), answered (T0-88, wait 12), ended (T0-30) and wrapped (T0-10, handle 78),
    the queue ends with one offer, one answer within 20 s, one handle of 78 s and nobody waiting.
    Without a customer_id the resolved wrap is also one FCR sample of 1 (at wrapped.ts, T0-10)."""
    events = [
        Lifecycle("queued", T0 - 100, "v-1", "voice", "sales"),
        Lifecycle("answered", T0 - 88, "v-1", "voice"),
        Lifecycle("ended", T0 - 30, "v-1", "voice"),
        Lifecycle("wrapped", T0 - 10, "v-1", "voice", resolved=True),
    ]
    contact: ContactState | None = None
    queue = QueueState()
    for i in order:
        result = apply_event(contact, events[i], events[i].ts)
        assert result is not None
        contact, facts = result
        assert apply_facts(queue, facts, DEFAULT_RULES, WINDOWS, now=T0).duplicates == 0
    # 15m buckets: T0-100 and T0-88 are in [T0-120, T0-60); T0-10 is in [T0-60, T0)
    assert queue == QueueState(
        buckets={
            "15m": {
                B0 - 120: Totals.of(
                    offered=1,
                    answered=1,
                    answered_in_service_level=1,
                    answered_wait_sum=12.0,
                    wait_max=12.0,
                    completed_wait_sum=12.0,
                ),
                B0 - 60: Totals.of(handled=1, handle_sum=78.0, fcr_count=1, fcr_sum=1.0),
            },
            "1h": {
                B0 - 240: Totals.of(
                    offered=1,
                    answered=1,
                    answered_in_service_level=1,
                    answered_wait_sum=12.0,
                    wait_max=12.0,
                    completed_wait_sum=12.0,
                    handled=1,
                    handle_sum=78.0,
                    fcr_count=1,
                    fcr_sum=1.0,
                ),
            },
            "today": {
                int(MIDNIGHT): Totals.of(
                    offered=1,
                    answered=1,
                    answered_in_service_level=1,
                    answered_wait_sum=12.0,
                    wait_max=12.0,
                    completed_wait_sum=12.0,
                    handled=1,
                    handle_sum=78.0,
                    fcr_count=1,
                    fcr_sum=1.0,
                ),
            },
        },
        waiting={},
        active_at=T0,
    )


@pytest.mark.parametrize("window", ["15m", "1h", "today"])
def test_future_dated_fact_is_not_in_a_window_ending_now(window: str) -> None:
    """SPEC §4: windows end now, and 'today' runs from local midnight. decode_contact accepts
    events up to a day ahead (producer clock skew), so a fact can be dated after 'now'.

    At 23:50Z on 22 November a contact offered at 00:30Z on 23 November (40 minutes ahead) is in
    none of the windows yet: not in the last 15 minutes, not in the last hour, and not 'today'
    (it belongs to tomorrow's calendar day). Each window's offered count must be 0.
    """
    now = T0 + 13 * 3600 + 50 * 60  # 2026-11-22 23:50:00Z
    state = QueueState()
    apply_facts(state, [fact("offered", 0.0, now + 2400)], DEFAULT_RULES, WINDOWS, now=now)
    assert window_totals(state, parse_window(window), UTC, now)["offered"] == 0
