"""Facts: the measurements the keyed stages send to the queue stage, and how they change.

A keyed stage (contacts, tickets, customers) derives every fact its state implies, keyed
by what each measures. When the state changes it sends only the difference: facts that
are new, and retractions of facts the state no longer implies (a reopened ticket is no
longer resolved; a late-arriving earlier contact makes a later one a repeat). Deriving
from state, not from the event, is what makes the result independent of arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from stream.kpi.wire import Row

FactKind = Literal[
    "offered",  # a contact offered to a queue (a call or chat queued, a ticket created)
    "waiting",  # a contact started waiting; ended by its answered or abandoned fact
    "answered",  # value: the wait in seconds
    "abandoned",  # value: the wait in seconds
    "handled",  # value: wrapped - answered, in seconds
    "fcr",  # a wrapped contact; value 1 when resolved on first contact, else 0
    "repeat",  # a contact with a known customer; value 1 when it repeats an earlier one, else 0
    "first_response",  # value: first public reply - created, in seconds
    "resolution",  # value: solved - created, in seconds
    "reopened",  # a solved ticket came back
    "csat",  # value: the score
    "nps",
    "ces",
    "esat",
    "staffed",  # value: the queue's agents available, busy or in wrap-up now (from the presence stage)
    "available",  # value: the queue's agents available now
]

SURVEY_KINDS: frozenset[str] = frozenset({"csat", "nps", "ces", "esat"})
#: Facts that tell a queue and channel its agents now, rather than measure a contact.
STAFFING_KINDS: frozenset[str] = frozenset({"staffed", "available"})


@dataclass(frozen=True, slots=True)
class Fact:
    """One measurement for a queue and channel: what, when (event time) and its value.

    ``contact_id`` names the contact measured (the event id, for a survey answer).
    A retraction takes back a fact sent earlier, so the same fact is subtracted.
    """

    kind: FactKind
    queue: str
    channel: str
    contact_id: str
    ts: float
    value: float = 0.0
    retraction: bool = False

    def retracted(self) -> Fact:
        return replace(self, retraction=True)

    def to_wire(self) -> list[Any]:
        return _FACT_WIRE.to_wire(self)

    @classmethod
    def from_wire(cls, row: list[Any]) -> Fact:
        return _FACT_WIRE.from_wire(row)


#: A retraction ends its row with a 1; most facts are not one and end with their value.
_FACT_WIRE = Row(Fact, encode={"retraction": int}, decode={"retraction": bool}, optional=("retraction",))


def changed_facts(before: dict[str, Fact], after: dict[str, Fact]) -> list[Fact]:
    """What to send when a state's derived facts go from ``before`` to ``after``.

    'waiting' is never retracted: the answered or abandoned fact that replaces it ends the wait.
    """
    added = [fact for key, fact in after.items() if before.get(key) != fact]
    taken_back = [fact.retracted() for key, fact in before.items() if after.get(key) != fact and fact.kind != "waiting"]
    return taken_back + added
