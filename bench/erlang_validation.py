"""Erlang A and Erlang C against a simulated queue whose callers give up (docs/erlang-validation.md).

``python -m bench.erlang_validation [--arrivals N] [--seed S]``

ciw simulates M/M/c+M: Poisson arrivals, exponential handle times, and each waiting contact leaves
after an exponential patience. For each offered load the table gives the measured service level
(answered within the threshold over all arrivals, as stream.kpi.queueing defines it) and abandon
rate, each with a batch-means standard error, beside Erlang A's and Erlang C's predictions. Erlang
C has no steady state once the load reaches the agents: "n/a".
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass

import ciw

from stream.kpi.queueing import erlang_a, erlang_c

AGENTS = 20
HANDLE_SECONDS = 180.0
PATIENCE_SECONDS = 120.0
SERVICE_LEVEL_SECONDS = 20.0
#: Under, at and over what the agents can handle.
LOADS = (16.0, 20.0, 24.0)
#: Arrivals simulated and dropped before measuring, so the queue starts from its steady state, not empty.
WARM_UP_ARRIVALS = 5_000
#: Consecutive groups of arrivals whose means give the standard error: long enough to be nearly
#: independent (each holds thousands of handle times), many enough for a spread.
BATCHES = 20


@dataclass(frozen=True)
class Measured:
    contacts: int
    service_level: float
    service_level_error: float
    abandon_rate: float
    abandon_rate_error: float


def simulate(load: float, arrivals: int, seed: int) -> Measured:
    """Runs the queue for ``arrivals`` after the warm-up and measures the contacts that arrived after it."""
    rate = load / HANDLE_SECONDS
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate)],
        service_distributions=[ciw.dists.Exponential(1 / HANDLE_SECONDS)],
        number_of_servers=[AGENTS],
        reneging_time_distributions=[ciw.dists.Exponential(1 / PATIENCE_SECONDS)],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    start = WARM_UP_ARRIVALS / rate
    simulation.simulate_until_max_time(start + arrivals / rate)
    # Contacts still waiting or talking at the end have no record yet; a few dozen of the run's.
    records = sorted((r for r in simulation.get_all_records() if r.arrival_date >= start), key=lambda r: r.arrival_date)
    within = [r.record_type == "service" and r.waiting_time <= SERVICE_LEVEL_SECONDS for r in records]
    gone = [r.record_type == "renege" for r in records]
    return Measured(len(records), *mean_and_error(within), *mean_and_error(gone))


def mean_and_error(outcomes: list[bool]) -> tuple[float, float]:
    """The share of ``outcomes`` that are true and its standard error by batch means."""
    size = len(outcomes) // BATCHES
    means = [sum(outcomes[i * size : (i + 1) * size]) / size for i in range(BATCHES)]
    return sum(outcomes) / len(outcomes), statistics.stdev(means) / math.sqrt(BATCHES)


COLUMNS = [
    "offered load",
    "contacts",
    "service level: simulated",
    "Erlang A",
    "Erlang C",
    "abandon rate: simulated",
    "Erlang A",
]


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.erlang_validation", description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=200_000, help="arrivals measured per load, after the warm-up")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    print(
        f"{AGENTS} agents, handle time {HANDLE_SECONDS:.0f} s, patience {PATIENCE_SECONDS:.0f} s, service level "
        f"within {SERVICE_LEVEL_SECONDS:.0f} s; {args.arrivals:,} arrivals per load after {WARM_UP_ARRIVALS:,}, "
        f"seed {args.seed}\n"
    )
    print(markdown_row(COLUMNS))
    print(markdown_row(["---:"] * len(COLUMNS)))
    for load in LOADS:
        measured = simulate(load, args.arrivals, args.seed)
        rate = load / HANDLE_SECONDS
        a = erlang_a(rate, HANDLE_SECONDS, AGENTS, 1 / PATIENCE_SECONDS, SERVICE_LEVEL_SECONDS)
        c = erlang_c(rate, HANDLE_SECONDS, AGENTS, SERVICE_LEVEL_SECONDS)
        row = [
            f"{load:.0f} Erlangs",
            f"{measured.contacts:,}",
            f"{percent(measured.service_level)} ± {100 * measured.service_level_error:.1f}",
            percent(a.service_level),
            "n/a" if load >= AGENTS else percent(c.service_level),
            f"{percent(measured.abandon_rate)} ± {100 * measured.abandon_rate_error:.1f}",
            percent(a.abandon_probability),
        ]
        print(markdown_row(row))


if __name__ == "__main__":
    main()
