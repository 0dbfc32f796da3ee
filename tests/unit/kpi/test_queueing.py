"""stream.kpi.queueing: Erlang B, C and A against published values, direct formulas and a simulation."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields

import ciw
import pytest

from stream.kpi.queueing import (
    Performance,
    erlang_a,
    erlang_b,
    erlang_c,
    expected_wait_seconds,
    required_agents,
)

AHT = 180.0
SL_SECONDS = 20.0
PATIENCE = 120.0
#: The widely published Erlang C example: 100 calls in 30 minutes, 180 s handle time, 10 Erlangs.
EXAMPLE_RATE = 100 / 1800
MEASURES = [field.name for field in fields(Performance)]


def factorial_erlang_c(load: float, agents: int, handle_seconds: float, threshold: float) -> tuple[float, float, float]:
    """P(wait), service level and ASA from the textbook formula with factorials: small centres only."""
    queued = load**agents / math.factorial(agents) * agents / (agents - load)
    wait = queued / (sum(load**k / math.factorial(k) for k in range(agents)) + queued)
    drain = (agents - load) / handle_seconds
    return wait, 1 - wait * math.exp(-drain * threshold), wait / drain


def chain_erlang_a(rate: float, handle: float, agents: int, abandon: float, threshold: float) -> Performance:
    """Erlang A by brute force: the truncated birth-death chain, abandons by Little's law, and each
    waiting contact's wait by uniformising its own small chain (places ahead, answered, gone)."""
    mu = 1 / handle
    weights = [1.0]
    while len(weights) < 400:
        n = len(weights)
        weights.append(weights[-1] * rate / (min(n, agents) * mu + max(n - agents, 0) * abandon))
    p = [w / sum(weights) for w in weights]
    waiting = p[agents:]
    abandon_probability = abandon * sum(j * pj for j, pj in enumerate(waiting)) / rate
    within = answered_wait = 0.0
    for ahead, pj in enumerate(waiting):
        if pj < 1e-15:
            continue
        within += pj * uniformised_answered_within(ahead, agents * mu, abandon, threshold)
        answered_wait += pj * first_step_answered_wait(ahead, agents * mu, abandon)
    answered = 1 - abandon_probability
    return Performance(
        sum(waiting),
        1 - sum(waiting) + within,
        answered_wait / answered,
        abandon_probability,
        rate * handle * answered / agents,
    )


def uniformised_answered_within(ahead: int, capacity: float, abandon: float, threshold: float) -> float:
    """P(answered by ``threshold``) for a contact with ``ahead`` before it: states 0..ahead, answered, gone."""
    fastest = capacity + (ahead + 1) * abandon
    answered, gone = ahead + 1, ahead + 2
    state = [0.0] * (ahead + 3)
    state[ahead] = 1.0
    poisson = math.exp(-fastest * threshold)
    total, step = poisson * state[answered], 0
    while step < fastest * threshold + 60:
        moved = [0.0] * (ahead + 3)
        moved[answered], moved[gone] = state[answered], state[gone]
        for i in range(ahead + 1):
            advance, leave = capacity + i * abandon, abandon
            moved[i - 1 if i else answered] += state[i] * advance / fastest
            moved[gone] += state[i] * leave / fastest
            moved[i] += state[i] * (1 - (advance + leave) / fastest)
        state, step = moved, step + 1
        poisson *= fastest * threshold / step
        total += poisson * state[answered]
    return total


def first_step_answered_wait(ahead: int, capacity: float, abandon: float) -> float:
    """E[wait; answered] for a contact with ``ahead`` before it, by first-step analysis."""
    answered, wait = 1.0, 0.0
    for i in range(ahead + 1):
        advance = capacity + i * abandon
        out = advance + abandon
        answered *= advance / out
        wait = answered / out + advance / out * wait
    return wait


@pytest.mark.parametrize(
    ("agents", "load", "expected"),
    [(1, 1.0, 0.5), (2, 1.0, 0.2), (5, 2.0, 0.0367), (10, 10.0, 0.2146), (20, 15.0, 0.0456)],
)
def test_erlang_b_matches_the_table(agents: int, load: float, expected: float) -> None:
    assert erlang_b(agents, load) == pytest.approx(expected, abs=5e-5)
    direct = load**agents / math.factorial(agents) / sum(load**k / math.factorial(k) for k in range(agents + 1))
    assert erlang_b(agents, load) == pytest.approx(direct, rel=1e-12)


def test_erlang_c_matches_the_published_example() -> None:
    performance = erlang_c(EXAMPLE_RATE, AHT, 14, SL_SECONDS)
    assert performance.wait_probability == pytest.approx(0.1741, abs=5e-5)
    assert performance.service_level == pytest.approx(0.8884, abs=5e-5)
    assert performance.average_speed_of_answer == pytest.approx(7.84, abs=5e-3)
    assert performance.occupancy == pytest.approx(10 / 14)
    assert performance.abandon_probability == 0.0
    assert erlang_c(EXAMPLE_RATE, AHT, 13, SL_SECONDS).service_level == pytest.approx(0.7956, abs=5e-5)
    assert required_agents(EXAMPLE_RATE, AHT, SL_SECONDS, 0.8) == 14


@pytest.mark.parametrize(
    ("rate", "agents"),
    [(1 / 60, 4), (1 / 60, 5), (1 / 60, 6), (EXAMPLE_RATE, 11), (EXAMPLE_RATE, 14), (0.1, 19), (0.1, 25)],
)
def test_erlang_c_matches_the_factorial_formula(rate: float, agents: int) -> None:
    performance = erlang_c(rate, AHT, agents, SL_SECONDS)
    wait, service_level, asa = factorial_erlang_c(rate * AHT, agents, AHT, SL_SECONDS)
    assert performance.wait_probability == pytest.approx(wait, rel=1e-10)
    assert performance.service_level == pytest.approx(service_level, rel=1e-10)
    assert performance.average_speed_of_answer == pytest.approx(asa, rel=1e-10)


@pytest.mark.parametrize(("rate", "agents"), [(10 / AHT, 10), (12 / AHT, 10), (24 / AHT, 20), (1 / 60, 0), (0.0, 0)])
def test_erlang_c_without_a_steady_state_gives_its_limits(rate: float, agents: int) -> None:
    assert erlang_c(rate, AHT, agents, SL_SECONDS) == Performance(1.0, 0.0, math.inf, 0.0, 1.0 if agents else 0.0)


@pytest.mark.parametrize(
    ("rate", "agents", "patience", "threshold"),
    [
        (1 / 60, 3, 90.0, 20.0),  # at capacity
        (1 / 60, 4, 120.0, 20.0),
        (1 / 60, 5, 30.0, 60.0),
        (5 / AHT, 3, 120.0, 20.0),  # overloaded
        (8 / AHT, 2, 600.0, 30.0),  # far overloaded, patient
        (2 / AHT, 2, 10.0, 0.0),  # impatient; the threshold 0 counts only contacts answered at once
        (1 / 60, 1, 60.0, 120.0),
    ],
)
def test_erlang_a_matches_the_brute_force_chain(rate: float, agents: int, patience: float, threshold: float) -> None:
    performance = erlang_a(rate, AHT, agents, 1 / patience, threshold)
    oracle = chain_erlang_a(rate, AHT, agents, 1 / patience, threshold)
    for name in MEASURES:
        assert getattr(performance, name) == pytest.approx(getattr(oracle, name), rel=1e-8, abs=1e-12), name
    assert 0 < performance.abandon_probability < 1
    assert 0 < performance.service_level < 1


def test_erlang_a_matches_a_simulation() -> None:
    rate, agents, patience, arrivals, warm_up = 1 / 60, 3, 90.0, 30_000, 200
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate)],
        service_distributions=[ciw.dists.Exponential(1 / AHT)],
        number_of_servers=[agents],
        reneging_time_distributions=[ciw.dists.Exponential(1 / patience)],
    )
    ciw.seed(7)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time((warm_up + arrivals) / rate)
    records = [r for r in simulation.get_all_records() if r.arrival_date >= warm_up / rate]
    answered = [r.waiting_time for r in records if r.record_type == "service"]
    gone = sum(r.record_type == "renege" for r in records)
    contacts = len(answered) + gone
    model = erlang_a(rate, AHT, agents, 1 / patience, SL_SECONDS)
    # Seeds 0-7 of this run spread by about 0.005 in each probability and 0.4 s in the ASA.
    assert sum(wait <= SL_SECONDS for wait in answered) / contacts == pytest.approx(model.service_level, abs=0.02)
    assert gone / contacts == pytest.approx(model.abandon_probability, abs=0.02)
    assert sum(r.waiting_time > 0 for r in records) / contacts == pytest.approx(model.wait_probability, abs=0.02)
    assert sum(answered) / len(answered) == pytest.approx(model.average_speed_of_answer, rel=0.08)


@pytest.mark.parametrize(("rate", "agents"), [(1 / 60, 4), (EXAMPLE_RATE, 14), (0.1, 19), (500 / AHT, 520)])
def test_erlang_a_with_almost_no_abandons_is_erlang_c(rate: float, agents: int) -> None:
    almost = erlang_a(rate, AHT, agents, 1e-9, SL_SECONDS)
    exact = erlang_c(rate, AHT, agents, SL_SECONDS)
    for name in MEASURES:
        assert getattr(almost, name) == pytest.approx(getattr(exact, name), rel=1e-5, abs=1e-6), name
    assert erlang_a(rate, AHT, agents, 0.0, SL_SECONDS) == exact


@pytest.mark.parametrize("patience", [None, PATIENCE])
def test_a_large_centre_is_finite_and_better_with_every_agent(patience: float | None) -> None:
    rate = 500 / AHT
    runs = [
        erlang_c(rate, AHT, agents, SL_SECONDS) if patience is None else erlang_a(rate, AHT, agents, 1 / patience, 20)
        for agents in range(520, 561, 5)
    ]
    for run in runs:
        assert all(math.isfinite(value) and value >= 0 for value in (run.wait_probability, run.service_level))
        assert 0 < run.wait_probability < 1 and 0 < run.service_level < 1 and 0 < run.occupancy < 1
    for fewer, more in zip(runs, runs[1:], strict=False):
        assert more.wait_probability < fewer.wait_probability
        assert more.service_level > fewer.service_level
        assert more.average_speed_of_answer < fewer.average_speed_of_answer
        assert more.abandon_probability <= fewer.abandon_probability


def test_a_thousand_agents_lose_no_precision() -> None:
    performance = erlang_a(500 / AHT, AHT, 1000, 1 / PATIENCE, SL_SECONDS)
    assert performance.wait_probability == pytest.approx(0.0, abs=1e-50)
    assert performance.service_level == 1.0
    assert performance.occupancy == pytest.approx(0.5)
    assert erlang_b(1000, 500.0) > 0


def test_near_full_load_erlang_c_waits_long_and_erlang_a_stays_moderate() -> None:
    rate = 19.99 / AHT
    c, a = erlang_c(rate, AHT, 20, SL_SECONDS), erlang_a(rate, AHT, 20, 1 / PATIENCE, SL_SECONDS)
    assert 0.99 < c.wait_probability < 1 and c.average_speed_of_answer > 3000 and c.service_level < 0.02
    assert 0.4 < a.wait_probability < 0.6 and a.average_speed_of_answer < 30 and a.service_level > 0.6


@pytest.mark.parametrize(("load", "agents"), [(24.0, 20), (40.0, 20), (600.0, 500), (3.0, 0)])
def test_an_overloaded_queue_has_erlang_a_answers(load: float, agents: int) -> None:
    performance = erlang_a(load / AHT, AHT, agents, 1 / PATIENCE, SL_SECONDS)
    assert erlang_c(load / AHT, AHT, agents, SL_SECONDS).average_speed_of_answer == math.inf
    assert 0 < performance.wait_probability <= 1 and 0 < performance.abandon_probability <= 1
    assert 0 <= performance.service_level < 1
    if agents:
        carried = load * (1 - performance.abandon_probability)
        assert carried < agents and math.isfinite(performance.average_speed_of_answer)
    else:
        assert performance.abandon_probability == 1 and performance.average_speed_of_answer == math.inf


@pytest.mark.parametrize(
    ("load", "threshold", "target", "patience"),
    [
        (10.0, 20.0, 0.8, None),
        (10.0, 20.0, 0.8, PATIENCE),
        (3.0, 20.0, 0.9, None),
        (3.0, 20.0, 0.9, 60.0),
        (20.0, 30.0, 0.5, 30.0),
        (500.0, 20.0, 0.8, None),
        (500.0, 20.0, 0.8, PATIENCE),
        (500.0, 15.0, 0.95, 300.0),
        (0.5, 10.0, 0.99, 60.0),
    ],
)
def test_required_agents_is_the_smallest_that_meets_the_target(
    load: float, threshold: float, target: float, patience: float | None
) -> None:
    abandon_rate = 0.0 if patience is None else 1 / patience
    agents = required_agents(load / AHT, AHT, threshold, target, abandon_rate)
    assert erlang_a(load / AHT, AHT, agents, abandon_rate, threshold).service_level >= target
    assert erlang_a(load / AHT, AHT, agents - 1, abandon_rate, threshold).service_level < target


@pytest.mark.parametrize("load", [3.0, 10.0, 50.0, 500.0])
def test_erlang_a_needs_no_more_agents_than_erlang_c(load: float) -> None:
    with_patience = required_agents(load / AHT, AHT, SL_SECONDS, 0.8, abandon_rate=1 / PATIENCE)
    assert with_patience <= required_agents(load / AHT, AHT, SL_SECONDS, 0.8)


def test_required_agents_refuses_what_it_cannot_answer() -> None:
    with pytest.raises(ValueError, match="up to 12"):
        required_agents(EXAMPLE_RATE, AHT, SL_SECONDS, 0.8, max_agents=12)
    with pytest.raises(ValueError, match="between 0 and 1"):
        required_agents(EXAMPLE_RATE, AHT, SL_SECONDS, 1.0)


@pytest.mark.parametrize(
    ("ahead", "staffed", "free", "abandon_rate", "expected"),
    [
        (2, 10, 0, 0.05, 1 / 0.1 + 1 / 0.15 + 1 / 0.2),  # cμ = 10 / 100 s
        (2, 10, 0, 0.0, 30.0),  # (n + 1) x AHT / c
        (3, 10, 1, 0.05, 1 / 0.1 + 1 / 0.15 + 1 / 0.2),  # the free agent takes the first of the 3 ahead
        (0, 10, 0, 0.05, 10.0),  # first in line: the next agent to finish
        (2, 10, 3, 0.05, 0.0),  # more free agents than contacts ahead
        (0, 0, 0, 0.05, math.inf),
    ],
)
def test_expected_wait_of_a_new_contact(
    ahead: int, staffed: int, free: int, abandon_rate: float, expected: float
) -> None:
    assert expected_wait_seconds(ahead, staffed, free, 100.0, abandon_rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_c(-1.0, AHT, 3, SL_SECONDS),
        lambda: erlang_c(0.1, 0.0, 3, SL_SECONDS),
        lambda: erlang_a(0.1, AHT, -1, 0.01, SL_SECONDS),
        lambda: erlang_a(0.1, AHT, 3, -0.01, SL_SECONDS),
        lambda: erlang_a(0.1, AHT, 3, 0.01, math.nan),
        lambda: expected_wait_seconds(1, 2, 3, AHT, 0.01),
    ],
)
def test_impossible_inputs_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()
