"""stream.serving.kpi_gauges: a queue's lines are written again only when its report changed."""

from __future__ import annotations

from dataclasses import replace

from stream.kpi.queue_state import WaitingNow
from stream.kpi.report import PresenceReport, QueueReport
from stream.serving.kpi_gauges import KpiGauges
from tests.unit.kpi.test_report import reports

PRESENCE = [PresenceReport("sales", {"available": 2, "busy": 1})]


def test_text_after_changes_equals_text_written_afresh() -> None:
    gauges = KpiGauges()
    first = reports()
    gauges.text(first, PRESENCE)
    changed = [
        replace(first[0], waiting=WaitingNow(7, 93.0)),
        replace(
            first[1], windows={name: dict(kpis) | {"contacts_offered": 42} for name, kpis in first[1].windows.items()}
        ),
        first[2],
    ]
    presence = [PresenceReport("sales", {"available": 1, "busy": 2})]
    text = gauges.text(changed, presence)
    assert text == KpiGauges().text(changed, presence)
    assert 'contact_centre_contacts_waiting{channel="chat",queue="sales"} 7.0' in text
    assert text.count(" 42.0\n") == len(first[1].windows)


def test_an_unchanged_report_is_not_written_again() -> None:
    written: list[QueueReport] = []

    class Counting(KpiGauges):
        def _queue_lines(self, r: QueueReport) -> list[str]:
            written.append(r)
            return super()._queue_lines(r)

    gauges, first = Counting(), reports()
    text = gauges.text(first, PRESENCE)
    assert len(written) == 3
    again = [replace(r) for r in first]  # new reports sharing the window KPIs objects
    again[0] = replace(first[0], waiting=WaitingNow(1, 5.0))
    gauges.text(again, PRESENCE)
    assert written[3:] == [again[0]]
    assert gauges.text(first, PRESENCE) == text


def test_a_queue_no_longer_reported_is_left_out() -> None:
    gauges, first = KpiGauges(), reports()
    gauges.text(first, PRESENCE)
    text = gauges.text(first[1:], [])
    assert (first[0].queue, first[0].channel) == ("sales", "chat")
    assert 'channel="chat",queue="sales"' not in text
    assert 'channel="voice",queue="sales"' in text
    assert text == KpiGauges().text(first[1:], [])
