"""The dashboard's layout for a centre of 20-50 queues, checked on its JSON without Grafana: the
queue table first and worst first, coloured against each queue's own target, target lines dashed,
the Service row drawn from the recording rules, and the queues filtered by group. That each query
returns data from a real Prometheus is tests/integration/test_dashboard.py's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "contact-centre.json"
#: Series a panel draws as a queue's target or threshold (kpi_target, not kpi_target_met).
TARGET = re.compile(r"contact_centre_(service_level_target_ratio|kpi_target|wait_threshold_seconds)\b")
SERVICE_LEVEL_GAP = re.compile(
    r"contact_centre_service_level_ratio\{.*\}\) - on \(queue, channel\) .*contact_centre_service_level_target_ratio"
)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def table(dashboard: dict[str, Any]) -> dict[str, Any]:
    return dashboard["panels"][0]


def row_panels(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """The panels from the row called ``title`` to the next row."""
    panels = dashboard["panels"]
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == title) + 1
    end = next((i for i, p in enumerate(panels[start:], start) if p["type"] == "row"), len(panels))
    return panels[start:end]


def gap_column(table: dict[str, Any]) -> dict[str, Any]:
    """The query of the shown gap: service level - target."""
    [gap] = [t for t in table["targets"] if SERVICE_LEVEL_GAP.search(t["expr"]) and " or " not in t["expr"]]
    return gap


def column_override(table: dict[str, Any], ref_id: str) -> dict[str, Any]:
    """The properties of the override of query ``ref_id``'s column (Grafana names it "Value #<refId>")."""
    [override] = [
        o for o in table["fieldConfig"]["overrides"] if o["matcher"] == {"id": "byName", "options": f"Value #{ref_id}"}
    ]
    return {p["id"]: p["value"] for p in override["properties"]}


def test_the_queue_table_is_first_at_the_top(table: dict[str, Any]) -> None:
    assert table["type"] == "table"
    assert table["gridPos"]["x"] == table["gridPos"]["y"] == 0 and table["gridPos"]["w"] == 24
    for target in table["targets"]:
        # Instant queries as tables, merged into one row per queue and channel.
        assert (target["instant"], target["format"]) == (True, "table"), target["refId"]
    queried = " ".join(t["expr"] for t in table["targets"])
    for metric in (
        "contacts_waiting",
        "oldest_waiting_seconds",
        "service_level_ratio",
        "service_level_target_ratio",
        "abandon_ratio",
        "average_wait_seconds",
        'agents{queue=~"$queue", state="available"}',
    ):
        assert f"contact_centre_{metric}" in queried, metric


def test_the_queue_table_sorts_by_the_service_level_gap_worst_first(table: dict[str, Any]) -> None:
    transformations = [t["id"] for t in table["transformations"]]
    assert transformations[0] == "merge"
    sort = next(t["options"]["sort"] for t in table["transformations"] if t["id"] == "sortBy")
    assert transformations.index("sortBy") < transformations.index("organize")  # by the query's own column name
    [key] = sort
    assert key["desc"] is False  # ascending: the most negative gap, the worst queue, first
    [by] = [t for t in table["targets"] if f"Value #{t['refId']}" == key["field"]]
    assert SERVICE_LEVEL_GAP.search(by["expr"]), by["expr"]
    # The sort key, hidden, is the gap shown beside it, or 0 for a queue with no service level in the
    # window (Grafana would sort a missing value anywhere).
    assert by["expr"].startswith(f"({gap_column(table)['expr']}) or 0 * "), by["expr"]
    organize = next(t["options"] for t in table["transformations"] if t["id"] == "organize")
    assert organize["excludeByName"][key["field"]] is True
    assert f"Value #{gap_column(table)['refId']}" in organize["renameByName"]


def test_the_gap_and_target_met_columns_are_coloured_by_thresholds(table: dict[str, Any]) -> None:
    def coloured(properties: dict[str, Any]) -> list[tuple[str, float | None]]:
        assert properties["custom.cellOptions"]["type"] in ("color-background", "color-text")
        assert properties["color"] == {"mode": "thresholds"}
        return [(step["color"], step["value"]) for step in properties["thresholds"]["steps"]]

    assert coloured(column_override(table, gap_column(table)["refId"])) == [("red", None), ("green", 0)]
    met = [t for t in table["targets"] if "contact_centre_kpi_target_met" in t["expr"]]
    kpis = {m for t in met for m in re.findall(r'kpi="(\w+)"', t["expr"])}
    assert {"abandon_ratio", "average_wait_seconds"} <= kpis
    for target in met:
        steps = coloured(column_override(table, target["refId"]))
        if "kpi=" in target["expr"]:  # 1 met, 0 missed
            assert steps == [("red", None), ("green", 1)], target["refId"]
        else:  # the number of targets missed
            assert steps == [("green", None), ("red", 1)], target["refId"]
    assert "static" in table["description"]  # why the colours come from queries


def test_every_timeseries_draws_its_targets_dashed(dashboard: dict[str, Any]) -> None:
    drawn = []
    for panel in dashboard["panels"]:
        if panel["type"] != "timeseries":
            continue
        overrides = {
            o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["id"] == "byFrameRefID"
        }
        for target in panel["targets"]:
            if not TARGET.search(target["expr"]):
                continue
            style = overrides.get(target["refId"])
            assert style is not None, (panel["title"], target["refId"])
            assert style["custom.lineStyle"]["fill"] == "dash", panel["title"]
            assert style["custom.fillOpacity"] == 0, panel["title"]
            drawn.append(target["expr"])
    for kpi in ("service_level_target_ratio", 'kpi="average_wait_seconds"', 'kpi="abandon_ratio"'):
        assert any(kpi in expr for expr in drawn), kpi


def test_the_service_row_shows_the_centre_and_the_groups_from_the_recording_rules(dashboard: dict[str, Any]) -> None:
    records = {
        rule["record"]
        for group in yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    panels = {p["title"]: p for p in row_panels(dashboard, "Service")}
    assert {"Centre service level", "Service level by group"} <= set(panels)
    for title, panel in panels.items():
        assert panel["type"] == "timeseries"
        for target in panel["targets"]:
            [series] = re.findall(r"^(\w*:\w+:\w+)\{", target["expr"])
            assert series in records, (title, series)
            if series.startswith("group_window:"):
                assert 'group=~"$group"' in target["expr"], title
    [centre] = panels["Centre service level"]["targets"]
    assert centre["expr"] == 'window:contact_centre_service_level:ratio{window="$window"}'
    [by_group] = panels["Service level by group"]["targets"]
    assert by_group["expr"].startswith("group_window:contact_centre_service_level:ratio{")
    # The queues one by one stay, in a row of their own, filtered by the queue variable.
    per_queue = row_panels(dashboard, "Service per queue")
    assert "Service level" in {p["title"] for p in per_queue}
    assert all('queue=~"$queue"' in t["expr"] for p in per_queue for t in p["targets"])


def test_the_queue_variable_lists_the_queues_of_the_chosen_groups(dashboard: dict[str, Any]) -> None:
    variables = dashboard["templating"]["list"]
    names = [v["name"] for v in variables]
    group, queue = variables[names.index("group")], variables[names.index("queue")]
    assert names.index("group") < names.index("queue")
    assert group["definition"] == "label_values(contact_centre_queue_group, group)"
    assert group["multi"] and group["includeAll"]
    # All matches the empty label too: the wait threshold's series, so queues in no group are listed.
    assert re.fullmatch(group["allValue"], "")
    assert 'group=~"$group"' in queue["definition"] and "contact_centre_wait_threshold_seconds" in queue["definition"]
    assert queue["query"]["query"] == queue["definition"]
    # No custom All value: All is the queues listed for the chosen groups, not every queue.
    assert "allValue" not in queue


def test_panels_have_their_own_ids_and_places(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24, panel["title"]
        for y in range(place["y"], place["y"] + place["h"]):
            for x in range(place["x"], place["x"] + place["w"]):
                assert (x, y) not in cells, (panel["title"], cells.get((x, y)))
                cells[x, y] = panel["title"]
