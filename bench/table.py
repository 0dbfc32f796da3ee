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
