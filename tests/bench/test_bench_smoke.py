"""The benchmark runs end to end on a tiny input and writes every figure.

Not a performance test: it checks that ``python -m bench.run --quick`` completes on the embedded
broker and that bench/results-style JSON has the keys BENCHMARKS.md reads, each a positive number.
No threshold is asserted (the machine may be busy with other tests).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = (
    "pipeline_eps",
    "faust_bare_eps",
    "faust_naive_eps",
    "aiokafka_eps",
    "cpu_s_per_1000_events",
    "ratio_pipeline_faust_bare",
    "ratio_pipeline_faust_naive",
    "faust_bare_kpi_consumer_eps",
    "ratio_pipeline_faust_bare_kpi_consumer",
    "pipeline_2_workers_eps",
    "ratio_pipeline_2_workers_1_worker",
    "latency_p50_ms_500",
    "latency_p99_ms_500",
    "latency_max_ms_500",
    "latency_p50_ms_2000",
    "latency_p99_ms_2000",
    "latency_max_ms_2000",
    "relay_latency_p99_ms_500",
    "ratio_latency_p99_relay_500",
    "relay_latency_p99_ms_2000",
    "recovery_s",
    "recovery_healthz_s",
)


def run_bench(*args: str, timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``python -m bench.run ARGS``: its exit status and the end of its output. Run in a process group
    of its own, so a run past ``timeout`` is stopped with the workers and broker it started (killing
    only the benchmark would leave them running, and slow every test after)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"bench.run {' '.join(args)} did not finish within {timeout:.0f} s:\n{output[-3000:]}")
    return process.returncode, output[-3000:]


@pytest.mark.integration
@pytest.mark.xdist_group("heavy")  # several workers and references one after another (tests/conftest.py)
@pytest.mark.timeout(400)
def test_quick_benchmark_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    status, output = run_bench(
        *("--quick", "--no-profile", "--memory-events", "2000", "--recovery-contacts", "200", "--out", str(out)),
        timeout=380,
    )
    assert status == 0, output
    result = json.loads(out.read_text())
    for key in KEYS:
        value = result.get(key)
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, f"{key}: {value!r}"
    delays = result["latency"]["500"]["stage_delays"]  # the worker's own histogram, per stage
    assert {"ingest", "contacts", "queues"} <= set(delays), delays
    assert all(d["messages"] > 0 and 0 <= d["p50_ms"] <= d["p99_ms"] for d in delays.values()), delays
    samples = result["rss_mb_samples"]
    assert samples and all(isinstance(v, (int, float)) and v > 0 for v in samples)
    assert result["recovery_kpis_equal"] is True  # the restarted worker showed what it showed before the kill
    assert result["machine"]["nproc"] > 0 and result["machine"]["faust-streaming"]


@pytest.mark.integration
@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(300)
def test_quick_month_records_every_day_and_recovers_to_the_same_kpis(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    status, output = run_bench(
        "--quick",
        "--only",
        "month",
        "--month-days",
        "2",
        "--out",
        str(out),
        # Each day waits for the worker's commits, and each restart for one more.
        env={**os.environ, "KPI_COMMIT_INTERVAL_SECONDS": "2"},
        timeout=280,
    )
    assert status == 0, output
    month = json.loads(out.read_text())["month"]
    assert month["simulated_days"] == 2 and month["events"] > 0
    for series in ("rss_mb_by_day", "metrics_build_ms_by_day", "kpis_build_ms_by_day", "events_per_s_by_day"):
        assert len(month[series]) == 2 and all(value > 0 for value in month[series]), (series, month[series])
    keys = month["state_keys_by_day"]
    assert keys[1]["customers"] > keys[0]["customers"] > 0  # a second day of customers within the lookback
    assert all(day["queues"] > 0 and day["tickets"] > 0 for day in keys)
    equal = month["recovery_kpis_equal"]
    assert set(equal) == {"memory", "rocksdb_from_changelog", "rocksdb"}
    # Recovery into an empty RocksDB store sometimes misses a key's state (a known defect, measured
    # and reported by the phase, not yet found); the other two must give the KPIs back exactly.
    assert equal["memory"] and equal["rocksdb"], month["differences"]
    assert (tmp_path / "month.png").stat().st_size > 10_000
