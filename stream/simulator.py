"""A live call and chat stream: Poisson arrivals, a finite pool of agents, impatient customers.

:class:`Simulation` is a discrete-event model driven by an explicit clock (so tests run
it instantly); :func:`run_live` paces it against the wall clock and produces to Kafka.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from schemas.events import CHAT, VOICE


@dataclass(frozen=True)
class SimulationConfig:
    rate: float = 0.5  # new contacts per second, all queues together
    queues: tuple[str, ...] = ("sales", "support", "billing")
    agents: int = 80
    chat_share: float = 0.3  # share of contacts that are chats
    talk_median_seconds: float = 75.0
    talk_sigma: float = 0.7  # lognormal shape: a long tail of long calls
    wrap_median_seconds: float = 15.0
    patience_mean_seconds: float = 70.0  # exponential: how long a customer waits before leaving
    resolved_share: float = 0.75
    customers: int = 5000  # a finite base, so some customers call again

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be above 0")
        if not self.queues:
            raise ValueError("at least one queue is needed")
        if self.agents < len(self.queues):
            raise ValueError(f"at least one agent per queue is needed ({len(self.queues)} queues)")
        if not 0 <= self.chat_share <= 1:
            raise ValueError("chat share must be between 0 and 1")


@dataclass
class _Waiting:
    contact_id: str
    channel: str
    queued_at: float
    gone: bool = False


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    action: Callable[[float], None] = field(compare=False)


Emitted = tuple[str, dict[str, Any]]  # (channel, event)


class Simulation:
    """The contact centre model. Call :meth:`advance` with increasing times to collect events."""

    def __init__(self, config: SimulationConfig, start: float, seed: int | None = None) -> None:
        self.config = config
        self._rng = random.Random(seed)
        self._seq = itertools.count()
        self._due: list[_Due] = []
        self._out: list[Emitted] = []
        self._waiting: dict[str, deque[_Waiting]] = {q: deque() for q in config.queues}
        # Zipf-like traffic (busy and quiet queues); agents are staffed in proportion to it,
        # each serving one queue and taking one contact at a time.
        weights = [1.0 / (i + 1) for i in range(len(config.queues))]
        shares = [w / sum(weights) for w in weights]
        staff = [1 + int((config.agents - len(config.queues)) * share) for share in shares]
        staff[0] += config.agents - sum(staff)  # rounding leftovers go to the busiest queue
        agent_ids = (f"agent-{n:04d}" for n in range(config.agents))
        self._free_agents: dict[str, list[str]] = {
            queue: list(itertools.islice(agent_ids, count)) for queue, count in zip(config.queues, staff)
        }
        for queue, share in zip(config.queues, shares):
            rate = config.rate * share
            self._schedule(start + self._rng.expovariate(rate), self._arrival(queue, rate))

    def advance(self, now: float) -> list[Emitted]:
        """Run every action due up to ``now`` and return the events they emitted."""
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            due.action(due.at)
        out, self._out = self._out, []
        return out

    def next_due(self) -> float | None:
        return self._due[0].at if self._due else None

    def _schedule(self, at: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._due, _Due(at, next(self._seq), action))

    def _emit(self, channel: str, kind: str, at: float, contact_id: str, **fields: Any) -> None:
        event = {
            "event_id": str(uuid.UUID(int=self._rng.getrandbits(128))),
            "type": kind,
            "ts": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "contact_id": contact_id,
            **fields,
        }
        self._out.append((channel, event))

    def _arrival(self, queue: str, rate: float) -> Callable[[float], None]:
        def arrive(at: float) -> None:
            channel = CHAT if self._rng.random() < self.config.chat_share else VOICE
            contact = _Waiting(f"{channel[0]}-{uuid.UUID(int=self._rng.getrandbits(128)).hex[:16]}", channel, at)
            customer = f"cust-{self._rng.randrange(self.config.customers):05d}"
            self._emit(channel, "contact.queued", at, contact.contact_id, queue=queue, customer_id=customer)
            self._waiting[queue].append(contact)
            self._schedule(at + self._rng.expovariate(1.0 / self.config.patience_mean_seconds), self._abandon(contact, queue))
            self._schedule(at + self._rng.expovariate(rate), arrive)
            self._dispatch(queue, at)

        return arrive

    def _abandon(self, contact: _Waiting, queue: str) -> Callable[[float], None]:
        def abandon(at: float) -> None:
            if not contact.gone:
                contact.gone = True
                self._emit(contact.channel, "contact.abandoned", at, contact.contact_id)

        return abandon

    def _dispatch(self, queue: str, at: float) -> None:
        waiting, agents = self._waiting[queue], self._free_agents[queue]
        while agents and waiting:
            contact = waiting.popleft()
            if contact.gone:
                continue
            contact.gone = True
            agent = agents.pop()
            answered = at + self._rng.uniform(0.5, 3.0)  # ring time
            self._schedule(answered, self._answer(contact, agent, queue))

    def _answer(self, contact: _Waiting, agent: str, queue: str) -> Callable[[float], None]:
        def answer(at: float) -> None:
            cfg = self.config
            self._emit(contact.channel, "contact.answered", at, contact.contact_id, agent_id=agent)
            talk = self._lognormal(cfg.talk_median_seconds * (2.0 if contact.channel == CHAT else 1.0), cfg.talk_sigma)
            hold = self._rng.choice((0.0, 0.0, 0.0, self._rng.uniform(10, 60)))
            ended, wrapped = at + talk + hold, at + talk + hold + self._lognormal(cfg.wrap_median_seconds, 0.5)
            self._schedule(ended, lambda t: self._emit(contact.channel, "contact.ended", t, contact.contact_id, hold_seconds=round(hold, 1)))
            self._schedule(wrapped, self._wrap(contact, agent, queue))

        return answer

    def _wrap(self, contact: _Waiting, agent: str, queue: str) -> Callable[[float], None]:
        def wrap(at: float) -> None:
            resolved = self._rng.random() < self.config.resolved_share
            self._emit(contact.channel, "contact.wrapped", at, contact.contact_id, resolved=resolved)
            self._free_agents[queue].append(agent)
            self._dispatch(queue, at)

        return wrap

    def _lognormal(self, median: float, sigma: float) -> float:
        return self._rng.lognormvariate(math.log(median), sigma)


def paced(simulation: Simulation, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
          until: float | None = None) -> Iterator[Emitted]:  # fmt: skip
    """Yield events as their time comes on ``clock``, until ``until`` (or forever)."""
    while until is None or clock() < until:
        yield from simulation.advance(clock())
        upcoming = simulation.next_due()
        delay = 0.5 if upcoming is None else min(0.5, max(0.0, upcoming - clock()))
        sleep(delay)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
