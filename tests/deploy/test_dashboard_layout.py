"""The dashboard's layout for a centre of 20-50 queues, checked on its JSON without Grafana: the
queues filtered by group. That each query returns data from a real Prometheus is
tests/integration/test_dashboard.py's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "contact-centre.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


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
