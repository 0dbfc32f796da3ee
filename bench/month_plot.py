"""The month phase's figures by simulated day, as one PNG (linked from BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the benchmark runs on servers

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

#: Tables drawn one by one; the rest are small and drawn together.
LARGE_TABLES = ("customers", "tickets", "contacts")


def plot_month(month: dict[str, Any], path: Path) -> None:
    days = [d["day"] for d in month["days"]]
    if not days:
        return
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    figure.suptitle(
        f"A month at default retention: {month['agents']} agents, {month['queues']} queues, "
        f"{month['contacts_per_day']} calls and chats and {month['tickets_per_day']} tickets a day "
        f"(scale {month['scale']:g} of a full day), one worker"
    )

    def by_table(key: str, table: str) -> list[float]:
        return [d["tables"][table][key] for d in month["days"]]

    def others(key: str) -> list[float]:
        return [sum(t[key] for name, t in d["tables"].items() if name not in LARGE_TABLES) for d in month["days"]]

    rss = axes[0][0]
    rss.plot(days, month["rss_mb_by_day"], marker="o", color="black")
    rss.set_title("Worker RSS (MB)")
    keys = axes[0][1]
    for table in LARGE_TABLES:
        keys.plot(days, by_table("keys", table), marker=".", label=table)
    keys.plot(days, others("keys"), marker=".", label="agents, queues, presence")
    keys.set_title("Live keys per table")
    keys.legend()
    sizes = axes[0][2]
    for table in LARGE_TABLES:
        sizes.plot(days, [b / 1e6 for b in by_table("bytes", table)], marker=".", label=f"{table} live")
    sizes.plot(days, [b / 1e6 for b in others("bytes")], marker=".", label="others live")
    total_changelog = [sum(t["changelog_bytes"] for t in d["tables"].values()) / 1e6 for d in month["days"]]
    sizes.plot(days, total_changelog, linestyle="--", color="grey", label="all changelogs, uncompacted")
    sizes.set_title("State (MB): live values and all changelog records")
    sizes.set_yscale("log")
    sizes.legend(fontsize="small")
    builds = axes[1][0]
    builds.plot(days, month["metrics_build_ms_by_day"], marker="o", label="/metrics after the day")
    builds.plot(days, month["metrics_rebuild_ms_by_day"], marker=".", label="/metrics again")
    builds.plot(days, month["kpis_build_ms_by_day"], marker="o", label="/api/kpis after the day")
    builds.set_title("Response time on an idle worker (ms)")
    builds.legend()
    stalls = axes[1][1]
    stalls.plot(days, month["max_stall_ms_by_day"], marker="o", color="darkred")
    stalls.axhline(100, linestyle=":", color="grey")
    stalls.set_title("Longest event-loop stall, processing the day (ms)")
    rate = axes[1][2]
    rate.plot(days, month["events_per_s_by_day"], marker="o", color="darkgreen")
    rate.set_title("Events/s (the day's events / time until committed)")
    for row in axes:
        for axis in row:
            axis.set_xlabel("simulated day")
            axis.grid(alpha=0.3)
            axis.set_ylim(bottom=0 if axis.get_yscale() == "linear" else None)
    figure.savefig(path, dpi=80)
    plt.close(figure)
