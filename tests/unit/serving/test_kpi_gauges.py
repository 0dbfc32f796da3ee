"""stream.serving.kpi_gauges: a queue's lines are written again only when its report changed; the counts
that let groups of queues add up."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families

from stream.kpi.queue_state import WaitingNow
from stream.kpi.report import PresenceReport, QueueReport
from stream.kpi.staffing import StaffingKpis
from stream.serving.kpi_gauges import KpiGauges
from tests.unit.kpi.test_report import reports

PRESENCE = [PresenceReport("sales", {"available": 2, "busy": 1})]


def test_text_after_changes_equals_text_written_afresh() -> None:
    gauges = KpiGauges({})
    first = reports()
    gauges.text(first, PRESENCE, {})
    changed = [
        replace(first[0], waiting=WaitingNow(7, 93.0)),
        replace(
            first[1], windows={name: dict(kpis) | {"contacts_offered": 42} for name, kpis in first[1].windows.items()}
        ),
        first[2],
    ]
    presence = [PresenceReport("sales", {"available": 1, "busy": 2})]
    text = gauges.text(changed, presence, {})
    assert text == KpiGauges({}).text(changed, presence, {})
    assert 'contact_centre_contacts_waiting{channel="chat",queue="sales"} 7.0' in text
    assert text.count(" 42.0\n") == len(first[1].windows)


def test_an_unchanged_report_is_not_written_again() -> None:
    written: list[QueueReport] = []

    class Counting(KpiGauges):
        def _queue_lines(self, r: QueueReport) -> list[str]:
            written.append(r)
            return super()._queue_lines(r)

    gauges, first = Counting({}), reports()
    text = gauges.text(first, PRESENCE, {})
    assert len(written) == 3
    again = [replace(r) for r in first]  # new reports sharing the window KPIs objects
    again[0] = replace(first[0], waiting=WaitingNow(1, 5.0))
    gauges.text(again, PRESENCE, {})
    assert written[3:] == [again[0]]
    assert gauges.text(first, PRESENCE, {}) == text


def test_a_queue_no_longer_reported_is_left_out() -> None:
    gauges, first = KpiGauges({}), reports()
    gauges.text(first, PRESENCE, {})
    text = gauges.text(first[1:], [], {})
    assert (first[0].queue, first[0].channel) == ("sales", "chat")
    assert 'channel="chat",queue="sales"' not in text
    assert 'channel="voice",queue="sales"' in text
    assert text == KpiGauges({}).text(first[1:], [], {})


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``contact_centre_<name>`` in ``text``, by their labels (sorted)."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "contact_centre_" + name
    }


def test_the_service_levels_counts_are_exported_per_window() -> None:
    """sales/voice (tests.unit.kpi.test_report): 3 answered within 60 s, 1 short abandon, 4 completed in
    15m and today; nothing in 1h. The numerator over the completed waits is the service level."""
    text = KpiGauges({}).text(reports(), [], {})
    within = samples(text, "contacts_answered_within_threshold")
    short = samples(text, "contacts_short_abandoned")
    completed = samples(text, "contacts_completed")
    service_level = samples(text, "service_level_ratio")
    for window, expected_within, expected_short in [("15m", 3, 1), ("1h", 0, 0), ("today", 3, 1)]:
        labels = (("channel", "voice"), ("queue", "sales"), ("window", window))
        assert (within[labels], short[labels]) == (expected_within, expected_short)
        if completed[labels]:
            assert within[labels] / completed[labels] == service_level[labels] == 0.75
    # support/chat: 2 of 2 within 20 s in 1h; counts are 0, not absent, in an empty window
    assert within[("channel", "chat"), ("queue", "support"), ("window", "1h")] == 2
    assert within[("channel", "chat"), ("queue", "support"), ("window", "15m")] == 0
    assert len(within) == len(short) == 3 * 3  # every queue and channel, every window


def test_agents_distinct_has_every_state_zero_included() -> None:
    text = KpiGauges({}).text(reports(), PRESENCE, {"busy": 3, "available": 1})
    assert samples(text, "agents_distinct") == {
        (("state", "available"),): 1,
        (("state", "busy"),): 3,
        (("state", "wrapup"),): 0,
        (("state", "away"),): 0,
        (("state", "offline"),): 0,
    }
    assert samples(KpiGauges({}).text([], [], {}), "agents_distinct") == {
        (("state", state),): 0 for state in ("available", "busy", "wrapup", "away", "offline")
    }


def test_each_group_of_a_reported_queue_is_exported_once_per_window() -> None:
    """sales has two channels and is in two groups; billing is in a group but not reported; support in none."""
    gauges = KpiGauges({"north": ["sales", "billing"], "voice-team": ["sales"]})
    text = gauges.text(reports(), [], {})
    assert samples(text, "queue_group") == {
        (("group", group), ("queue", "sales"), ("window", window)): 1
        for group in ("north", "voice-team")
        for window in ("15m", "1h", "today")
    }
    assert text.count("\ncontact_centre_queue_group{") == 6  # no line twice
    assert samples(gauges.text([r for r in reports() if r.queue == "support"], [], {}), "queue_group") == {}


def test_staffing_gauges_are_written_where_known_and_changed_when_they_change() -> None:
    gauges, first = KpiGauges({}), reports()
    text = gauges.text(first, PRESENCE, {})
    assert "contact_centre_agents_required{" not in text  # nothing known: absent, not 0
    staffed = replace(first[1], staffing=StaffingKpis(agents_required=12, predicted_service_level=0.7))
    text = gauges.text([first[0], staffed, first[2]], PRESENCE, {})
    assert 'contact_centre_agents_required{channel="voice",queue="sales"} 12.0' in text
    assert 'contact_centre_predicted_service_level_ratio{channel="voice",queue="sales"} 0.7' in text
    assert "contact_centre_expected_wait_seconds{" not in text


def test_occupancy_and_longest_in_state_per_queue() -> None:
    presence = [
        PresenceReport("sales", {"available": 1, "busy": 2, "wrapup": 1}, {"away": 2400.0, "busy": 30.0}),
        PresenceReport("night", {"offline": 3}),
    ]
    families = {f.name: f for f in text_string_to_metric_families(KpiGauges({}).text([], presence, {}))}
    occupancy = {s.labels["queue"]: s.value for s in families["contact_centre_agent_occupancy_ratio"].samples}
    assert occupancy == {"sales": 0.75}  # nobody staffed at night: absent
    longest = {
        (s.labels["queue"], s.labels["state"]): s.value
        for s in families["contact_centre_agent_state_longest_seconds"].samples
    }
    assert longest[("sales", "away")] == 2400.0 and longest[("sales", "available")] == 0.0
    assert len(longest) == 10  # every state of every queue
