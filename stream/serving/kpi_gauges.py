"""The KPI gauges in the Prometheus text format, each queue's lines kept while its report is unchanged.

At 200 queues a scrape writes some 40,000 KPI lines. Between two scrapes most queues' reports
are unchanged: their window KPIs are the very objects of the last report
(stream.kpi.window_cache), so their lines are too, and only the queues whose facts, waiting
contacts or targets changed are written again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stream.kpi.presence import AGENT_STATES
from stream.kpi.report import PresenceReport, QueueReport
from stream.serving.exposition import PREFIX, GaugeFamily

#: Windowed KPIs with labels queue, channel, window: metric name (without prefix) -> help.
_WINDOWED = {
    "contacts_offered": "Contacts offered in the window (calls and chats queued, tickets created).",
    "contacts_answered": "Waits ended by an answer in the window.",
    "contacts_answered_within_threshold": (
        "Waits ended by an answer within the queue's service-level time: the service level's numerator."
    ),
    "contacts_abandoned": "Waits ended by an abandon in the window (short abandons included).",
    "contacts_short_abandoned": (
        "Waits ended by an abandon quicker than the queue's short-abandon time (left out of service level "
        "and abandon rate)."
    ),
    "contacts_completed": "Answered + abandoned - short abandons: the waits service level and abandon rate are over.",
    "average_wait_seconds": "Mean wait of answered contacts (ASA).",
    "max_wait_seconds": "Longest completed wait, answered or abandoned.",
    "service_level_ratio": "Answered within the service-level time / (answered + abandoned - short abandons).",
    "abandon_ratio": "(Abandoned - short abandons) / (answered + abandoned - short abandons).",
    "average_handle_seconds": "Mean of wrapped - answered (talk, hold and after-contact work).",
    "fcr_ratio": "Contacts wrapped resolved with no earlier contact of the customer within the lookback / wrapped.",
    "repeat_contact_ratio": (
        "Contacts whose customer had an earlier contact within the lookback / contacts with a customer."
    ),
    "average_first_response_seconds": "Mean of first public ticket reply - ticket created.",
    "average_resolution_seconds": "Mean of ticket solved - ticket created (to the last solve after a reopen).",
    "tickets_reopened": "Tickets reopened in the window.",
    "csat_score": "Mean CSAT score (1-5).",
    "csat_satisfied_ratio": "Share of CSAT scores of 4 or 5.",
    "nps_score": "100 x (promoters 9-10 - detractors 0-6) / answers.",
    "ces_score": "Mean customer effort score (1-7, 7 = very easy).",
}
#: Survey answer counts, exported as contact_centre_survey_responses{survey=...}.
_RESPONSES = {"csat_responses": "csat", "nps_responses": "nps", "ces_responses": "ces", "esat_responses": "esat"}


@dataclass(slots=True)
class _Lines:
    """A queue's lines per family, and the report they were written from."""

    report: QueueReport
    by_family: list[str]


class KpiGauges:
    """The KPI gauge families, and the lines last written for each queue and channel.

    # HELP contact_centre_service_level_ratio Answered within the service-level time / ...
    # TYPE contact_centre_service_level_ratio gauge
    contact_centre_service_level_ratio{channel="voice",queue="sales",window="15m"} 0.8

    ``groups``: KPI_CONFIG's groups of queues (group name -> queue names), exported as
    ``contact_centre_queue_group`` for recording rules that sum a group's counts.
    """

    def __init__(self, groups: Mapping[str, Sequence[str]]) -> None:
        qc, qcw = ("queue", "channel"), ("queue", "channel", "window")

        def gauge(name: str, help_text: str, labels: tuple[str, ...]) -> GaugeFamily:
            return GaugeFamily(PREFIX + name, help_text, labels)

        self._windowed = [(name, gauge(name, help_text, qcw)) for name, help_text in _WINDOWED.items()]
        self._responses = gauge("survey_responses", "Survey answers in the window.", (*qcw, "survey"))
        self._employee_nps = gauge(
            "employee_nps_score", "100 x (answers 9-10 - answers 0-6) / answers of survey.esat.", ("queue", "window")
        )
        self._waiting = gauge("contacts_waiting", "Contacts queued and not yet answered or abandoned.", qc)
        self._oldest = gauge("oldest_waiting_seconds", "Age of the longest-waiting contact (0 when none).", qc)
        self._threshold = gauge("wait_threshold_seconds", "Configured wait alert threshold.", qc)
        self._sl_target = gauge("service_level_target_ratio", "Configured service-level target.", qc)
        self._target = gauge("kpi_target", "Configured target of a KPI.", (*qc, "kpi"))
        self._target_met = gauge(
            "kpi_target_met", "1 when the KPI meets its target in the window, else 0.", (*qcw, "kpi")
        )
        self._agents = gauge(
            "agents", "Agents whose latest state is this one, per queue they serve.", ("queue", "state")
        )
        self._occupancy = gauge("agent_occupancy_ratio", "Agents busy or in wrap-up / agents staffed, now.", ("queue",))
        self._longest = gauge(
            "agent_state_longest_seconds",
            "How long the agent longest in this state has been in it, now (0 when nobody is).",
            ("queue", "state"),
        )
        self._required = gauge(
            "agents_required",
            "Agents needed now to meet the service-level target (Erlang A on the queue's arrivals, handle time "
            "and patience).",
            qc,
        )
        self._predicted = gauge(
            "predicted_service_level_ratio", "Service level Erlang A predicts with the agents staffed now.", qc
        )
        self._expected_wait = gauge(
            "expected_wait_seconds",
            "Expected wait of a contact arriving now, from its place in the queue, the agents staffed and the "
            "handle time.",
            qc,
        )
        self._agents_distinct = gauge(
            "agents_distinct",
            "Agents whose latest state is this one, each once whatever its queues (this worker's agents).",
            ("state",),
        )
        # A window label, so that a rule can join a window's counts on (queue, window) with this as
        # the many side: joined on the queue alone, a queue in two groups would match twice.
        self._queue_group = gauge(
            "queue_group",
            "1 for each group of queues (KPI_CONFIG groups) the queue is in, per window of its KPIs.",
            ("queue", "group", "window"),
        )
        self._groups_of: dict[str, list[str]] = {}
        for group, queues in groups.items():
            for queue in queues:
                self._groups_of.setdefault(queue, []).append(group)
        #: The families of queue reports, in the order they are written.
        self._families = [
            *(family for _, family in self._windowed),
            self._responses,
            self._employee_nps,
            self._waiting,
            self._oldest,
            self._threshold,
            self._sl_target,
            self._target,
            self._target_met,
            self._required,
            self._predicted,
            self._expected_wait,
        ]
        self._written: dict[tuple[str, str], _Lines] = {}

    def text(
        self, reports: Iterable[QueueReport], presence: Iterable[PresenceReport], agents_distinct: Mapping[str, int]
    ) -> str:
        """Every family's lines for ``reports``, ``presence`` and ``agents_distinct`` (agents per
        state, each once; a state not in it: 0); queues not among ``reports`` are forgotten."""
        by_family: list[list[str]] = [[] for _ in self._families]
        written: dict[tuple[str, str], _Lines] = {}
        #: (queue, group, window), once however many channels the queue has; insertion-ordered.
        memberships: dict[tuple[str, str, str], None] = {}
        for report in reports:
            for group in self._groups_of.get(report.queue, ()):
                for window in report.windows:
                    memberships[report.queue, group, window] = None
            key = (report.queue, report.channel)
            lines = self._written.get(key)
            if lines is None or not _unchanged(lines.report, report):
                lines = _Lines(report, self._queue_lines(report))
            written[key] = lines
            for family_lines, text in zip(by_family, lines.by_family, strict=True):
                family_lines.append(text)
        self._written = written
        presence = list(presence)
        agents = [
            self._agents.line((report.queue, state), count)
            for report in presence
            for state, count in report.agents.items()
        ]
        occupancy = [
            self._occupancy.line((report.queue,), report.occupancy)
            for report in presence
            if report.occupancy is not None
        ]
        longest = [
            self._longest.line((report.queue, state), report.longest_seconds.get(state, 0.0))
            for report in presence
            for state in AGENT_STATES
        ]
        return "".join(
            [
                *(family.header + "".join(lines) for family, lines in zip(self._families, by_family, strict=True)),
                self._agents.header + "".join(agents),
                self._occupancy.header + "".join(occupancy),
                self._longest.header + "".join(longest),
                self._agents_distinct.header,
                *(self._agents_distinct.line((state,), agents_distinct.get(state, 0)) for state in AGENT_STATES),
                self._queue_group.header,
                *(self._queue_group.line(labels, 1) for labels in memberships),
            ]
        )

    def _queue_lines(self, r: QueueReport) -> list[str]:
        """The report's lines of each family (in :attr:`_families` order), each family's joined."""
        labels = (r.queue, r.channel)
        windowed: list[list[str]] = [[] for _ in self._windowed]
        responses, employee_nps, target_met = [], [], []
        for window, kpis in r.windows.items():
            for lines, (name, family) in zip(windowed, self._windowed, strict=True):
                value = kpis[name]
                if value is not None:
                    lines.append(family.line((*labels, window), value))
            for name, survey in _RESPONSES.items():
                responses.append(self._responses.line((*labels, window, survey), kpis[name] or 0))
            enps = kpis["employee_nps_score"]
            if enps is not None:
                employee_nps.append(self._employee_nps.line((r.queue, window), enps))
            for kpi, met in r.targets_met(window).items():
                target_met.append(self._target_met.line((*labels, window, kpi), 1.0 if met else 0.0))
        return [
            *("".join(lines) for lines in windowed),
            "".join(responses),
            "".join(employee_nps),
            self._waiting.line(labels, r.waiting.contacts_waiting),
            self._oldest.line(labels, r.waiting.oldest_waiting_seconds),
            self._threshold.line(labels, r.targets.wait_alert_seconds),
            self._sl_target.line(labels, r.targets.service_level_target),
            "".join(self._target.line((*labels, kpi), value) for kpi, value in r.targets.kpis.items()),
            "".join(target_met),
            *(
                "" if value is None else family.line(labels, value)
                for family, value in (
                    (self._required, r.staffing.agents_required),
                    (self._predicted, r.staffing.predicted_service_level),
                    (self._expected_wait, r.staffing.expected_wait_seconds),
                )
            ),
        ]


def _unchanged(before: QueueReport, now: QueueReport) -> bool:
    # Window KPIs reused by the cache are the same object; comparing them by value would cost
    # about as much as writing them out.
    return (
        before.windows is now.windows
        and before.waiting == now.waiting
        and before.targets == now.targets
        and before.staffing == now.staffing
    )
