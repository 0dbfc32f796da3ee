"""Replay a generated day that spans the end of summer time in Europe/Warsaw (25 October 2026,
a 25-hour day) into a worker on event time, and compare every KPI with values computed here,
independently, from the same file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stream.tools.embedded_broker import EmbeddedBroker
from stream.tools.simulator import Simulation, SimulationConfig
from tests.integration.conftest import Worker, running_worker, wait_for

pytestmark = pytest.mark.integration

WARSAW = ZoneInfo("Europe/Warsaw")
#: 00:00 CEST (UTC+2) on 25 October 2026; the next local midnight is 00:00 CET (UTC+1), 25 h later.
DAY_START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC).timestamp()
DAY_END = datetime(2026, 10, 25, 23, 0, tzinfo=UTC).timestamp()
SERVICE_LEVEL_SECONDS, SHORT_ABANDON_SECONDS, LOOKBACK = 20.0, 5.0, 7 * 86400.0
WINDOWS = ("15m", "1h", "today")


def ts_of(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, dict[str, Any]]]]:
    """A simulated day as a JSON-lines file (with two invalid lines), and its valid events."""
    config = SimulationConfig(
        rate=0.02,
        queues=("dst-a", "dst-b"),
        agents=6,
        ticket_rate=0.004,
        survey_share=0.5,
        esat_share=0.2,
        customers=300,
    )
    simulation = Simulation(config, start=DAY_START, seed=20261025)
    events = []
    now = DAY_START
    while now < DAY_END - 120:
        now += 60
        events += simulation.advance(now)
    path = tmp_path_factory.mktemp("replay") / "day.jsonl"
    with path.open("w") as out:
        for n, (source, event) in enumerate(events):
            line = {**event, "channel": source} if source in ("voice", "chat") else event
            out.write(json.dumps(line) + "\n")
            if n in (100, 5000):
                out.write('{"event_id": "broken", "type": "contact.queued"\n')
    return path, events


def test_the_day_has_25_hours() -> None:
    assert datetime(2026, 10, 25, tzinfo=WARSAW).timestamp() == DAY_START
    assert datetime(2026, 10, 26, tzinfo=WARSAW).timestamp() == DAY_END
    assert DAY_END - DAY_START == 25 * 3600


# --------------------------------------------------------------------------- the expected values


def expected_kpis(events: list[tuple[str, dict[str, Any]]]) -> tuple[float, dict[tuple[str, str], dict[str, Any]]]:
    """Every KPI per (queue, channel), straight from SPEC §4, at now = the latest event time."""
    now = max(ts_of(e) for _, e in events)
    oldest = {"15m": math.ceil((now - 900) / 60) * 60, "1h": math.ceil((now - 3600) / 240) * 240, "today": DAY_START}
    contacts: dict[str, dict[str, Any]] = defaultdict(dict)
    tickets: dict[str, dict[str, Any]] = defaultdict(lambda: {"replies": [], "solves": [], "reopens": []})
    facts: list[tuple[str, str, str, float, float]] = []  # queue, channel, kind, ts, value
    latest_state: dict[str, dict[str, Any]] = {}
    for source, e in events:
        kind, ts = e["type"], ts_of(e)
        if source in ("voice", "chat"):
            contact = contacts[e["contact_id"]]
            contact["channel"] = source
            contact[kind.removeprefix("contact.")] = ts
            contact.update({k: e[k] for k in ("queue", "customer_id", "resolved") if k in e})
        elif source == "ticket":
            ticket = tickets[e["contact_id"]]
            if kind == "ticket.created":
                ticket.update(created=ts, queue=e["queue"], customer_id=e.get("customer_id"))
            elif kind == "ticket.replied" and e.get("public", True):
                ticket["replies"].append(ts)
            elif kind in ("ticket.solved", "ticket.reopened"):
                ticket["solves" if kind == "ticket.solved" else "reopens"].append(ts)
        elif source == "survey":
            channel = "unknown" if kind == "survey.esat" else e.get("channel") or "unknown"
            facts.append((e["queue"], channel, kind.removeprefix("survey."), ts, float(e["score"])))
        else:
            known = latest_state.get(e["agent_id"])
            if known is None or ts >= ts_of(known):
                latest_state[e["agent_id"]] = e
    starts = defaultdict(list)  # customer -> start times of all their contacts
    for c in contacts.values():
        if c.get("customer_id"):
            starts[c["customer_id"]].append(c["queued"])
    for t in tickets.values():
        if t.get("customer_id"):
            starts[t["customer_id"]].append(t["created"])

    def repeat(customer: str | None, start: float) -> bool:
        return customer is not None and any(start - LOOKBACK <= other < start for other in starts[customer])

    for c in contacts.values():
        q, ch = c["queue"], c["channel"]
        facts.append((q, ch, "offered", c["queued"], 0.0))
        if "answered" in c:
            facts.append((q, ch, "answered", c["answered"], c["answered"] - c["queued"]))
            if "wrapped" in c:
                facts.append((q, ch, "handled", c["wrapped"], c["wrapped"] - c["answered"]))
        elif "abandoned" in c:
            facts.append((q, ch, "abandoned", c["abandoned"], c["abandoned"] - c["queued"]))
        customer = c.get("customer_id")
        if "wrapped" in c:
            first = c.get("resolved") and not repeat(customer, c["queued"])
            facts.append((q, ch, "fcr", c["wrapped"], 1.0 if first else 0.0))
        if customer:
            facts.append((q, ch, "repeat", c["queued"], 1.0 if repeat(customer, c["queued"]) else 0.0))
    for t in tickets.values():
        q = t["queue"]
        facts.append((q, "ticket", "offered", t["created"], 0.0))
        if t["replies"]:
            facts.append((q, "ticket", "first_response", min(t["replies"]), min(t["replies"]) - t["created"]))
        last_reopen = max(t["reopens"], default=None)
        solve = min((s for s in t["solves"] if last_reopen is None or s > last_reopen), default=None)
        if solve is not None:
            facts.append((q, "ticket", "resolution", solve, solve - t["created"]))
        facts += [(q, "ticket", "reopened", r, 0.0) for r in t["reopens"]]
        if t.get("customer_id"):
            facts.append((q, "ticket", "repeat", t["created"], 1.0 if repeat(t["customer_id"], t["created"]) else 0.0))

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    def net(values: list[float], low: float, high: float) -> float | None:
        return 100 * (sum(v >= high for v in values) - sum(v <= low for v in values)) / len(values) if values else None

    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for key in {(q, ch) for q, ch, *_ in facts}:
        per_window = {}
        for window in WINDOWS:
            of: dict[str, list[float]] = defaultdict(list)
            for q, ch, kind, ts, value in facts:
                if (q, ch) == key and oldest[window] <= ts <= now:
                    of[kind].append(value)
            answered, abandoned = of["answered"], of["abandoned"]
            short = [w for w in abandoned if w < SHORT_ABANDON_SECONDS]
            completed = len(answered) + len(abandoned) - len(short)
            per_window[window] = {
                "contacts_offered": len(of["offered"]),
                "contacts_answered": len(answered),
                "contacts_abandoned": len(abandoned),
                "contacts_completed": completed,
                "average_wait_seconds": mean(answered),
                "max_wait_seconds": max(answered + abandoned, default=None),
                "service_level_ratio": (
                    sum(w <= SERVICE_LEVEL_SECONDS for w in answered) / completed if completed else None
                ),
                "abandon_ratio": (len(abandoned) - len(short)) / completed if completed else None,
                "average_handle_seconds": mean(of["handled"]),
                "fcr_ratio": mean(of["fcr"]),
                "repeat_contact_ratio": mean(of["repeat"]),
                "average_first_response_seconds": mean(of["first_response"]),
                "average_resolution_seconds": mean(of["resolution"]),
                "tickets_reopened": len(of["reopened"]),
                "csat_score": mean(of["csat"]),
                "csat_satisfied_ratio": mean([1.0 if s >= 4 else 0.0 for s in of["csat"]]),
                "nps_score": net(of["nps"], 6, 9),
                "ces_score": mean(of["ces"]),
                "employee_nps_score": net(of["esat"], 6, 9),
                "csat_responses": len(of["csat"]),
                "nps_responses": len(of["nps"]),
                "ces_responses": len(of["ces"]),
                "esat_responses": len(of["esat"]),
            }
        waiting = [
            c["queued"]
            for c in contacts.values()
            if (c["queue"], c["channel"]) == key and "answered" not in c and "abandoned" not in c
        ]
        expected[key] = {
            "windows": per_window,
            "contacts_waiting": len(waiting),
            "oldest_waiting_seconds": now - min(waiting) if waiting else 0.0,
        }
    agents: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("available", "busy", "wrapup", "away", "offline"), 0)
    )
    for e in latest_state.values():
        for queue in e["queues"]:
            agents[queue][e["state"]] += 1
    expected[("agents", "")] = dict(agents)
    return now, expected


def mismatches(document: dict[str, Any], expected: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    found = []
    entries = {(q["queue"], q["channel"]): q for q in document["queues"]}
    if set(entries) != {key for key in expected if key[0] != "agents"}:
        return [f"queues {sorted(entries)} != {sorted(k for k in expected if k[0] != 'agents')}"]
    for key, entry in entries.items():
        want = expected[key]
        for live in ("contacts_waiting", "oldest_waiting_seconds"):
            if entry[live] != pytest.approx(want[live], abs=1e-6):
                found.append(f"{key} {live}: {entry[live]} != {want[live]}")
        for window in WINDOWS:
            got = entry["windows"][window]["kpis"]
            for kpi, value in want["windows"][window].items():
                ok = got[kpi] is None if value is None else got[kpi] == pytest.approx(value, rel=1e-9, abs=1e-9)
                if not ok:
                    found.append(f"{key} {window} {kpi}: {got[kpi]} != {value}")
    agents = {a["queue"]: a["states"] for a in document["agents"]}
    if agents != expected[("agents", "")]:
        found.append(f"agents {agents} != {expected[('agents', '')]}")
    return found


# --------------------------------------------------------------------------- the replay


@pytest.fixture(scope="module")
def event_time_worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    # Topics are consumed side by side at full speed, so event time on one may run hours ahead of
    # another: the contact TTL, measured in event time, must cover the file's span.
    with running_worker(
        broker,
        tmp_path_factory.mktemp("event-time-worker"),
        KPI_CLOCK="event",
        KPI_TIMEZONE="Europe/Warsaw",
        KPI_CONTACT_TTL_SECONDS="172800",
    ) as worker:
        yield worker


def test_replayed_dst_day_matches_independent_computation(
    day: tuple[Path, list[tuple[str, dict[str, Any]]]], event_time_worker: Worker
) -> None:
    path, events = day
    result = subprocess.run(
        [sys.executable, "-m", "stream", "replay", str(path)],
        env=event_time_worker.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr  # two invalid lines: reported, not sent
    assert f"{path}:102: not JSON" in result.stderr
    assert f"{path}:5003: not JSON" in result.stderr
    assert f"replayed {len(events)} events from {path}" in result.stderr
    assert "2 invalid lines not sent" in result.stderr

    now, expected = expected_kpis(events)
    assert now > DAY_END - 3600  # the last hour of the 25-hour day
    assert sum(expected[key]["windows"]["today"]["contacts_offered"] for key in expected if key[0] != "agents") > 1000
    found: list[str] = []

    def settled() -> bool:
        status, body = event_time_worker.get("/api/kpis")
        assert status == 200
        document = json.loads(body)
        found[:] = mismatches(document, expected)
        return not found and datetime.fromisoformat(document["generated_at"]).timestamp() == pytest.approx(now)

    try:
        wait_for(settled, timeout=120, interval=2)
    except BaseException:
        pytest.fail(f"{len(found)} KPIs differ, e.g.:\n" + "\n".join(found[:25]))
    metrics = event_time_worker.metrics()
    assert not any(name == "contact_centre_events_late_total" and value for (name, _), value in metrics.items())
