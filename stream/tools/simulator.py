"""A live contact-centre stream: calls, chats, tickets, surveys and agent states.

Poisson arrivals, a finite pool of agents, impatient customers, customers who come back,
survey answers that get worse the longer the customer waited, and tickets that are
answered, solved and sometimes reopened.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    ticket_rate: float = 0.05  # new tickets per second, all queues together
    survey_share: float = 0.4  # share of answered contacts and solved tickets that answer a survey
    esat_share: float = 0.02  # share of wrap-ups after which the agent answers the employee survey
    away_share: float = 0.05  # share of wrap-ups after which the agent takes a break

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be above 0")
        if not self.queues:
            raise ValueError("at least one queue is needed")
        if self.agents < len(self.queues):
            raise ValueError(f"at least one agent per queue is needed ({len(self.queues)} queues)")
        for name in ("chat_share", "survey_share", "esat_share", "away_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 1")
        if self.ticket_rate < 0:
            raise ValueError("ticket rate must not be negative")


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


#: (source, event): source is the input topic's content, "voice", "chat", "ticket", "survey" or "agent".
Emitted = tuple[str, dict[str, Any]]


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
            queue: list(itertools.islice(agent_ids, count)) for queue, count in zip(config.queues, staff, strict=True)
        }
        self._staff = {queue: list(agents) for queue, agents in self._free_agents.items()}
        for queue, agents in self._staff.items():
            for agent in agents:
                self._agent_state(agent, queue, "available", start)
        for queue, share in zip(config.queues, shares, strict=True):
            rate = config.rate * share
            self._schedule(start + self._rng.expovariate(rate), self._arrival(queue, rate))
            if config.ticket_rate > 0:
                ticket_rate = config.ticket_rate * share
                self._schedule(start + self._rng.expovariate(ticket_rate), self._ticket(queue, ticket_rate))

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

    def _emit(self, source: str, kind: str, at: float, contact_id: str | None, **fields: Any) -> None:
        event = {
            "event_id": str(uuid.UUID(int=self._rng.getrandbits(128))),
            "type": kind,
            "ts": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **({"contact_id": contact_id} if contact_id is not None else {}),
            **fields,
        }
        self._out.append((source, event))

    def _agent_state(self, agent: str, queue: str, state: str, at: float) -> None:
        self._emit("agent", "agent.state", at, None, agent_id=agent, queues=[queue], state=state)

    def _customer(self) -> str:
        return f"cust-{self._rng.randrange(self.config.customers):05d}"

    def _survey(self, queue: str, channel: str, contact_id: str, at: float, wait: float, tolerance: float) -> None:
        """Maybe one survey answer, a little later; the longer the wait, the worse the score."""
        if self._rng.random() >= self.config.survey_share:
            return
        # 1.0 for no wait, about 0.5 after 0.7 x tolerance, towards 0 for very long waits.
        mood = min(1.0, max(0.0, math.exp(-wait / tolerance) + self._rng.gauss(0.0, 0.15)))
        kind, low, high = self._rng.choice((("survey.csat", 1, 5), ("survey.nps", 0, 10), ("survey.ces", 1, 7)))
        score = low + round(mood * (high - low))
        answered_at = at + self._lognormal(60.0, 0.8)
        self._schedule(
            answered_at, lambda t: self._emit("survey", kind, t, contact_id, queue=queue, channel=channel, score=score)
        )

    def _ticket(self, queue: str, rate: float) -> Callable[[float], None]:
        def create(at: float) -> None:
            ticket = f"t-{uuid.UUID(int=self._rng.getrandbits(128)).hex[:16]}"
            self._emit("ticket", "ticket.created", at, ticket, queue=queue, customer_id=self._customer())
            agent = self._rng.choice(self._staff[queue])
            if self._rng.random() < 0.3:  # an internal note before the first answer
                note = at + self._lognormal(60.0, 0.7)
                self._schedule(
                    note, lambda t: self._emit("ticket", "ticket.replied", t, ticket, agent_id=agent, public=False)
                )
            replied = at + self._lognormal(180.0, 0.8)
            self._schedule(replied, lambda t: self._emit("ticket", "ticket.replied", t, ticket, agent_id=agent))
            self._schedule(replied + self._lognormal(300.0, 0.8), self._solve(ticket, queue, at, reopens_left=1))
            self._schedule(at + self._rng.expovariate(rate), create)

        return create

    def _solve(self, ticket: str, queue: str, created: float, reopens_left: int) -> Callable[[float], None]:
        def solve(at: float) -> None:
            self._emit("ticket", "ticket.solved", at, ticket)
            if reopens_left and self._rng.random() < 0.1:
                reopened = at + self._lognormal(120.0, 0.7)
                self._schedule(reopened, lambda t: self._emit("ticket", "ticket.reopened", t, ticket))
                self._schedule(
                    reopened + self._lognormal(240.0, 0.7), self._solve(ticket, queue, created, reopens_left - 1)
                )
            elif not reopens_left or self._rng.random() < 0.5:
                self._survey(queue, "ticket", ticket, at, wait=at - created, tolerance=1800.0)

        return solve

    def _arrival(self, queue: str, rate: float) -> Callable[[float], None]:
        def arrive(at: float) -> None:
            channel = CHAT if self._rng.random() < self.config.chat_share else VOICE
            contact = _Waiting(f"{channel[0]}-{uuid.UUID(int=self._rng.getrandbits(128)).hex[:16]}", channel, at)
            self._emit(channel, "contact.queued", at, contact.contact_id, queue=queue, customer_id=self._customer())
            self._waiting[queue].append(contact)
            self._schedule(
                at + self._rng.expovariate(1.0 / self.config.patience_mean_seconds), self._abandon(contact, queue)
            )
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
            self._agent_state(agent, queue, "busy", at)
            self._schedule(answered, self._answer(contact, agent, queue))

    def _answer(self, contact: _Waiting, agent: str, queue: str) -> Callable[[float], None]:
        def answer(at: float) -> None:
            cfg = self.config
            self._emit(contact.channel, "contact.answered", at, contact.contact_id, agent_id=agent)
            talk = self._lognormal(cfg.talk_median_seconds * (2.0 if contact.channel == CHAT else 1.0), cfg.talk_sigma)
            hold = self._rng.choice((0.0, 0.0, 0.0, self._rng.uniform(10, 60)))
            ended, wrapped = at + talk + hold, at + talk + hold + self._lognormal(cfg.wrap_median_seconds, 0.5)
            self._schedule(ended, self._end(contact, agent, queue, hold))
            self._schedule(wrapped, self._wrap(contact, agent, queue))
            self._survey(
                queue, contact.channel, contact.contact_id, wrapped, wait=at - contact.queued_at, tolerance=170.0
            )

        return answer

    def _end(self, contact: _Waiting, agent: str, queue: str, hold: float) -> Callable[[float], None]:
        def end(at: float) -> None:
            self._emit(contact.channel, "contact.ended", at, contact.contact_id, hold_seconds=round(hold, 1))
            self._agent_state(agent, queue, "wrapup", at)

        return end

    def _wrap(self, contact: _Waiting, agent: str, queue: str) -> Callable[[float], None]:
        def wrap(at: float) -> None:
            cfg = self.config
            resolved = self._rng.random() < cfg.resolved_share
            self._emit(contact.channel, "contact.wrapped", at, contact.contact_id, resolved=resolved)
            if self._rng.random() < cfg.esat_share:
                self._emit(
                    "survey",
                    "survey.esat",
                    at,
                    None,
                    queue=queue,
                    agent_id=agent,
                    score=self._rng.choice((3, 5, 6, 7, 7, 8, 8, 9, 9, 10)),
                )
            if self._rng.random() < cfg.away_share:
                self._agent_state(agent, queue, "away", at)
                self._schedule(at + self._lognormal(180.0, 0.5), self._back(agent, queue))
            else:
                self._become_available(agent, queue, at)

        return wrap

    def _back(self, agent: str, queue: str) -> Callable[[float], None]:
        return lambda at: self._become_available(agent, queue, at)

    def _become_available(self, agent: str, queue: str, at: float) -> None:
        self._agent_state(agent, queue, "available", at)
        self._free_agents[queue].append(agent)
        self._dispatch(queue, at)

    def _lognormal(self, median: float, sigma: float) -> float:
        return self._rng.lognormvariate(math.log(median), sigma)


def paced(
    simulation: Simulation,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    until: float | None = None,
) -> Iterator[Emitted]:
    """Yield events as their time comes on ``clock``, until ``until`` (or forever)."""
    while until is None or clock() < until:
        yield from simulation.advance(clock())
        upcoming = simulation.next_due()
        delay = 0.5 if upcoming is None else min(0.5, max(0.0, upcoming - clock()))
        sleep(delay)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
