"""/api/kpis of a running worker: its documented shape (docs/api/kpis.schema.json), the query
parameters, the entity tag and the errors a wrong address gets."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from kafka import KafkaProducer

from tests.integration.conftest import Worker, wait_for
from tests.integration.events import make_event, produce
from tests.unit.serving.test_kpis_schema import validate

pytestmark = pytest.mark.integration


def answer(worker: Worker, query: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(worker.base_url + "/api/kpis" + query, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def queue(worker: Worker, producer: KafkaProducer) -> str:
    """A queue of this module's own with one answered call, counted by the worker."""
    name = f"api-{int(time.time() * 1000)}"
    now = time.time()
    events = (("contact.queued", now - 30, {"queue": name}), ("contact.answered", now - 20, {"agent_id": "a-1"}))
    for kind, ts, fields in events:
        produce(producer, worker.topics["calls"], make_event(kind, f"{name}-1", ts, **fields), f"{name}-1".encode())
    producer.flush()

    def counted() -> bool:
        status, _, body = answer(worker, f"?queue={name}")
        queues = json.loads(body)["queues"] if status == 200 else []
        return any(q["windows"]["15m"]["kpis"]["contacts_answered"] for q in queues)

    wait_for(counted, timeout=60)
    return name


@pytest.mark.parametrize("query", ["", "?local=1", "?window=1h", "?fields=service_level_ratio,contacts_offered"])
def test_answers_follow_the_documented_schema(worker: Worker, queue: str, query: str) -> None:
    status, headers, body = answer(worker, query)
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    document: dict[str, Any] = json.loads(body)
    validate(document)
    assert document["scope"] == ("local" if "local" in query else "centre")
    assert document["partial"] is False and document["missing"] == []  # the only worker of its group
    assert document["timezone"] == "UTC" and document["windows"] == ["15m", "1h", "today"]


def test_a_window_and_kpis_asked_for_are_all_that_is_sent(worker: Worker, queue: str) -> None:
    _, _, whole = answer(worker, f"?queue={queue}")
    _, _, narrow = answer(worker, f"?queue={queue}&window=15m&fields=contacts_answered,service_level_ratio")
    [entry] = json.loads(narrow)["queues"]
    assert entry["queue"] == queue
    assert entry["windows"] == {
        "15m": {
            "kpis": {"contacts_answered": 1, "service_level_ratio": 1.0},
            "targets_met": {"service_level_ratio": True},
        }
    }
    assert json.loads(narrow)["centre"]["windows"]["15m"] == {"contacts_answered": 1}
    assert len(narrow) < len(whole) / 2


def test_an_unchanged_answer_costs_a_304(worker: Worker, queue: str) -> None:
    query = "?queue=no-such-queue"  # nothing there changes between two requests
    status, headers, _ = answer(worker, query)
    etag = headers["ETag"]
    assert status == 200 and etag.startswith('W/"')
    status, headers, body = answer(worker, query, **{"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, b"", etag)
    _, other, _ = answer(worker, f"?queue={queue}")
    assert other["ETag"] != etag


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?window=30d", "unknown window '30d'; windows (KPI_WINDOWS): 15m, 1h, today"),
        ("?group=north", "unknown group 'north'; groups: none is configured (KPI_CONFIG 'groups')"),
        ("?fields=nonsense", "unknown KPI 'nonsense' in fields"),
    ],
)
def test_a_query_that_cannot_be_answered_is_a_400_saying_why(worker: Worker, query: str, error: str) -> None:
    status, _, body = answer(worker, query)
    assert (status, json.loads(body)) == (400, {"error": error})
