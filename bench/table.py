"""Print the figures of bench/results/latest.json as the Markdown table of BENCHMARKS.md.

``python -m bench.table [path]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    out = [
        ("full pipeline (worker subprocess), events/s", fmt(r.get("pipeline_eps"))),
        ("full pipeline, CPU s per 1,000 events", fmt(r.get("cpu_s_per_1000_events"), 3)),
        ("bare aiokafka consumer, JSON decode only, events/s", fmt(r.get("aiokafka_eps"))),
        ("bare Faust agent, decode only, events/s", fmt(r.get("faust_bare_eps"))),
        ("bare Faust agent, CPU s per 1,000 events", fmt(r.get("faust_bare_cpu_s_per_1000_events"), 3)),
        (
            "bare Faust agent on the pipeline's consumer (stream.faust_ext.consumer), events/s",
            fmt(r.get("faust_bare_kpi_consumer_eps")),
        ),
        ("… CPU s per 1,000 events", fmt(r.get("faust_bare_kpi_consumer_cpu_s_per_1000_events"), 3)),
        ("naive Faust agent (windowed table write per event), events/s", fmt(r.get("faust_naive_eps"))),
        ("naive Faust agent, CPU s per 1,000 events", fmt(r.get("faust_naive_cpu_s_per_1000_events"), 3)),
        ("full pipeline, two worker processes in one group, events/s", fmt(r.get("pipeline_2_workers_eps"))),
        ("… CPU s per 1,000 events (both workers)", fmt(r.get("pipeline_2_workers_cpu_s_per_1000_events"), 3)),
        ("two workers / one worker", fmt(r.get("ratio_pipeline_2_workers_1_worker"), 3)),
        ("pipeline / bare Faust", fmt(r.get("ratio_pipeline_faust_bare"), 3)),
        ("pipeline / bare Faust on the same consumer", fmt(r.get("ratio_pipeline_faust_bare_kpi_consumer"), 3)),
        ("pipeline / naive Faust", fmt(r.get("ratio_pipeline_faust_naive"), 3)),
        ("pipeline / aiokafka", fmt(r.get("ratio_pipeline_aiokafka"), 4)),
    ]
    for label, phase in (r.get("latency") or {}).items():
        if not isinstance(phase, dict):
            continue
        out.append(
            (
                f"event-to-KPI latency at {phase['achieved_rate']:,.0f} events/s (p50 / p99 / max, ms; "
                f"{phase['probes']} probes)",
                f"{fmt(phase['p50_ms'])} / {fmt(phase['p99_ms'])} / {fmt(phase['max_ms'])}",
            )
        )
        relay = phase.get("relay")
        if relay:
            out.append(
                (
                    f"… the same rate through {relay['hops']} bare aiokafka hops, the broker's share (p50 / p99 / max, "
                    f"ms; fetch wait {relay['fetch_wait_ms']} ms)",
                    f"{fmt(relay['p50_ms'])} / {fmt(relay['p99_ms'])} / {fmt(relay['max_ms'])}",
                )
            )
            out.append(("… pipeline p99 / bare hops p99", fmt(r.get(f"ratio_latency_p99_relay_{label}"), 2)))
        out.append(
            (
                f"… worker processed while loaded at {phase['achieved_rate']:,.0f}/s (events/s; sustained?)",
                f"{fmt(phase['processed_rate'])} ({fmt(phase['sustained'])})",
            )
        )
        delays = phase.get("stage_delays") or {}
        probes_path = [stage for stage in ("ingest", "contacts", "queues") if stage in delays]  # a probe's stages
        if probes_path:
            out.append(
                (
                    f"… delay of every message at {' / '.join(probes_path)} (p50 / p99, ms; the worker's histogram)",
                    " · ".join(f"{fmt(delays[s]['p50_ms'])} / {fmt(delays[s]['p99_ms'])}" for s in probes_path),
                )
            )
    memory = r.get("memory")
    if memory and "rss_mb_start" in memory:
        out.append(
            (
                f"RSS over {memory['events']:,} live events at {memory['achieved_rate']:,.0f}/s "
                f"({fmt(memory['late_total'])} late): start / middle / end / max (MB)",
                f"{memory['rss_mb_start']} / {memory['rss_mb_mid']} / {memory['rss_mb_end']} / {memory['rss_mb_max']}",
            )
        )
        out.append(("RSS growth over the second half", f"{memory['second_half_growth_pct']} %"))
    for key in ("recovery_memory", "recovery"):
        rec = r.get(key)
        if rec:
            equal = (
                f"{rec['kpis_equal_s']:.1f} s"
                if rec["kpis_equal_s"]
                else (
                    f"not equal after {rec['kpis_equal_waited_s_after_healthz']:.0f} s more "
                    f"({rec['differences_count']} values differ)"
                )
            )
            out.append(
                (
                    f"recovery after kill -9 ({rec['store']} store, {rec['contacts']:,} calls and chats, "
                    f"{rec['agents']:,} agents): /healthz OK",
                    f"{rec['healthz_s']:.1f} s"
                    if rec["healthz_s"]
                    else f"not within {rec.get('healthz_timeout_s', 240):.0f} s",
                )
            )
            out.append(("… every KPI back to its value before the kill", equal))
            out.append(
                (
                    "… today's contacts offered before the kill / produced",
                    f"{fmt(rec.get('offered_today_before_kill'))} / {fmt(rec['offered'])}",
                )
            )
    out += month_rows(r.get("month"))
    return out


def month_rows(month: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The month phase at day 8 (customers turned over) and day 30 (tickets about to)."""
    if not month or not month.get("days"):
        return []
    days = month["days"]
    last, week = days[-1], days[min(7, len(days) - 1)]
    name = (
        f"a month at default retention ({month['agents']:,} agents, {month['queues']} queues, "
        f"{month['contacts_per_day']:,} calls and chats and {month['tickets_per_day']:,} tickets a day)"
    )
    out = [
        (f"{name}: RSS on day {week['day']} / day {last['day']} (MB)", f"{week['rss_mb']} / {last['rss_mb']}"),
        (
            f"… live keys on day {last['day']}: customers / tickets / contacts",
            " / ".join(fmt(last["tables"][t]["keys"]) for t in ("customers", "tickets", "contacts")),
        ),
        (
            f"… changelog records / live keys on day {last['day']} (uncompacted, as the embedded broker keeps them)",
            fmt(
                sum(t["changelog_records"] for t in last["tables"].values())
                / max(1, sum(t["keys"] for t in last["tables"].values())),
                1,
            ),
        ),
        (
            f"… /metrics right after day {last['day']} / again; /api/kpis (ms)",
            f"{fmt(last['metrics_ms'][0], 1)} / {fmt(min(last['metrics_ms'][1:]), 1)}; {fmt(last['kpis_ms'][0], 1)}",
        ),
        (
            f"… longest event-loop stall processing day {last['day']} from a backlog (ms); "
            "stalls over 100 ms while idle and scraped",
            f"{fmt(last['longest_stall_ms'])}; {fmt(last['idle_stalls_over_100ms'])}",
        ),
    ]
    fit = month.get("rss_fit")
    if fit:
        out.append(
            (
                "… RSS fitted as base + bytes per kept customer + bytes per kept ticket",
                f"{fit['base_mb']} MB + {fmt(fit['bytes_per_customer'])} B + {fmt(fit['bytes_per_ticket'])} B",
            )
        )
    for label, seconds in month.get("recovery_s", {}).items():
        equal = month["recovery_kpis_equal"][label]
        out.append(
            (
                f"… recovery after kill -9 on day {last['day']} ({label.replace('_', ' ')}), to identical KPIs",
                f"{fmt(seconds, 1)} s" if equal else "KPIs not identical",
            )
        )
    return out


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("results") / "latest.json"
    result = json.loads(path.read_text())
    print("| figure | value |\n| --- | ---: |")
    for name, value in rows(result):
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
