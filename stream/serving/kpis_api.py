"""/api/kpis: what a request asks for (queues, a window, some KPIs), and one answer for the centre.

Each worker owns the queues of its partitions. Any worker answers for every queue by asking the
other workers of its group for theirs (``?local=1``) and merging, each within
KPI_PEER_TIMEOUT_SECONDS. A worker that does not answer in time is named in ``missing`` and the
answer is ``partial``: a wallboard says so, rather than show a centre with queues left out.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic_core import from_json, to_json

from stream.kpi.centre import centre_totals
from stream.kpi.presence import listing_order

#: The version of the document's shape (docs/api/kpis.schema.json); raised when a field changes meaning
#: or goes away, not when one is added.
API_VERSION = 1
#: The most KPIs one request may name in ``fields``.
MAX_FIELDS = 64


class QueryError(ValueError):
    """A query parameter that cannot be answered, phrased for the person who wrote the address."""


@dataclass(frozen=True)
class KpiQuery:
    """Which part of the document a request wants; ``None``: all of it."""

    queues: frozenset[str] | None = None
    window: str | None = None
    fields: frozenset[str] | None = None
    #: Only this worker's own queues (what workers ask each other).
    local: bool = False

    def params(self) -> dict[str, str]:
        """The query asked of another worker: the same filters, its own queues only."""
        params = {"local": "1"}
        if self.queues is not None:
            params["queue"] = ",".join(sorted(self.queues))
        if self.window is not None:
            params["window"] = self.window
        if self.fields is not None:
            params["fields"] = ",".join(sorted(self.fields))
        return params


def parse_query(
    query: Mapping[str, str], groups: Mapping[str, Sequence[str]], windows: Sequence[str], kpis: Collection[str]
) -> KpiQuery:
    """``?queue=a,b``, ``?group=name`` (both: either), ``?window=1h``, ``?fields=kpi,kpi``, ``?local=1``."""
    queues: set[str] | None = None
    if query.get("queue"):
        queues = {name.strip() for name in query["queue"].split(",") if name.strip()}
    if query.get("group"):
        group = query["group"]
        if group not in groups:
            known = ", ".join(sorted(groups)) or "none is configured (KPI_CONFIG 'groups')"
            raise QueryError(f"unknown group {group!r}; groups: {known}")
        queues = (queues or set()) | set(groups[group])
    window = query.get("window") or None
    if window is not None and window not in windows:
        raise QueryError(f"unknown window {window!r}; windows (KPI_WINDOWS): {', '.join(windows)}")
    fields: frozenset[str] | None = None
    if query.get("fields"):
        fields = frozenset(name.strip() for name in query["fields"].split(",") if name.strip())
        unknown = sorted(fields - set(kpis))
        if unknown or len(fields) > MAX_FIELDS:
            raise QueryError(f"unknown KPI {unknown[0]!r} in fields" if unknown else "too many fields")
    local = query.get("local", "") not in ("", "0", "false")
    return KpiQuery(None if queues is None else frozenset(queues), window, fields, local)


def narrowed(document: dict[str, Any], query: KpiQuery) -> dict[str, Any]:
    """``document`` (reports_to_json's) with only the window and KPIs ``query`` asks for."""
    if query.window is None and query.fields is None:
        return document
    for entry in document["queues"]:
        windows = entry["windows"]
        if query.window is not None:
            windows = {query.window: windows[query.window]} if query.window in windows else {}
        if query.fields is not None:
            windows = {
                name: {part: {k: v for k, v in values.items() if k in query.fields} for part, values in window.items()}
                for name, window in windows.items()
            }
        entry["windows"] = windows
    return document


def finished(
    document: dict[str, Any], *, scope: str, missing: Sequence[Mapping[str, str]], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The document as served: its version, scope, whether it is partial, the centre's totals."""
    return {
        "version": API_VERSION,
        "generated_at": document["generated_at"],
        "scope": scope,
        "partial": bool(missing),
        "missing": list(missing),
        **context,
        "centre": centre_totals(document["queues"]),
        "agents": document["agents"],
        **({"queue_agents": document["queue_agents"]} if "queue_agents" in document else {}),
        "queues": document["queues"],
    }


def merged(own: dict[str, Any], others: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The queues and agents of ``own`` and ``others`` (documents of workers' own queues) in one; a
    queue that two answers hold (while a rebalance moves it) is taken from the first."""
    queues: dict[tuple[str, str], Any] = {}
    agents: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    for document in (own, *others):
        for entry in document["queues"]:
            queues.setdefault((entry["queue"], entry["channel"]), entry)
        for entry in document["agents"]:
            agents.setdefault(entry["queue"], entry)
        for entry in document.get("queue_agents", ()):
            by_name.setdefault(entry["agent_id"], entry)
    document = {
        "generated_at": own["generated_at"],
        "queues": [queues[key] for key in sorted(queues)],
        "agents": [agents[key] for key in sorted(agents)],
    }
    if "queue_agents" in own:
        document["queue_agents"] = sorted(by_name.values(), key=listing_order)
    return document


async def ask_workers(
    urls: Sequence[str], query: KpiQuery, timeout: float, headers: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The documents of ``urls``' own queues, and the workers that did not answer in time, with why."""
    if not urls:
        return [], []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), headers=dict(headers)) as session:
        answers = await asyncio.gather(*(_ask(session, url, query) for url in urls), return_exceptions=True)
    documents, missing = [], []
    for url, answer in zip(urls, answers, strict=True):
        if isinstance(answer, BaseException):
            missing.append({"worker": url, "reason": _reason(answer, timeout)})
        else:
            documents.append(answer)
    return documents, missing


async def _ask(session: aiohttp.ClientSession, url: str, query: KpiQuery) -> dict[str, Any]:
    async with session.get(url.rstrip("/") + "/api/kpis", params=query.params()) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        document: dict[str, Any] = from_json(await response.read())
        return document


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return f"no answer within {timeout:g} s"
    return f"did not answer: {error}" if str(error) else f"did not answer: {type(error).__name__}"


@dataclass(frozen=True)
class Body:
    """A serialised answer, and its entity tag: the same KPIs give the same tag, whenever built."""

    data: bytes
    etag: str

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Body:
        # pydantic-core's encoder: the standard library's took about 150 ms of the event loop for
        # 200 queues' document (twice, with the tag's), Rust's a few.
        data = to_json(document)
        unchanged = {key: value for key, value in document.items() if key != "generated_at"}
        # The document is built in a fixed order (queues and agents sorted, KPIs as listed), so
        # equal KPIs encode alike without sorting the keys.
        digest = hashlib.sha256(to_json(unchanged)).hexdigest()
        return cls(data, f'W/"{digest[:32]}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a request's ``If-None-Match`` names this answer (so it can be answered 304)."""
        if not if_none_match:
            return False
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags or self.etag.removeprefix("W/") in tags
