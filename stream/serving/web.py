"""HTTP views on the worker's web server: /metrics, /api/kpis, /wallboard and /healthz."""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from stream.kpi.aggregators import KPI_NAMES
from stream.kpi.report import PresenceReport, QueueReport, reports_to_json
from stream.serving.http_auth import BasicAuth, protected
from stream.serving.kpis_api import Body, KpiQuery, QueryError, ask_workers, finished, merged, narrowed, parse_query
from stream.serving.metrics import Metrics
from stream.serving.snapshot import AsyncSnapshots, Snapshots

#: The wallboard page: one self-contained file that polls /api/kpis.
WALLBOARD = Path(__file__).with_name("wallboard.html")
#: How many variants of /api/kpis (queues, window, KPIs asked for) are kept.
QUERY_SNAPSHOTS = 64
#: On every response: browsers take the declared type, never one sniffed from the body.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
JSON = {"Content-Type": "application/json; charset=utf-8", **NOSNIFF}


def inline_sources(page: str, tag: str) -> str:
    """CSP sources that allow exactly the inline ``<tag>`` elements of ``page``, by their SHA-256."""
    bodies = re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", page, re.DOTALL)
    return " ".join(f"'sha256-{b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in bodies)


def wallboard_policy(page: str) -> str:
    """The wallboard's Content-Security-Policy: its own inline script and style, fetches from its
    own origin, and nothing else (no other script, frame, form target or embedding page)."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {inline_sources(page, 'script')}",
            f"style-src {inline_sources(page, 'style')}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


class ReportSource(Protocol):
    """Reports of the queues this worker owns, and its clock."""

    clock: Callable[[], float]

    def reports(self, now: float | None = None, queues: Collection[str] | None = None) -> list[QueueReport]: ...

    def presence_reports(
        self, queues: Collection[str] | None = None, now: float | None = None
    ) -> list[PresenceReport]: ...

    def queue_agents(self, queues: Collection[str], now: float | None = None) -> list[dict[str, Any]]: ...

    def agents_distinct(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class ViewSettings:
    auth: BasicAuth | None
    #: /metrics and /api/kpis are rebuilt at most this often.
    snapshot_seconds: float
    #: How long /api/kpis waits for another worker's queues.
    peer_timeout_seconds: float
    #: The centre's time zone, its windows and its groups of queues, for the wallboard.
    timezone: str
    windows: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]


def register_views(
    app: faust.App,
    source: ReportSource,
    exported: Metrics,
    health_problem: Callable[[], str | None],
    peers: Callable[[], Sequence[str]],
    settings: ViewSettings,
) -> None:
    guarded = protected(settings.auth, NOSNIFF)
    max_age = settings.snapshot_seconds
    context = {"timezone": settings.timezone, "windows": list(settings.windows), "groups": dict(settings.groups)}
    peer_headers = settings.auth.header() if settings.auth is not None else {}

    # Built at most once a second by default (SPEC: live gauges refresh at least every second) rather than per
    # request, on the event loop the stages run on: a client polling in a loop costs them only the
    # serving of bytes already made.
    def exposition(_: None) -> bytes:
        return exported.exposition(source.reports(), source.presence_reports(), source.agents_distinct())

    def own_queues(query: KpiQuery) -> tuple[dict[str, Any], Body]:
        now = source.clock()
        reports, presence = source.reports(now, query.queues), source.presence_reports(query.queues, now)
        document = narrowed(reports_to_json(reports, presence, now), query)
        if query.queues is not None:  # the agents by name, for a queue or a group asked for
            document["queue_agents"] = source.queue_agents(query.queues, now)
        scope = "local" if query.local else "centre"  # the only worker, when not asked for its own part
        return document, Body.of(finished(document, scope=scope, missing=[], context=context))

    async def every_queue(query: KpiQuery) -> Body:
        own, _ = local.get(replace(query, local=True))
        others, missing = await ask_workers(peers(), query, settings.peer_timeout_seconds, peer_headers)
        return Body.of(finished(merged(own, others), scope="centre", missing=missing, context=context))

    metrics_body = Snapshots(exposition, size=1, max_age=max_age)
    # Queries a client invents can only evict each other's answers.
    local = Snapshots(own_queues, size=QUERY_SNAPSHOTS, max_age=max_age)
    centre = AsyncSnapshots(every_queue, size=QUERY_SNAPSHOTS, max_age=max_age)

    @app.page("/metrics")
    @guarded
    async def metrics(self: View, request: Request) -> Response:
        # aiohttp refuses a charset in content_type=, so the full header goes in headers=.
        return self.bytes(metrics_body.get(None), headers={"Content-Type": CONTENT_TYPE_LATEST, **NOSNIFF})

    @app.page("/api/kpis")
    @guarded
    async def kpis(self: View, request: Request) -> Response:
        try:
            query = parse_query(request.query, settings.groups, settings.windows, KPI_NAMES)
        except QueryError as error:
            return self.json({"error": str(error)}, status=400, headers=NOSNIFF)
        body = local.get(query)[1] if query.local or not peers() else await centre.get(query)
        headers = {**JSON, "ETag": body.etag, "Cache-Control": "no-cache"}
        if body.matches(request.headers.get("If-None-Match")):
            return self.bytes(b"", status=304, headers=headers)
        return self.bytes(body.data, headers=headers)

    wallboard_page = WALLBOARD.read_bytes()
    wallboard_headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-cache",
        "Content-Security-Policy": wallboard_policy(wallboard_page.decode()),
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
        **NOSNIFF,
    }

    @app.page("/wallboard")
    @guarded
    async def wallboard(self: View, request: Request) -> Response:
        return self.bytes(wallboard_page, headers=wallboard_headers)

    # Live and open: orchestrators probe it without credentials, and it tells nothing about the data.
    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        problem = health_problem()
        if problem is None:
            return self.json({"status": "ok"}, headers=NOSNIFF)
        return self.json({"status": "unavailable", "reason": problem}, status=503, headers=NOSNIFF)
