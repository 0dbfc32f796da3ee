"""What one day of the state that recognises duplicates (KPI_DEDUPE_SECONDS) costs in memory and changelog."""

from __future__ import annotations

import argparse
import gc
import random
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import to_json

from schemas.events import CHAT, TICKET, VOICE
from stream.config.settings import Settings
from stream.kpi.aggregators import WaitRules
from stream.kpi.contacts import ContactState, Lifecycle, TicketKind, apply_event
from stream.kpi.facts import Fact, FactKind
from stream.kpi.queue_keys import queue_key
from stream.kpi.queue_state import QueueState, apply_facts
from stream.kpi.tickets import TicketState, apply_ticket_event
from stream.kpi.windows import WindowSet, parse_windows

DAY = float(Settings.model_fields["dedupe_seconds"].default)
START = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
WINDOWS = WindowSet(parse_windows(Settings.model_fields["windows"].default), ZoneInfo("UTC"))
RULES = WaitRules(service_level_seconds=20.0, short_abandon_seconds=5.0)
#: 25 queues x 2 channels: the ~50 queue/channel keys survey answers spread over.
QUEUES = tuple(
    f"{team}{suffix}"
    for team in ("sales", "support", "billing", "retention", "onboarding")
    for suffix in ("", "-priority", "-es", "-de", "-fr")
)
CHANNELS = (VOICE, CHAT)
CUSTOMER_SHARE = 0.85
ABANDON_SHARE = 0.08
REOPEN_SHARE = 0.05
#: Seconds between an event's time and the worker's clock when it is processed.
DELIVERY_DELAY = 0.4
#: Survey kinds answered about a contact, and their score ranges (SPEC §3).
SCORES: dict[FactKind, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Volume:
    """What arrives in one day."""

    contacts: int = 150_000  # calls and chats
    tickets: int = 15_000
    answers: int = 40_000  # survey answers


@dataclass(frozen=True, slots=True)
class Held:
    """What one kind of duplicate-recognising state costs after a day."""

    name: str
    items: int
    memory_bytes: int
    changelog_bytes: int  # JSON of the values' to_wire(), as the changelog carries the latest of each

    @property
    def bytes_per_item(self) -> float:
        return self.memory_bytes / self.items if self.items else 0.0


def uuid_like(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def event_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def moment(rng: random.Random) -> float:
    """An event time during the day, to the millisecond as ISO timestamps carry it."""
    return round(START + rng.uniform(0.0, DAY), 3)


def contact_events(rng: random.Random) -> list[Lifecycle]:
    """A complete call or chat: queued then abandoned, or queued, answered, ended and wrapped."""
    contact_id, channel, queued = uuid_like(rng), rng.choice(CHANNELS), moment(rng)
    customer_id = uuid_like(rng) if rng.random() < CUSTOMER_SHARE else None
    first = Lifecycle("queued", queued, contact_id, channel, rng.choice(QUEUES), customer_id)
    if rng.random() < ABANDON_SHARE:
        return [first, Lifecycle("abandoned", round(queued + rng.expovariate(1 / 60), 3), contact_id, channel)]
    answered = round(queued + rng.expovariate(1 / 30), 3)
    ended = round(answered + rng.uniform(60.0, 900.0), 3)
    wrapped = round(ended + rng.uniform(10.0, 120.0), 3)
    return [
        first,
        Lifecycle("answered", answered, contact_id, channel),
        Lifecycle("ended", ended, contact_id, channel),
        Lifecycle("wrapped", wrapped, contact_id, channel, resolved=rng.random() < 0.75),
    ]


def ticket_events(rng: random.Random) -> list[Lifecycle]:
    """A ticket created, replied to one to three times and solved; a few reopened, replied to and solved again."""
    ticket_id, ts = uuid_like(rng), moment(rng)
    customer_id = uuid_like(rng) if rng.random() < CUSTOMER_SHARE else None
    events = [Lifecycle("created", ts, ticket_id, TICKET, rng.choice(QUEUES), customer_id)]
    steps: list[TicketKind] = ["replied"] * rng.randint(1, 3) + ["solved"]
    if rng.random() < REOPEN_SHARE:
        steps += ["reopened", "replied", "solved"]
    for kind in steps:
        ts = round(ts + rng.expovariate(1 / 3600), 3)
        events.append(Lifecycle(kind, ts, ticket_id, TICKET))
    return events


def survey_answers(rng: random.Random, count: int) -> Iterator[Fact]:
    """Survey answers in time order, keyed by event id as the queue stage counts them."""
    for ts in sorted(moment(rng) for _ in range(count)):
        kind = rng.choice(tuple(SCORES))
        yield Fact(kind, rng.choice(QUEUES), rng.choice(CHANNELS), event_id(rng), ts, float(rng.randint(*SCORES[kind])))


def build_table(
    events: Callable[[], list[Lifecycle]], apply: Callable[[Any, Lifecycle, float], Any], count: int
) -> dict[str, Any]:
    """The table (key -> state) that ``count`` lifecycles leave, each event processed as it happens."""
    table: dict[str, Any] = {}
    for _ in range(count):
        for event in events():
            result = apply(table.get(event.contact_id), event, event.ts + DELIVERY_DELAY)
            if result is not None:
                table[event.contact_id] = result[0]
    return table


def build_queues(rng: random.Random, count: int) -> dict[str, QueueState]:
    queues: dict[str, QueueState] = {}
    for fact in survey_answers(rng, count):
        state = queues.setdefault(queue_key(fact.queue, fact.channel), QueueState())
        apply_facts(state, [fact], RULES, WINDOWS, fact.ts + DELIVERY_DELAY)
    return queues


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def freed_by(release: Callable[[], None]) -> int:
    """Bytes that ``release`` gives back: what only the released structure held."""
    before = traced_bytes()
    release()
    return before - traced_bytes()


def forget_answers(queues: dict[str, QueueState]) -> None:
    for state in queues.values():
        state.answers.clear()


def changelog_bytes(values: Iterable[Any]) -> int:
    return sum(len(to_json(value)) for value in values)


def measure(volume: Volume, seed: int = 1) -> list[Held]:
    """Build the state a day of ``volume`` leaves, under ``tracemalloc``, and measure what each part holds.

    Memory is what freeing a part gives back (keys, values and the dict itself), so objects it
    shares with others, such as queue names, are not counted in it.
    """
    rng = random.Random(seed)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        contacts: dict[str, ContactState] = build_table(lambda: contact_events(rng), apply_event, volume.contacts)
        tickets: dict[str, TicketState] = build_table(lambda: ticket_events(rng), apply_ticket_event, volume.tickets)
        queues = build_queues(rng, volume.answers)
        logged = (
            changelog_bytes(s.to_wire() for s in contacts.values()),
            changelog_bytes(s.to_wire() for s in tickets.values()),
            changelog_bytes(s.answers for s in queues.values()),
        )
        items = (len(contacts), len(tickets), sum(len(s.answers) for s in queues.values()))
        memory = (freed_by(contacts.clear), freed_by(tickets.clear), freed_by(lambda: forget_answers(queues)))
    finally:
        if started:
            tracemalloc.stop()
    names = ("contacts (calls, chats)", "tickets", "survey answer ids")
    return [Held(*row) for row in zip(names, items, memory, logged, strict=True)]


def render(held: list[Held]) -> str:
    rows = [
        *held,
        Held(
            "total", sum(h.items for h in held), sum(h.memory_bytes for h in held), sum(h.changelog_bytes for h in held)
        ),
    ]
    lines = [f"{'state':<24} {'items':>9} {'MB in memory':>13} {'bytes/item':>11} {'MB of changelog':>16}"]
    for h in rows:
        lines.append(
            f"{h.name:<24} {h.items:>9,} {h.memory_bytes / MB:>13.2f} {h.bytes_per_item:>11.0f} "
            f"{h.changelog_bytes / MB:>16.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Volume()
    parser.add_argument("--contacts", type=int, default=defaults.contacts, help="calls and chats per day")
    parser.add_argument("--tickets", type=int, default=defaults.tickets, help="tickets per day")
    parser.add_argument("--answers", type=int, default=defaults.answers, help="survey answers per day")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    held = measure(Volume(args.contacts, args.tickets, args.answers), args.seed)
    print(f"one day (KPI_DEDUPE_SECONDS={DAY:g}), survey answers over {len(QUEUES) * len(CHANNELS)} queue/channel keys")
    print(render(held))


if __name__ == "__main__":
    main()
