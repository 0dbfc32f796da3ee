"""stream.serving.kpis_api: the query parameters of /api/kpis, narrowing, merging workers' answers,
asking workers that do not answer, and the entity tag."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from aiohttp import web

from stream.kpi.aggregators import KPI_NAMES
from stream.serving.kpis_api import (
    API_VERSION,
    Body,
    KpiQuery,
    QueryError,
    ask_workers,
    finished,
    merged,
    narrowed,
    parse_query,
)

GROUPS = {"north": ("sales", "billing"), "south": ("support",)}
WINDOWS = ("15m", "1h", "today", "7d")


def entry(queue: str, channel: str = "voice", **kpis: Any) -> dict[str, Any]:
    windows = {
        w: {"kpis": {"contacts_offered": 1, **kpis}, "targets_met": {"service_level_ratio": True}}
        for w in ("15m", "1h")
    }
    return {
        "queue": queue,
        "channel": channel,
        "contacts_waiting": 1,
        "oldest_waiting_seconds": 5.0,
        "windows": windows,
    }


def document(*entries: dict[str, Any], agents: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "generated_at": "2026-11-22T10:00:00+00:00",
        "queues": list(entries),
        "agents": [{"queue": q, "states": {"available": 1}} for q in agents],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, KpiQuery()),
        ({"queue": "sales"}, KpiQuery(queues=frozenset({"sales"}))),
        ({"queue": " sales, billing ,"}, KpiQuery(queues=frozenset({"sales", "billing"}))),
        ({"group": "north"}, KpiQuery(queues=frozenset({"sales", "billing"}))),
        ({"group": "south", "queue": "vip"}, KpiQuery(queues=frozenset({"support", "vip"}))),
        ({"window": "7d"}, KpiQuery(window="7d")),
        (
            {"fields": "service_level_ratio,abandon_ratio"},
            KpiQuery(fields=frozenset({"service_level_ratio", "abandon_ratio"})),
        ),
        ({"local": "1"}, KpiQuery(local=True)),
        ({"local": "0"}, KpiQuery(local=False)),
    ],
)
def test_a_query_is_read_from_the_address(query: dict[str, str], expected: KpiQuery) -> None:
    assert parse_query(query, GROUPS, WINDOWS, KPI_NAMES) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"group": "east"}, "unknown group 'east'; groups: north, south"),
        ({"window": "30d"}, "unknown window '30d'; windows (KPI_WINDOWS): 15m, 1h, today, 7d"),
        ({"fields": "service_level_ratio,speed"}, "unknown KPI 'speed' in fields"),
    ],
)
def test_a_query_that_cannot_be_answered_says_why(query: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(query, GROUPS, WINDOWS, KPI_NAMES)
    assert str(raised.value) == message


def test_an_unknown_group_without_groups_says_where_they_come_from() -> None:
    with pytest.raises(QueryError, match=r"none is configured \(KPI_CONFIG 'groups'\)"):
        parse_query({"group": "north"}, {}, WINDOWS, KPI_NAMES)


def test_another_worker_is_asked_the_same_filters_for_its_own_queues() -> None:
    query = KpiQuery(frozenset({"b", "a"}), "1h", frozenset({"abandon_ratio"}))
    assert query.params() == {"local": "1", "queue": "a,b", "window": "1h", "fields": "abandon_ratio"}
    assert KpiQuery().params() == {"local": "1"}


def test_narrowing_keeps_only_the_window_and_kpis_asked_for() -> None:
    doc = narrowed(
        document(entry("sales", service_level_ratio=0.5)),
        KpiQuery(window="1h", fields=frozenset({"service_level_ratio"})),
    )
    assert doc["queues"][0]["windows"] == {
        "1h": {"kpis": {"service_level_ratio": 0.5}, "targets_met": {"service_level_ratio": True}}
    }
    assert narrowed(document(entry("sales")), KpiQuery(window="today"))["queues"][0]["windows"] == {}
    untouched = document(entry("sales"))
    assert narrowed(copy.deepcopy(untouched), KpiQuery()) == untouched


def test_workers_answers_merge_sorted_with_a_queue_held_twice_taken_once() -> None:
    own = document(entry("support", "chat"), entry("sales"), agents=("sales",))
    other = document(entry("billing"), entry("sales", contacts_offered=99), agents=("billing",))
    whole = merged(own, [other])
    assert [(q["queue"], q["channel"]) for q in whole["queues"]] == [
        ("billing", "voice"),
        ("sales", "voice"),
        ("support", "chat"),
    ]
    sales = next(q for q in whole["queues"] if q["queue"] == "sales")
    assert sales["windows"]["15m"]["kpis"]["contacts_offered"] == 1  # the asking worker's copy
    assert [a["queue"] for a in whole["agents"]] == ["billing", "sales"]
    assert whole["generated_at"] == own["generated_at"]


def test_the_agents_of_a_queue_asked_for_merge_by_name_and_state() -> None:
    def agent(name: str, state: str, seconds: float) -> dict[str, Any]:
        return {"agent_id": name, "state": state, "in_state_seconds": seconds, "queues": ["sales"]}

    own = {**document(entry("sales")), "queue_agents": [agent("a1", "away", 60.0), agent("a2", "busy", 30.0)]}
    other = {**document(), "queue_agents": [agent("a3", "away", 2400.0), agent("a2", "busy", 31.0)]}
    whole = merged(own, [other])
    assert [(a["agent_id"], a["state"]) for a in whole["queue_agents"]] == [
        ("a2", "busy"),
        ("a3", "away"),
        ("a1", "away"),
    ]
    assert whole["queue_agents"][0]["in_state_seconds"] == 30.0  # an agent two answers hold: the asking worker's
    assert "queue_agents" in finished(whole, scope="centre", missing=[], context={})
    assert "queue_agents" not in merged(document(entry("sales")), [other])  # not asked for: not listed


def test_the_served_document_says_its_scope_and_what_is_missing() -> None:
    missing = [{"worker": "http://w2:6066", "reason": "no answer within 1 s"}]
    served = finished(document(entry("sales")), scope="centre", missing=missing, context={"timezone": "UTC"})
    assert served["version"] == API_VERSION and served["scope"] == "centre"
    assert served["partial"] is True and served["missing"] == missing
    assert served["timezone"] == "UTC"
    assert served["centre"]["contacts_waiting"] == 1
    assert finished(document(), scope="local", missing=[], context={})["partial"] is False


def test_the_entity_tag_follows_the_kpis_not_the_time_of_the_answer() -> None:
    first = Body.of({"generated_at": "10:00:00", "queues": [1]})
    assert Body.of({"generated_at": "10:00:01", "queues": [1]}).etag == first.etag
    assert Body.of({"generated_at": "10:00:01", "queues": [2]}).etag != first.etag
    assert first.etag.startswith('W/"')
    assert first.matches(first.etag) and first.matches(f'"x", {first.etag}') and first.matches("*")
    assert first.matches(first.etag.removeprefix("W/"))
    assert not first.matches(None) and not first.matches('W/"other"')


async def test_workers_that_answer_are_merged_and_those_that_do_not_are_named(unused_tcp_port_factory: Any) -> None:
    asked: list[dict[str, str]] = []

    async def kpis(request: web.Request) -> web.Response:
        asked.append(dict(request.query))
        if request.headers.get("Authorization") != "Basic dTpw":
            return web.Response(status=401)
        return web.json_response(document(entry("billing")))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)  # past the 0.5 s the asking worker waits
        return web.json_response(document())

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    runners = []
    urls = []
    for handler in (kpis, slow, broken):
        app = web.Application()
        app.router.add_get("/api/kpis", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = unused_tcp_port_factory()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}")
    closed = f"http://127.0.0.1:{unused_tcp_port_factory()}"  # nothing listens there
    try:
        query = KpiQuery(window="15m")
        answers, missing = await ask_workers([*urls, closed], query, 0.5, {"Authorization": "Basic dTpw"})
    finally:
        for runner in runners:
            await runner.cleanup()
    assert [q["queue"] for doc in answers for q in doc["queues"]] == ["billing"]
    assert asked == [{"local": "1", "window": "15m"}]
    reasons = {m["worker"]: m["reason"] for m in missing}
    assert reasons[urls[1]] == "no answer within 0.5 s"
    assert reasons[urls[2]] == "did not answer: HTTP 500"
    assert reasons[closed].startswith("did not answer: ")
    assert len(missing) == 3
