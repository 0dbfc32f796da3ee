"""The worker's HTTP surface against a hostile or careless client: Faust's own table and router
views are gone, the pages carry security headers, /api/kpis is a snapshot a polling loop cannot
make more expensive, and with KPI_HTTP_USERNAME every page but /healthz wants basic auth, which a
real Prometheus and a real Chromium give."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from base64 import b64encode
from datetime import datetime

import pytest
from kafka import KafkaProducer
from playwright.sync_api import expect, sync_playwright

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import CHROMIUM, CHROMIUM_ARGS, Worker, running_worker, wait_for
from tests.integration.events import make_event, produce
from tests.integration.prometheus_server import JOB, running_prometheus
from tests.integration.scrape import series

pytestmark = pytest.mark.integration

PAGES = ("/metrics", "/api/kpis", "/api/kpis?queue=it-sec", "/wallboard")
USERNAME, PASSWORD = "ops", "correct horse battery staple"


def get(url: str, credentials: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, whatever the status."""
    headers = {}
    if credentials is not None:
        headers["Authorization"] = "Basic " + b64encode(":".join(credentials).encode()).decode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_faust_table_and_router_views_are_gone(worker: Worker, producer: KafkaProducer) -> None:
    """A contact the worker holds and one it never saw get the same 404: no existence oracle."""
    queue, contact = "it-sec-oracle", f"sec-{time.time_ns()}"
    produce(
        producer,
        worker.topics["calls"],
        make_event("contact.queued", contact, time.time() - 5, queue=queue),
        contact.encode(),
    )
    producer.flush()
    wait_for(lambda: worker.metrics().get(series("contact_centre_contacts_waiting", queue=queue, channel="voice")) == 1)
    not_found = worker.get("/table/contacts/no-such-contact/")
    assert not_found[0] == 404
    for path in (
        f"/table/contacts/{contact}/",
        "/table/",
        "/table/contacts/",
        "/router/",
        "/router/topics",
        f"/router/contacts/{contact}/",
        "/graph/",
        "/assignment/",
        "/performance/",
    ):
        assert worker.get(path) == not_found, path


def test_security_headers(worker: Worker) -> None:
    status, headers, _ = get(worker.base_url + "/wallboard")
    assert status == 200
    policy = dict(directive.strip().split(" ", 1) for directive in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"  # whatever is not named below
    assert policy["connect-src"] == "'self'"  # its poll of /api/kpis
    assert policy["frame-ancestors"] == "'none'"
    for inline in ("script-src", "style-src"):  # its own inline script and style, by hash: nothing injected runs
        sources = policy[inline].split()
        assert sources and all(source.startswith("'sha256-") for source in sources), policy[inline]
    assert headers["X-Frame-Options"] == "DENY"
    for path in ("/wallboard", "/api/kpis", "/api/kpis?queue=it-sec", "/metrics", "/healthz"):
        status, headers, _ = get(worker.base_url + path)
        assert status == 200, path
        assert headers["X-Content-Type-Options"] == "nosniff", path


def test_kpis_are_a_snapshot_built_at_most_once_a_second(worker: Worker) -> None:
    """A client polling as fast as it can for 1.5 s sees at most 3 documents of each query (one per
    second at most, plus the one it found), each made within about a second before it was asked for."""
    queries = ("", "?queue=it-sec")
    made: dict[str, dict[str, float]] = {query: {} for query in queries}  # generated_at -> when first seen
    start = time.monotonic()
    requests = 0
    while time.monotonic() - start < 1.5:
        for query in queries:
            status, body = worker.get("/api/kpis" + query)
            assert status == 200
            made[query].setdefault(json.loads(body)["generated_at"], time.time())
        requests += 1
    assert requests > 10  # it did loop
    for query, documents in made.items():
        assert len(documents) <= 3, (query, documents)
        instants = sorted(datetime.fromisoformat(generated).timestamp() for generated in documents)
        assert all(later - earlier >= 0.99 for earlier, later in itertools.pairwise(instants)), (query, instants)
        assert all(seen - datetime.fromisoformat(generated).timestamp() < 2 for generated, seen in documents.items())


def test_basic_auth_on_every_page_but_healthz_and_prometheus_scrapes_with_it(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running_worker(
        broker, tmp_path_factory.mktemp("auth-worker"), KPI_HTTP_USERNAME=USERNAME, KPI_HTTP_PASSWORD=PASSWORD
    ) as own:
        for path in PAGES:
            for credentials in (
                None,
                (USERNAME, "wrong"),
                ("other", PASSWORD),
                (USERNAME, PASSWORD + "x"),
                (USERNAME.upper(), PASSWORD),
            ):
                status, headers, body = get(own.base_url + path, credentials)
                assert status == 401, (path, credentials)
                assert headers["WWW-Authenticate"] == 'Basic realm="contact-centre-kpi"'
                assert b"contact_centre" not in body and b"queues" not in body
            status, headers, _ = get(own.base_url + path, (USERNAME, PASSWORD))
            assert status == 200, path
        assert get(own.base_url + "/healthz")[0] == 200  # probes need no credentials

        with running_prometheus(
            own.base_url.removeprefix("http://"),
            tmp_path_factory.mktemp("auth-prometheus"),
            basic_auth=(USERNAME, PASSWORD),
        ) as prometheus:
            wait_for(lambda: [r["value"][1] for r in prometheus.query(f'up{{job="{JOB}"}}')] == ["1"], timeout=30)
            # The body was read, not only the status: a worker metric is there.
            assert [r["value"][1] for r in prometheus.query("contact_centre_consuming")] == ["1"]

        # A browser given the credentials once shows the wallboard, whose polls of /api/kpis get through.
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(http_credentials={"username": USERNAME, "password": PASSWORD}).new_page()
                page.goto(own.base_url + "/wallboard")
                expect(page.locator("#empty")).to_be_visible(timeout=10_000)  # rendered a document: no queue yet
                expect(page.locator("#stale")).to_be_hidden()
            finally:
                browser.close()
