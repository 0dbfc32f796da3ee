"""Sharing the machine between the two pytest-xdist processes of ``make test`` (``-n 2 --dist loadgroup``).

The tests that run several workers through large inputs are in one xdist group, ``heavy``, so
they run one after another in one process, while the other process runs the rest. Two marks
narrow what may run beside them further:

- ``machine("alone")``: nothing marked ``machine("busy")`` runs at the same time (the other
  process waits for it, or it waits for them);
- ``machine("busy")``: a single worker through a large input, which must not slow an ``alone``
  test down.

Outside xdist (a plain ``pytest``, one test at a time) the marks change nothing.

pytest 9.2 stopped xdist 3.8 from grouping (xdist's loadgroup rewrites node ids, which 9.2 builds
differently: pytest-xdist#1386), so the test extra holds pytest below 9.2, and a run whose groups
are not applied stops here rather than running heavy tests side by side.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_LOCKS = {"alone": fcntl.LOCK_EX, "busy": fcntl.LOCK_SH}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set in xdist's workers under --dist loadgroup
        return
    ungrouped = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if ungrouped:
        raise pytest.UsageError(
            f"--dist loadgroup did not group {ungrouped[0]} and {len(ungrouped) - 1} more: "
            "this pytest-xdist does not work with this pytest"
        )


@pytest.fixture(autouse=True)
def _machine_share(request: pytest.FixtureRequest) -> Iterator[None]:
    mark = request.node.get_closest_marker("machine")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if mark is None or run is None:
        yield
        return
    share = mark.args[0]
    if share not in _LOCKS:
        raise ValueError(f"machine({share!r}): 'alone' or 'busy'")
    # Both processes of one run open the same file: a shared lock for busy tests, an exclusive one
    # for a test that runs alone; the lock goes with the file when the test ends.
    with (Path(tempfile.gettempdir()) / f"kpi-tests-{run}.lock").open("a") as lock:
        fcntl.flock(lock, _LOCKS[share])
        yield
