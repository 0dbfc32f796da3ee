"""HTTP views on the worker's web server: /metrics, /api/kpis, /wallboard and /healthz."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from stream.report import reports_to_json

if TYPE_CHECKING:
    from stream.app import Pipeline

#: The wallboard page: one self-contained file that polls /api/kpis.
WALLBOARD = Path(__file__).with_name("wallboard.html")


def register_views(p: Pipeline) -> None:
    app = p.app

    @app.page("/metrics")
    async def metrics(self: View, request: Request) -> Response:
        body = p.metrics.exposition(p.reports(), p.presence_reports())
        # aiohttp refuses a charset in content_type=, so the full header goes in headers=.
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/api/kpis")
    async def kpis(self: View, request: Request) -> Response:
        # ?queue=NAME: that queue's channels only (a wallboard of one team; far cheaper to build).
        queue = request.query.get("queue") or None
        now = p.clock()
        return self.json(reports_to_json(p.reports(now, queue), p.presence_reports(queue), now))

    wallboard_page = WALLBOARD.read_bytes()

    @app.page("/wallboard")
    async def wallboard(self: View, request: Request) -> Response:
        return self.bytes(wallboard_page, headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"})

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        problem = p.health_problem()
        if problem is None:
            return self.json({"status": "ok"})
        return self.json({"status": "unavailable", "reason": problem}, status=503)
