"""HTTP views on the worker's web server: /metrics, /api/kpis, /wallboard and /healthz."""

from __future__ import annotations

import hashlib
import json
import re
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from stream.kpi.report import PresenceReport, QueueReport, reports_to_json
from stream.serving.http_auth import BasicAuth, protected
from stream.serving.metrics import Metrics
from stream.serving.snapshot import Snapshots

#: The wallboard page: one self-contained file that polls /api/kpis.
WALLBOARD = Path(__file__).with_name("wallboard.html")
#: How many ``?queue=`` variants of /api/kpis are kept, besides the unfiltered document.
QUEUE_SNAPSHOTS = 64
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

    def reports(self, now: float | None = None, queue: str | None = None) -> list[QueueReport]: ...

    def presence_reports(self, queue: str | None = None) -> list[PresenceReport]: ...


def register_views(
    app: faust.App,
    source: ReportSource,
    exported: Metrics,
    health_problem: Callable[[], str | None],
    auth: BasicAuth | None,
    snapshot_seconds: float,
) -> None:
    guarded = protected(auth, NOSNIFF)

    # Built at most once a second by default (SPEC: live gauges refresh at least every second) rather than per
    # request, on the event loop the stages run on: a client polling in a loop costs them only the
    # serving of bytes already made.
    def exposition(_: None) -> bytes:
        return exported.exposition(source.reports(), source.presence_reports())

    def document(queue: str | None) -> bytes:
        now = source.clock()
        return json.dumps(reports_to_json(source.reports(now, queue), source.presence_reports(queue), now)).encode()

    max_age = snapshot_seconds
    metrics_body = Snapshots(exposition, size=1, max_age=max_age)
    all_queues = Snapshots(document, size=1, max_age=max_age)
    # Apart from the unfiltered one, so queue names a client invents can only evict each other.
    one_queue = Snapshots(document, size=QUEUE_SNAPSHOTS, max_age=max_age)

    @app.page("/metrics")
    @guarded
    async def metrics(self: View, request: Request) -> Response:
        # aiohttp refuses a charset in content_type=, so the full header goes in headers=.
        return self.bytes(metrics_body.get(None), headers={"Content-Type": CONTENT_TYPE_LATEST, **NOSNIFF})

    @app.page("/api/kpis")
    @guarded
    async def kpis(self: View, request: Request) -> Response:
        # ?queue=NAME: that queue's channels only (a wallboard of one team; far cheaper to build).
        queue = request.query.get("queue") or None
        return self.bytes(all_queues.get(None) if queue is None else one_queue.get(queue), headers=JSON)

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
