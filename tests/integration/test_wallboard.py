"""/wallboard in a real headless Chromium (Debian's chromium, driven by Playwright): the tiles
show what /api/kpis says, a wait breach turns a tile red, and the page says so when the worker
stops answering."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kafka import KafkaProducer
from playwright.sync_api import Page, expect

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import Worker, running_worker, wait_for
from tests.integration.events import make_event, produce

pytestmark = pytest.mark.integration


# The page's formatting, restated: a tile must show what the API says, as a person reads it.
def ratio(value: float | None) -> str:
    return "\u2013" if value is None else f"{round(value * 100)}%"


def duration(value: float | None) -> str:
    if value is None:
        return "\u2013"
    seconds = round(value)
    return f"{seconds // 60}:{seconds % 60:02d}"


def shown(page: Page, queue: str, channel: str, kpi: str) -> str:
    return page.locator(f'section[data-queue="{queue}"][data-channel="{channel}"] [data-kpi="{kpi}"] dd').inner_text()


def api_entry(worker: Worker, queue: str, channel: str) -> dict[str, Any]:
    status, body = worker.get("/api/kpis")
    assert status == 200
    return next(q for q in json.loads(body)["queues"] if (q["queue"], q["channel"]) == (queue, channel))


def test_tiles_match_the_api_and_a_breach_turns_red(worker: Worker, producer: KafkaProducer, page: Page) -> None:
    queue = "it-wall"  # default thresholds: wait alert 60 s, service level 20 s for 80 %
    calls = worker.topics["calls"]
    now = time.time()
    events = [
        make_event("contact.queued", "wb-1", now - 200, queue=queue),
        make_event("contact.answered", "wb-1", now - 188, agent_id="a1"),  # wait 12 s
        make_event("contact.wrapped", "wb-1", now - 60, resolved=True),  # handle 128 s
        make_event("contact.queued", "wb-2", now - 150, queue=queue),
        make_event("contact.answered", "wb-2", now - 120, agent_id="a2"),  # wait 30 s: outside 20 s
        make_event("contact.queued", "wb-3", now - 100, queue=queue),
        make_event("contact.abandoned", "wb-3", now - 80),  # abandoned after 20 s
        make_event("contact.queued", "wb-4", now - 20, queue=queue),  # waiting 20 s: under 45 (75 % of 60)
    ]
    for event in events:
        produce(producer, calls, event, event["contact_id"].encode())
    producer.flush()
    wait_for(
        lambda: (
            worker.metrics().get(
                (
                    "contact_centre_contacts_offered",
                    frozenset({("queue", queue), ("channel", "voice"), ("window", "15m")}),
                )
            )
            == 4
        )
    )

    # Only this test's queues: with the session worker's many queues the board would go dense (four
    # figures a tile, test_wallboard_tv.py), and this test reads every figure of a detailed tile.
    page.goto(f"{worker.base_url}/wallboard?queue={queue},it-wall-calm")
    tile = page.locator(f'section[data-queue="{queue}"][data-channel="voice"]')
    expect(tile).to_be_visible(timeout=10_000)
    entry = api_entry(worker, queue, "voice")
    kpis = entry["windows"]["15m"]["kpis"]
    # SL 1/3, ASA (12 + 30) / 2 = 21 s, abandoned 1/3, AHT 128 s: as the API says, as the page shows.
    assert (kpis["service_level_ratio"], kpis["average_wait_seconds"], kpis["average_handle_seconds"]) == pytest.approx(
        (1 / 3, 21.0, 128.0), abs=0.01
    )
    assert shown(page, queue, "voice", "service_level_ratio") == ratio(kpis["service_level_ratio"]) == "33%"
    assert shown(page, queue, "voice", "average_wait_seconds") == duration(kpis["average_wait_seconds"]) == "0:21"
    assert shown(page, queue, "voice", "abandon_ratio") == ratio(kpis["abandon_ratio"]) == "33%"
    assert shown(page, queue, "voice", "average_handle_seconds") == duration(kpis["average_handle_seconds"]) == "2:08"
    assert shown(page, queue, "voice", "contacts_waiting") == str(entry["contacts_waiting"]) == "1"
    assert shown(page, queue, "voice", "csat_score") == "\u2013"  # no survey: absent, not 0
    oldest_seconds = int(shown(page, queue, "voice", "oldest_waiting_seconds").split(":")[1])
    assert abs(oldest_seconds - entry["oldest_waiting_seconds"]) <= 2
    # The service level misses its 80 % target (red); the wait is under its amber level.
    expect(tile.locator('[data-kpi="service_level_ratio"]')).to_have_attribute("data-state", "red")
    expect(tile.locator('[data-kpi="oldest_waiting_seconds"]')).to_have_attribute("data-state", "green")

    # Window switch: 'today' holds the same contacts, and the choice is kept in the address.
    page.get_by_role("button", name="Today").click()
    expect(page.get_by_role("button", name="Today")).to_have_attribute("aria-pressed", "true")
    assert "window=today" in page.url
    expect(tile.locator('[data-kpi="average_handle_seconds"] dd')).to_have_text("2:08")

    # A breach: someone has waited 70 s in a queue whose tile was green.
    calm = "it-wall-calm"
    produce(producer, calls, make_event("contact.queued", "wb-5", time.time() - 5, queue=calm), b"wb-5")
    producer.flush()
    calm_tile = page.locator(f'section[data-queue="{calm}"][data-channel="voice"]')
    expect(calm_tile).to_have_attribute("data-state", "green", timeout=15_000)
    produce(producer, calls, make_event("contact.queued", "wb-6", time.time() - 70, queue=calm), b"wb-6")
    producer.flush()
    expect(calm_tile).to_have_attribute("data-state", "red", timeout=15_000)
    expect(calm_tile.locator('[data-kpi="oldest_waiting_seconds"]')).to_have_attribute("data-state", "red")
    expect(page.locator("#stale")).to_be_hidden()


def test_stale_warning_when_the_worker_stops(
    broker: EmbeddedBroker, page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A worker of its own, so stopping it leaves the session's worker alone."""
    with running_worker(broker, tmp_path_factory.mktemp("wallboard-worker")) as own:
        page.goto(own.base_url + "/wallboard")
        expect(page.locator("#empty")).to_be_visible(timeout=10_000)  # polled: no queues yet
        expect(page.locator("#stale")).to_be_hidden()
        own.stop()
        stale = page.locator("#stale")
        expect(stale).to_be_visible(timeout=15_000)
        expect(stale).to_contain_text("No data since")
        assert "stale" in (page.locator("body").get_attribute("class") or "")


def test_an_unknown_window_falls_back_to_the_default_under_the_pages_own_policy(
    worker: Worker, producer: KafkaProducer, page: Page
) -> None:
    """``?window=__proto__`` froze the page (it read the prototype as a window and threw on every
    poll); a name that is not one of the document's windows now shows the default, and nothing the
    page does is refused by its Content-Security-Policy."""
    queue = "it-wall-window"
    calls = worker.topics["calls"]
    now = time.time()
    for event in (
        make_event("contact.queued", "ww-1", now - 60, queue=queue),
        make_event("contact.answered", "ww-1", now - 48, agent_id="a1"),  # wait 12 s
        make_event("contact.queued", "ww-2", now - 10, queue=queue),
    ):
        produce(producer, calls, event, event["contact_id"].encode())
    producer.flush()
    wait_for(
        lambda: (
            worker.metrics().get(
                ("contact_centre_contacts_waiting", frozenset({("queue", queue), ("channel", "voice")}))
            )
            == 1
        )
    )

    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Every violation, reported or not on the console: the event the browser fires for each.
    page.add_init_script(
        "window.violations = []; document.addEventListener('securitypolicyviolation', event => "
        "window.violations.push(`${event.violatedDirective} ${event.blockedURI}`));"
    )
    tile = page.locator(f'section[data-queue="{queue}"][data-channel="voice"]')
    for asked, shown, button in (
        ("__proto__", "15m", "15 min"),
        ("constructor", "15m", "15 min"),
        ("no-such-window", "15m", "15 min"),
        ("today", "today", "Today"),
    ):
        page.goto(f"{worker.base_url}/wallboard?queue={queue}&window={asked}")  # detailed tiles: see above
        expect(tile.locator('[data-kpi="average_wait_seconds"] dd')).to_have_text("0:12", timeout=10_000)
        expect(tile.locator('[data-kpi="contacts_waiting"] dd')).to_have_text("1")
        expect(page.get_by_role("button", name=button)).to_have_attribute("aria-pressed", "true")
        expect(page).to_have_url(f"{worker.base_url}/wallboard?queue={queue}&window={shown}")
        assert page.evaluate("window.violations") == [], asked
    assert problems == []
    expect(page.locator("#stale")).to_be_hidden()
