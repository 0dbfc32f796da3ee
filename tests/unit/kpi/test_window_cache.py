"""stream.kpi.window_cache: window KPIs reused only while nothing they depend on changed."""

from __future__ import annotations

import random

import pytest

from stream.kpi.aggregators import WaitRules
from stream.kpi.facts import Fact
from stream.kpi.queue_state import QueueState, apply_facts, prune, window_totals
from stream.kpi.window_cache import WindowKpisCache
from tests.unit.kpi.test_report import NOW, WINDOWS

RULES = WaitRules(service_level_seconds=20.0, short_abandon_seconds=5.0)
KINDS = ("offered", "answered", "abandoned", "handled", "csat")


def uncached(state: QueueState, now: float) -> dict[str, dict[str, float | None]]:
    return {w.name: window_totals(state, w, WINDOWS.tz, now).kpis() for w in WINDOWS.windows}


def cached(cache: WindowKpisCache, state: QueueState, now: float) -> dict[str, dict[str, float | None]]:
    return cache.kpis("sales/voice", state, WINDOWS.windows, WINDOWS.tz, now)


def a_fact(n: int, ts: float) -> Fact:
    kind = KINDS[n % len(KINDS)]
    value = 4.0 if kind == "csat" else float(n % 40)
    return Fact(kind, "sales", "voice", f"v-{n}", ts, value)  # type: ignore[arg-type]


def test_unchanged_state_and_buckets_give_the_same_object() -> None:
    cache, state = WindowKpisCache(), QueueState()
    apply_facts(state, [a_fact(1, NOW - 30)], RULES, WINDOWS, NOW)
    first = cached(cache, state, NOW + 10)
    assert cached(cache, state, NOW + 20) is first  # the same buckets are live
    assert first == uncached(state, NOW + 20)


def test_new_facts_are_counted_at_once() -> None:
    cache, state = WindowKpisCache(), QueueState()
    apply_facts(state, [a_fact(0, NOW - 30)], RULES, WINDOWS, NOW)
    before = cached(cache, state, NOW)
    apply_facts(state, [a_fact(5, NOW - 10)], RULES, WINDOWS, NOW)  # offered, as n % 5 == 0
    after = cached(cache, state, NOW)
    assert after is not before
    assert after == uncached(state, NOW)
    assert after["15m"]["contacts_offered"] == 2


def test_a_bucket_dated_ahead_counts_once_now_reaches_it() -> None:
    cache, state = WindowKpisCache(), QueueState()
    apply_facts(state, [a_fact(0, NOW + 90)], RULES, WINDOWS, NOW)  # an offered contact a bucket ahead
    assert cached(cache, state, NOW)["15m"]["contacts_offered"] == 0
    assert cached(cache, state, NOW + 95)["15m"]["contacts_offered"] == 1


def test_a_state_read_again_is_not_taken_for_the_cached_one() -> None:
    cache, state = WindowKpisCache(), QueueState()
    apply_facts(state, [a_fact(0, NOW - 30)], RULES, WINDOWS, NOW)
    cached(cache, state, NOW)
    recovered = QueueState.from_wire(state.to_wire())
    apply_facts(recovered, [a_fact(5, NOW - 20)], RULES, WINDOWS, NOW)
    recovered.revision = state.revision  # the same revision number, a different object
    assert cached(cache, recovered, NOW)["15m"]["contacts_offered"] == 2


def test_forgotten_keys_are_dropped() -> None:
    cache, state = WindowKpisCache(), QueueState()
    first = cached(cache, state, NOW)
    cache.keep_only(set())
    assert cached(cache, state, NOW) is not first


@pytest.mark.parametrize("seed", range(20))
def test_cached_kpis_always_equal_kpis_computed_afresh(seed: int) -> None:
    """Facts (some late, some ahead), time passing by seconds to hours, and expiry, in random order."""
    rng = random.Random(seed)
    cache, state, now = WindowKpisCache(), QueueState(), NOW
    for n in range(300):
        step = rng.random()
        if step < 0.4:
            facts = [a_fact(rng.randrange(10_000), now + rng.uniform(-4000, 300)) for _ in range(rng.randint(1, 3))]
            apply_facts(state, facts, RULES, WINDOWS, now)
        elif step < 0.8:
            now += rng.choice((0.5, 7.0, 61.0, 900.0, 3600.0))
        else:
            prune(state, WINDOWS, now, waiting_ttl=14_400, dedupe=86_400)
        assert cached(cache, state, now) == uncached(state, now), f"step {n}"
