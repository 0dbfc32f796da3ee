"""A seeded contact-centre scenario of the last minutes, the orders a producer may deliver it in,
and the KPIs SPEC §4 gives for it, computed straight from the events (no code of ``stream``): what
the late-delivery tests expect of a worker, whatever the delivery delay and order."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.integration.events import iso

#: conftest.QUEUE_CONFIG's defaults, which every queue of the scenario has.
SERVICE_LEVEL_SECONDS = 20
SHORT_ABANDON_SECONDS = 5
#: The worker's default windows. A rolling window is approximated by buckets of 1/15 of its
#: length, and only buckets wholly inside [now - length, now] count; ``today`` starts at UTC midnight.
ROLLING_WINDOWS = {"15m": 900, "1h": 3600}
TODAY = "today"
WINDOWS = (*ROLLING_WINDOWS, TODAY)
BUCKETS_PER_WINDOW = 15
AGENT_STATES = ("available", "busy", "wrapup", "away", "offline")
#: Survey answers without a channel count under this one.
UNKNOWN_CHANNEL = "unknown"
#: The windowed KPIs of /api/kpis that are compared, by metric name without ``contact_centre_``.
COMPARED = (
    "contacts_offered",
    "contacts_answered",
    "contacts_abandoned",
    "contacts_completed",
    "average_wait_seconds",
    "max_wait_seconds",
    "service_level_ratio",
    "abandon_ratio",
    "average_handle_seconds",
    "fcr_ratio",
    "repeat_contact_ratio",
    "average_first_response_seconds",
    "average_resolution_seconds",
    "csat_score",
    "csat_satisfied_ratio",
    "nps_score",
    "ces_score",
    "employee_nps_score",
)
#: Input topic (a key of conftest.new_topics) -> channel of its contacts.
CONTACT_TOPICS = {"calls": "voice", "chats": "chat"}


@dataclass(frozen=True)
class Message:
    """One input message: its topic (a key of conftest.new_topics), key and bytes; the event's own
    time; and the contact, ticket, agent or answer it belongs to (what a contact-record export
    sends together)."""

    topic: str
    key: bytes | None
    value: bytes
    ts: float
    group: str


def build_scenario(
    now: float, queues: Sequence[str], seed: int = 21, contacts: int = 24, span: int = 720
) -> list[Message]:
    """Calls, chats, tickets, surveys and agent states of ``queues`` whose timestamps lie in
    [now - span, now - 30] (whole seconds), with some messages sent twice; in no particular order.

    Per queue and channel ``contacts`` contacts: answered within and beyond the service level
    (20 and 21 s among them) and wrapped resolved or not, answered and still talking, abandoned
    (5 s among them) and short-abandoned (4 s among them), and still waiting.
    """
    return _Builder(random.Random(seed), int(now) - span, int(now) - 30).build(queues, contacts)


def in_time_order(messages: Iterable[Message]) -> list[Message]:
    """As a producer that delivers each event at its own time would (a duplicate after its original)."""
    return sorted(messages, key=lambda m: m.ts)


def record_order(messages: Iterable[Message], seed: int = 3) -> list[Message]:
    """As a contact-record export delivers them: each contact's (ticket's, agent's) messages together
    once it ends, contacts in the order they end, and inside one contact scrambled: newest first or
    shuffled, so an answer comes before its queueing."""
    rng = random.Random(seed)
    groups: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        groups[message.group].append(message)
    ordered = []
    for _, group in sorted(groups.items(), key=lambda item: (max(m.ts for m in item[1]), item[0])):
        scrambled = sorted(group, key=lambda m: -m.ts)
        if rng.random() < 0.5:
            rng.shuffle(scrambled)
        ordered += scrambled
    return ordered


class _Builder:
    def __init__(self, rng: random.Random, start: int, end: int) -> None:
        self.rng, self.start, self.end = rng, start, end
        self.messages: list[Message] = []

    def build(self, queues: Sequence[str], contacts: int) -> list[Message]:
        for queue in queues:
            for topic in CONTACT_TOPICS:
                for n in range(contacts):
                    self.contact(topic, f"{queue}-{topic}-{n}", queue, n)
            for n in range(max(4, contacts // 3)):
                self.ticket(f"{queue}-ticket-{n}", queue, n)
            for n in range(max(4, contacts // 2)):
                self.survey(queue, "survey.csat", self.rng.randint(1, 5), ("voice", "chat", "ticket", None)[n % 4], n)
                self.survey(queue, "survey.nps", self.rng.randint(0, 10), ("voice", None)[n % 2], n)
        for n in range(4):
            self.agent(f"{queues[0]}-agent-{n}", queues, n)
        return self.messages

    def send(self, topic: str, key: str, event: dict[str, Any], ts: float, twice: bool = False) -> None:
        message = Message(topic, key.encode(), json.dumps(event).encode(), ts, key)
        self.messages += [message, message] if twice else [message]

    def event(self, kind: str, ts: int, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"{self.rng.getrandbits(64):016x}", "type": kind, "ts": iso(ts), **fields}

    def contact(self, topic: str, contact_id: str, queue: str, n: int) -> None:
        # The first contacts of each channel take the outcomes at the counting boundaries.
        fixed = [
            ("answered", 20),
            ("answered", 21),
            ("abandoned", 5),
            ("abandoned", 4),
            ("answered", 0),
            ("waiting", 0),
            ("talking", 3),
        ]
        if n < len(fixed):
            outcome, wait = fixed[n]
        else:
            outcome = self.rng.choices(["answered", "talking", "abandoned", "waiting"], [60, 10, 22, 8])[0]
            wait = self.rng.choice([self.rng.randint(0, SERVICE_LEVEL_SECONDS), self.rng.randint(0, 150)])
            if outcome == "abandoned" and self.rng.random() < 0.3:
                wait = self.rng.randint(0, SHORT_ABANDON_SECONDS - 1)
        talk, after_work = self.rng.randint(15, 240), self.rng.randint(0, 60)
        length = {"answered": wait + talk + after_work, "talking": wait + talk}.get(outcome, wait)
        queued = self.rng.randint(self.start, self.end - length)
        steps: list[tuple[str, int, dict[str, Any]]] = [("contact.queued", queued, {"queue": queue})]
        if outcome == "abandoned":
            steps.append(("contact.abandoned", queued + wait, {}))
        elif outcome in ("answered", "talking"):
            steps.append(("contact.answered", queued + wait, {"agent_id": f"{queue}-agent-{n % 4}"}))
            steps.append(("contact.ended", queued + wait + talk, {}))
            if outcome == "answered":
                resolved = self.rng.random() < 0.7
                steps.append(("contact.wrapped", queued + length, {"resolved": resolved}))
        for kind, ts, fields in steps:
            # A retried answer in every channel's first contact, and now and then any step.
            twice = (n == 0 and kind == "contact.answered") or self.rng.random() < 0.03
            self.send(topic, contact_id, self.event(kind, ts, contact_id=contact_id, **fields), ts, twice)

    def ticket(self, ticket_id: str, queue: str, n: int) -> None:
        # new, replied, solved (the first with a private note before its public reply)
        outcome = ("new", "replied", "solved")[n % 3]
        reply, solve = self.rng.randint(20, 200), self.rng.randint(10, 200)
        created = self.rng.randint(self.start, self.end - reply - solve)
        steps: list[tuple[str, int, dict[str, Any]]] = [("ticket.created", created, {"queue": queue})]
        if n == 2:
            steps.append(("ticket.replied", created + reply // 2, {"agent_id": "note-taker", "public": False}))
        if outcome != "new":
            steps.append(("ticket.replied", created + reply, {"agent_id": f"{queue}-agent-{n % 4}"}))
        if outcome == "solved":
            steps.append(("ticket.solved", created + reply + solve, {}))
        for index, (kind, ts, fields) in enumerate(steps):
            twice = n == 1 and index == len(steps) - 1  # a reply delivered twice
            self.send("tickets", ticket_id, self.event(kind, ts, contact_id=ticket_id, **fields), ts, twice)

    def survey(self, queue: str, kind: str, score: int, channel: str | None, n: int) -> None:
        ts = self.rng.randint(self.start, self.end)
        fields: dict[str, Any] = {"queue": queue, "score": score}
        if channel is not None:
            fields["channel"] = channel
        event = self.event(kind, ts, **fields)
        self.send("surveys", event["event_id"], event, ts, twice=n == 0)

    def agent(self, agent_id: str, queues: Sequence[str], n: int) -> None:
        """Agent 0 serves every queue, the others one each; agent 1 moves to another queue last."""
        served = list(queues) if n == 0 else [queues[n % len(queues)]]
        times = sorted(self.rng.sample(range(self.start, self.end + 1), 4))
        for index, ts in enumerate(times):
            if n == 1 and index == len(times) - 1:
                served = [queues[(n + 1) % len(queues)]]
            state = self.rng.choice(AGENT_STATES)
            event = self.event("agent.state", ts, agent_id=agent_id, queues=served, state=state)
            self.send("agents", agent_id, event, ts, twice=n == 2 and index == 1)


@dataclass(frozen=True)
class _Measure:
    key: str  # "queue/channel"
    kind: str
    ts: float
    value: float = 0.0


class Truth:
    """What SPEC §4 says the KPIs of ``messages`` are, from the events alone.

    Duplicates are recognised as SPEC §3 says: a survey answer by its ``event_id``, a call's or
    chat's lifecycle step by its contact and type, a ticket's reply or solve by ticket and time,
    and an agent's state by being the agent's latest by event time.
    """

    def __init__(self, messages: Iterable[Message]) -> None:
        contacts: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        tickets: dict[str, dict[str, Any]] = defaultdict(lambda: {"replies": set(), "solves": set()})
        surveys: dict[str, dict[str, Any]] = {}
        agents: dict[str, dict[str, Any]] = {}
        served: set[str] = set()
        for message in messages:
            event = json.loads(message.value)
            kind = event["type"]
            if message.topic in CONTACT_TOPICS:
                contacts[CONTACT_TOPICS[message.topic], event["contact_id"]].setdefault(kind.split(".")[1], event)
            elif message.topic == "tickets":
                ticket = tickets[event["contact_id"]]
                if kind == "ticket.created":
                    ticket.setdefault("created", event)
                elif kind == "ticket.replied" and event.get("public", True):
                    ticket["replies"].add(seconds(event["ts"]))
                elif kind == "ticket.solved":
                    ticket["solves"].add(seconds(event["ts"]))
            elif message.topic == "surveys":
                surveys.setdefault(event["event_id"], event)
            elif message.topic == "agents":
                served.update(event["queues"])
                known = agents.get(event["agent_id"])
                if known is None or seconds(event["ts"]) > seconds(known["ts"]):
                    agents[event["agent_id"]] = event
        self.measures: list[_Measure] = []
        self.waiting: dict[str, list[float]] = defaultdict(list)
        self.keys: set[str] = set()
        for (channel, _), steps in contacts.items():
            self._contact(channel, steps)
        for ticket in tickets.values():
            self._ticket(ticket)
        for survey in surveys.values():
            key = f"{survey['queue']}/{survey.get('channel') or UNKNOWN_CHANNEL}"
            self._measure(key, survey["type"].removeprefix("survey."), seconds(survey["ts"]), survey["score"])
        # Every queue an agent ever served is listed, with no agent in it once they all left.
        self.agents: dict[str, dict[str, int]] = {queue: dict.fromkeys(AGENT_STATES, 0) for queue in served}
        for event in agents.values():
            for queue in dict.fromkeys(event["queues"]):
                self.agents[queue][event["state"]] += 1

    def _measure(self, key: str, kind: str, ts: float, value: float = 0.0) -> None:
        self.keys.add(key)
        self.measures.append(_Measure(key, kind, ts, value))

    def _contact(self, channel: str, steps: dict[str, dict[str, Any]]) -> None:
        if "queued" not in steps:
            return  # never offered: measures nothing
        key = f"{steps['queued']['queue']}/{channel}"
        at = {step: seconds(event["ts"]) for step, event in steps.items()}
        self._measure(key, "offered", at["queued"])
        if "answered" in at:
            self._measure(key, "answered", at["answered"], at["answered"] - at["queued"])
            if "wrapped" in at:
                self._measure(key, "handled", at["wrapped"], at["wrapped"] - at["answered"])
        elif "abandoned" in at:
            self._measure(key, "abandoned", at["abandoned"], at["abandoned"] - at["queued"])
        else:
            self.waiting[key].append(at["queued"])
        if "wrapped" in at:  # no customer_id: a first contact, so resolved is first-contact resolved
            self._measure(key, "fcr", at["wrapped"], 1.0 if steps["wrapped"]["resolved"] else 0.0)

    def _ticket(self, ticket: dict[str, Any]) -> None:
        if "created" not in ticket:
            return
        key = f"{ticket['created']['queue']}/ticket"
        created = seconds(ticket["created"]["ts"])
        self._measure(key, "offered", created)
        if ticket["replies"]:
            first = min(ticket["replies"])
            self._measure(key, "first_response", first, first - created)
        if ticket["solves"]:
            solved = min(ticket["solves"])
            self._measure(key, "resolution", solved, solved - created)

    def view(self, now: float, queues: Iterable[str]) -> dict[str, Any]:
        """The truth at ``now`` for ``queues``: per "queue/channel" the live gauges and each window's
        KPIs, and per "agents/queue" the agents by state."""
        queues = set(queues)
        starts = {window: window_start(window, now) for window in WINDOWS}
        view: dict[str, Any] = {}
        for key in sorted(k for k in self.keys if k.split("/")[0] in queues):
            waiting = self.waiting.get(key, [])
            view[key] = {
                "contacts_waiting": len(waiting),
                "oldest_waiting_seconds": max(0.0, now - min(waiting)) if waiting else 0.0,
                **{
                    window: _compared(kpis([m for m in self.measures if m.key == key and start <= m.ts <= now]))
                    for window, start in starts.items()
                },
            }
        for queue in sorted(queues & set(self.agents)):
            view[f"agents/{queue}"] = self.agents[queue]
        return view


def kpis(measures: Sequence[_Measure]) -> dict[str, float | None]:
    """SPEC §4's formulas over the measures of one queue, channel and window."""
    values: dict[str, list[float]] = defaultdict(list)
    for measure in measures:
        values[measure.kind].append(measure.value)
    answered, abandoned = values["answered"], values["abandoned"]
    short = sum(wait < SHORT_ABANDON_SECONDS for wait in abandoned)
    within = sum(wait <= SERVICE_LEVEL_SECONDS for wait in answered)
    completed = len(answered) + len(abandoned) - short
    csat, nps = values["csat"], values["nps"]
    return {
        "contacts_offered": len(values["offered"]),
        "contacts_answered": len(answered),
        "contacts_abandoned": len(abandoned),
        "contacts_answered_within_threshold": within,
        "contacts_short_abandoned": short,
        "contacts_completed": completed,
        "average_wait_seconds": _mean(answered),
        "max_wait_seconds": max(answered + abandoned, default=None),
        "service_level_ratio": _ratio(within, completed),
        "abandon_ratio": _ratio(len(abandoned) - short, completed),
        "average_handle_seconds": _mean(values["handled"]),
        "fcr_ratio": _mean(values["fcr"]),
        "repeat_contact_ratio": None,  # no contact carries a customer_id
        "average_first_response_seconds": _mean(values["first_response"]),
        "average_resolution_seconds": _mean(values["resolution"]),
        "csat_score": _mean(csat),
        "csat_satisfied_ratio": _ratio(sum(score >= 4 for score in csat), len(csat)),
        "nps_score": _ratio(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)), len(nps)),
        "ces_score": None,
        "employee_nps_score": None,
    }


def _compared(values: dict[str, float | None]) -> dict[str, float | None]:
    return {kpi: values[kpi] for kpi in COMPARED}


def _mean(values: Sequence[float]) -> float | None:
    return _ratio(sum(values), len(values))


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def window_start(window: str, now: float) -> float:
    """The earliest event time ``window`` covers at ``now``."""
    if window == TODAY:
        return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    bucket = ROLLING_WINDOWS[window] // BUCKETS_PER_WINDOW
    return math.ceil((now - ROLLING_WINDOWS[window]) / bucket) * bucket


def seconds(ts: str | float) -> float:
    """Epoch seconds of an event's ``ts`` (ISO-8601 with an offset, or epoch seconds)."""
    return float(ts) if isinstance(ts, (int, float)) else datetime.fromisoformat(ts).timestamp()
