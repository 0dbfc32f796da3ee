"""The dashboard's layout for a centre of 20-50 queues, checked on its JSON without Grafana: target
lines dashed, and the queues filtered by group. That each query returns data from a real Prometheus
is tests/integration/test_dashboard.py's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "contact-centre.json"
#: Series a panel draws as a queue's target or threshold (kpi_target, not kpi_target_met).
TARGET = re.compile(r"contact_centre_(service_level_target_ratio|kpi_target|wait_threshold_seconds)\b")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


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
