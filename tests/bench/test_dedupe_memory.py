"""bench.dedupe_memory: a tiny day measures every state, and twice the volume holds about twice the bytes."""

from __future__ import annotations

import pytest

from bench.dedupe_memory import Held, Volume, measure, render

SMALL = Volume(contacts=200, tickets=50, answers=500)
DOUBLE = Volume(contacts=400, tickets=100, answers=1000)


@pytest.fixture(scope="module")
def small() -> list[Held]:
    return measure(SMALL)


def test_each_state_is_measured_per_item(small: list[Held]) -> None:
    assert [h.name for h in small] == ["contacts (calls, chats)", "tickets", "survey answer ids"]
    assert [h.items for h in small] == [SMALL.contacts, SMALL.tickets, SMALL.answers]
    for held in small:
        # Every item holds at least its key (a 32- or 36-character string, over 80 bytes) and a timestamp.
        assert held.bytes_per_item > 100, held
        assert held.changelog_bytes > 20 * held.items, held


def test_twice_the_volume_holds_about_twice_the_bytes(small: list[Held]) -> None:
    for one, two in zip(small, measure(DOUBLE), strict=True):
        assert 1.5 < two.memory_bytes / one.memory_bytes < 2.5, (one, two)
        assert 1.5 < two.changelog_bytes / one.changelog_bytes < 2.5, (one, two)


def test_the_table_has_a_row_per_state_and_a_total(small: list[Held]) -> None:
    lines = render(small).splitlines()
    assert len(lines) == 1 + len(small) + 1
    assert lines[-1].split()[:2] == ["total", f"{sum(h.items for h in small):,}"]
