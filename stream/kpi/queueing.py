"""Queueing models for staffing: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M, contacts that give up).

Rates are per second, times in seconds; the offered load in Erlangs is arrival rate x mean handle time.
Erlang C lets nobody abandon, so a queue offered at least as much work as its agents can do has no
steady state. Erlang A gives each waiting contact an exponential patience of mean 1 / ``abandon_rate``
and has a steady state at any load. Everything is built from the Erlang B recursion and ratios of the
birth-death chain's state probabilities, in log space where they could overflow, never from
factorials, so 1,000 agents are as exact as 5.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

#: Terms of the queue-length series below this fraction of the largest cannot move a probability.
_NEGLIGIBLE_LOG = math.log(1e-17)
#: Where the queue-length series is cut: only a patience far longer than an overload can drain
#: reaches it, and then Erlang C (abandon_rate = 0) is the model.
_MAX_WAITING = 1_000_000


@dataclass(frozen=True, slots=True)
class Performance:
    """A queue's long-run performance, as the contact-centre KPIs measure it.

    ``service_level`` is P(answered with a wait <= service_level_seconds) over all arrivals. Every
    contact of the model is either answered or abandons, so this is the SPEC's answered within the
    threshold / (answered + abandoned - short abandons) with no short abandons (the model has no such
    threshold: leaving them out of the denominator makes a measured service level slightly higher).
    ``average_speed_of_answer`` is the mean wait of the answered contacts, those answered at once included.
    """

    wait_probability: float  # P(wait > 0): an arrival finds every agent busy
    service_level: float
    average_speed_of_answer: float  # seconds
    abandon_probability: float
    occupancy: float  # carried load / agents: the share of staffed time spent handling


def erlang_b(agents: int, load: float) -> float:
    """The chance that ``agents`` servers offered ``load`` Erlangs are all busy with no queue (M/M/c/c)."""
    _check(agents=agents, load=load)
    blockings = _erlang_b_sequence(load)
    for _ in range(agents):
        next(blockings)
    return next(blockings)


def erlang_c(arrival_rate: float, handle_seconds: float, agents: int, service_level_seconds: float) -> Performance:
    """M/M/c: Poisson arrivals, exponential handle times, nobody abandons.

    With load >= agents the queue grows without bound and there is no steady state; the values are
    the limits it tends to: every arrival waits (wait_probability 1), ever longer (service_level 0,
    average_speed_of_answer inf), agents are never idle (occupancy 1; 0 with no agents).
    """
    _check(arrival_rate=arrival_rate, handle_seconds=handle_seconds, agents=agents, threshold=service_level_seconds)
    blocking = erlang_b(agents, arrival_rate * handle_seconds)
    return _erlang_c(arrival_rate, handle_seconds, agents, service_level_seconds, blocking)


def erlang_a(
    arrival_rate: float, handle_seconds: float, agents: int, abandon_rate: float, service_level_seconds: float
) -> Performance:
    """M/M/c+M: Erlang C plus an exponential patience (rate ``abandon_rate``) for every waiting contact.

    Exact at any load, overloaded queues included; abandon_rate = 0 is Erlang C. A contact that finds
    every agent busy and j contacts waiting moves up one place at rate cμ + iθ while i are ahead of it
    (an answer, or one of them giving up) and is answered on the move from i = 0; it gives up at rate θ.
    Its chance of being answered telescopes to b / (b + j + 1) with b = cμ/θ, and it is answered within
    T when it is answered and its wait V <= T: E[e^{-θV}; V <= T] = b / (b + j + 1) x P(V' <= T), where V'
    sums exponentials of rates θ(b + 1 + i), i = 0..j. That sum is the time a linear pure-birth process
    takes to its (j + 1)-th birth, and its births by T are negative binomial (shape b + 1, success
    e^{-θT}), so the service level is a sum of closed-form terms, with no incomplete gamma function.
    With no agents nobody is answered: average_speed_of_answer is inf and occupancy 0.
    The work grows with the queue an overload builds up, about (λ - cμ) / θ contacts; past a million
    of them (a patience far too long for the overload) it raises ValueError.
    """
    _check(
        arrival_rate=arrival_rate,
        handle_seconds=handle_seconds,
        agents=agents,
        abandon_rate=abandon_rate,
        threshold=service_level_seconds,
    )
    blocking = erlang_b(agents, arrival_rate * handle_seconds)
    return _erlang_a(arrival_rate, handle_seconds, agents, abandon_rate, service_level_seconds, blocking)


def required_agents(
    arrival_rate: float,
    handle_seconds: float,
    service_level_seconds: float,
    target: float,
    abandon_rate: float = 0.0,
    max_agents: int | None = None,
) -> int:
    """The fewest agents whose ``service_level`` reaches ``target`` (0-1): Erlang A, Erlang C when abandon_rate = 0.

    It tries every count upwards from one below which the target is out of reach, so the answer is the
    smallest without relying on the service level growing with the agents: Erlang C needs more agents
    than Erlangs (else service level 0), and Erlang A's agents carry at most their number of Erlangs,
    so its service level is below agents / load. Raises ValueError when ``max_agents`` (default
    3 x load + 50) do not reach the target.
    """
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1, not {target}")
    _check(arrival_rate=arrival_rate, handle_seconds=handle_seconds, abandon_rate=abandon_rate)
    load = arrival_rate * handle_seconds
    fewest = math.floor(target * load) if abandon_rate > 0 else math.floor(load) + 1
    most = math.ceil(3 * load) + 50 if max_agents is None else max_agents
    blockings = _erlang_b_sequence(load)  # one pass of the recursion serves every count tried
    for agents in range(most + 1):
        blocking = next(blockings)
        if agents < fewest:
            continue
        performance = _erlang_a(arrival_rate, handle_seconds, agents, abandon_rate, service_level_seconds, blocking)
        if performance.service_level >= target:
            return agents
    raise ValueError(f"no count of agents up to {most} reaches a service level of {target}")


def expected_wait_seconds(
    waiting_ahead: int, agents_staffed: int, agents_free: int, handle_seconds: float, abandon_rate: float
) -> float:
    """The expected wait of a contact that arrives now to ``waiting_ahead`` contacts queued before it.

    Free agents take the first ``agents_free`` of those ahead at once, and the new contact too if there
    are more free agents than contacts ahead: wait 0. Otherwise n = waiting_ahead - agents_free are
    ahead of it with all c = agents_staffed agents busy. While i are ahead it moves up one place at rate
    c·μ + i·θ (an agent finishes, μ = 1 / handle_seconds, or one ahead gives up, θ = abandon_rate),
    and the move from i = 0 puts it through to an agent, so

        E[wait] = sum over i = 0..n of 1 / (c·μ + i·θ)

    counting its own patience out: the wait if it stays. With θ = 0 that is (n + 1) x handle_seconds / c;
    with no agents staffed the wait is infinite.
    """
    _check(
        waiting=waiting_ahead,
        agents=agents_staffed,
        free=agents_free,
        handle_seconds=handle_seconds,
        abandon_rate=abandon_rate,
    )
    if agents_free > agents_staffed:
        raise ValueError(f"{agents_free} agents free of {agents_staffed} staffed")
    ahead = waiting_ahead - agents_free
    if ahead < 0:
        return 0.0
    if agents_staffed == 0:
        return math.inf
    capacity = agents_staffed / handle_seconds
    return math.fsum(1.0 / (capacity + i * abandon_rate) for i in range(ahead + 1))


def _erlang_b_sequence(load: float) -> Iterator[float]:
    """B(0), B(1), ... for ``load`` Erlangs: B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)), stable at any size."""
    blocking, agents = 1.0, 0
    while True:
        yield blocking
        agents += 1
        blocking = load * blocking / (agents + load * blocking)


def _erlang_c(
    arrival_rate: float, handle_seconds: float, agents: int, threshold: float, blocking: float
) -> Performance:
    load = arrival_rate * handle_seconds
    if load >= agents:
        return Performance(1.0, 0.0, math.inf, 0.0, 1.0 if agents else 0.0)
    wait_probability = blocking / (1 - load / agents * (1 - blocking))
    # cμ - λ: the rate the queue drains at, and the rate the tail of the wait falls off.
    drain_rate = (agents - load) / handle_seconds
    service_level = 1 - wait_probability * math.exp(-drain_rate * threshold)
    return Performance(wait_probability, service_level, wait_probability / drain_rate, 0.0, load / agents)


def _erlang_a(
    arrival_rate: float, handle_seconds: float, agents: int, abandon_rate: float, threshold: float, blocking: float
) -> Performance:
    if abandon_rate == 0:
        return _erlang_c(arrival_rate, handle_seconds, agents, threshold, blocking)
    capacity = agents / handle_seconds
    log_terms = _log_waiting_terms(arrival_rate, capacity, abandon_rate)
    log_total = _log_sum_exp(log_terms)
    # P(c busy) = B·Z and P(c + j) = B·Z·t_j, with Z = 1 / (1 - B + B·Σt) normalising the whole chain.
    wait_probability = _logistic(_log(blocking) + log_total - _log(1 - blocking))
    ratio = capacity / abandon_rate  # b in the docstring of erlang_a
    within = _births_exceed(threshold, ratio + 1, abandon_rate, len(log_terms))
    answered_after_wait = answered_within = answered_wait = mean_to_answer = 0.0
    for ahead, log_term in enumerate(log_terms):
        finds = wait_probability * math.exp(log_term - log_total)  # P(an arrival finds `ahead` waiting)
        answered = finds * ratio / (ratio + ahead + 1)
        mean_to_answer += 1 / (abandon_rate * (ratio + ahead + 1))  # E[V'] = E[V; answered] / P(answered)
        answered_after_wait += answered
        answered_within += answered * within[ahead]
        answered_wait += answered * mean_to_answer
    answered_share = 1 - wait_probability + answered_after_wait
    return Performance(
        wait_probability,
        1 - wait_probability + answered_within,
        answered_wait / answered_share if answered_share > 0 else math.inf,
        wait_probability - answered_after_wait,
        arrival_rate * handle_seconds * answered_share / agents if agents else 0.0,
    )


def _log_waiting_terms(arrival_rate: float, capacity: float, abandon_rate: float) -> list[float]:
    """log t_j = log P(c + j) / P(c), j = 0, 1, ...: t_j = Π_{i=1..j} λ / (cμ + iθ), cut where negligible.

    Above c the chain goes up by an arrival (λ) and down by an answer or an abandon (cμ + jθ). The
    terms may grow for a while (an overload) but fall for good once cμ + jθ > λ.
    """
    if arrival_rate == 0:
        return [0.0]
    log_arrival = math.log(arrival_rate)
    terms = [0.0]
    largest = 0.0
    while len(terms) <= _MAX_WAITING:
        term = terms[-1] + log_arrival - math.log(capacity + len(terms) * abandon_rate)
        if term < terms[-1] and term < largest + _NEGLIGIBLE_LOG:
            return terms
        largest = max(largest, term)
        terms.append(term)
    raise ValueError(f"more than {_MAX_WAITING} contacts waiting: patience this long is Erlang C (abandon_rate=0)")


def _births_exceed(threshold: float, shape: float, rate: float, count: int) -> list[float]:
    """P(N > j) for j < count, N ~ negative binomial(shape, e^{-rate·threshold}), from its log pmf.

    N counts the births by ``threshold`` of a pure-birth process of rate ``rate`` x (shape + k) in
    state k: P(N = 0) = e^{-rate·shape·threshold} and each next probability is the last one
    x (shape + k - 1) / k x (1 - e^{-rate·threshold}).
    """
    log_growth = _log(-math.expm1(-rate * threshold))
    log_pmf = -rate * shape * threshold
    at_most = 0.0
    exceed = []
    for births in range(count):
        if births:
            log_pmf += math.log((shape + births - 1) / births) + log_growth
        at_most += math.exp(log_pmf)
        exceed.append(max(0.0, 1.0 - at_most))
    return exceed


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _log_sum_exp(logs: list[float]) -> float:
    largest = max(logs)
    return largest + math.log(math.fsum(math.exp(x - largest) for x in logs))


def _logistic(log_odds: float) -> float:
    """1 / (1 + e^-x) without overflow at either end."""
    if log_odds >= 0:
        return 1 / (1 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1 + odds)


def _check(**values: float) -> None:
    """Counts, rates and times are never negative; a handle time is positive."""
    for name, value in values.items():
        if value < 0 or (name == "handle_seconds" and value == 0) or math.isnan(value):
            raise ValueError(f"{name} must not be {'negative' if value < 0 else value}")
