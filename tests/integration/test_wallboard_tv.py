"""/wallboard on a TV across the room, in a real headless Chromium at 1920×1080: 50 queue tiles fit
one screen in dense mode with figures still large, worst first; 150 tiles are paged and the red ones
not on screen are named; groups, ?queue=, ?window= (every window of KPI_WINDOWS, 7d included),
?kiosk=1, the centre's time zone, a partial answer, and the flash and beep of a new breach.

Screenshots go to pytest's tmp_path; with WALLBOARD_DOCS=1 the run also refreshes the ones the
docs/wallboard.md shows (docs/wallboard.png, docs/wallboard-*.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from stream.tools.embedded_broker import EmbeddedBroker
from tests.integration.conftest import CHROMIUM, CHROMIUM_ARGS, Worker, running_worker, wait_for
from tests.integration.events import make_event, produce

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC_SCREENSHOTS = {"wallboard.png", "wallboard-paged.png", "wallboard-group.png"}  # shown in docs/wallboard.md
CENTRE_ZONE = "Europe/London"
BROWSER_ZONE = "Pacific/Auckland"  # 11 to 13 hours away from London: a clock in the wrong zone shows
WINDOWS = ("15m", "1h", "today", "7d")
WINDOW_LABELS = ("15 min", "1 hour", "Today", "7 days")
# Figures of at least 28 px on a 1080-line screen (the page's floor): cap height about 20 px, read
# from 6 m or so on a 55" TV.
FLOOR_PX = 28.0

DEPARTMENTS = (
    "billing",
    "claims",
    "collections",
    "onboarding",
    "orders",
    "renewals",
    "retention",
    "sales",
    "support",
    "warranty",
)
FLOOR = [f"{d}-{r}" for d in DEPARTMENTS for r in ("central", "east", "north", "south", "west")]  # 50 voice queues
BIG = [f"{d}-{c}" for d in DEPARTMENTS for c in ("amsterdam", "berlin", "dublin", "lisbon", "madrid")]  # ×3 channels
NORTH = ["billing-north", "sales-north"]
HISTORY = "history"  # one call two days ago: in 7d only
# Wait alert 600 s for every queue: amber above 450 s, red above 600 s (states that stay put for minutes).
BREACHED = "warranty-west"  # last of FLOOR by name, oldest wait 900 s: red
WAIT_RED = {BREACHED: 900, "orders-north": 700}
WAIT_AMBER = {"billing-east": 560, "support-central": 520, "collections-south": 480}
SL_RED = "claims-east"  # both calls answered after 40 s: service level 0 %
ABANDON_AMBER = "retention-south"  # 8 answered, 1 abandoned: 11 % over a 10 % target
BIG_BREACHED = "warranty-madrid"  # last of BIG by name, voice, oldest wait 800 s
ANSWERED = 3 * (len(FLOOR) - 2) + 2 + 8  # calls answered in the floor's queues

CONFIG = {
    "defaults": {
        "service_level_seconds": 20,
        "service_level_target": 0.8,
        "wait_alert_seconds": 600,
        "short_abandon_seconds": 5,
        "targets": {"abandon_ratio": 0.1, "average_wait_seconds": 30},
    },
    "groups": {"north": NORTH, "floor": FLOOR, "big": BIG},
}

# The tiles in the order they stand on screen (top to bottom, left to right), with the figures'
# sizes and whether anything is cut off or scrolls.
LAYOUT_JS = """() => {
  const tiles = [...document.querySelectorAll("main .tile")].filter(t => !t.hidden).map(t => {
    const box = t.getBoundingClientRect();
    return {queue: t.dataset.queue, channel: t.dataset.channel, state: t.dataset.state, top: box.top,
            left: box.left, bottom: box.bottom, right: box.right, clipped: t.scrollHeight > t.clientHeight + 1};
  });
  tiles.sort((a, b) => a.top - b.top || a.left - b.left);
  const figures = [...document.querySelectorAll("main .tile:not([hidden]) dd")].map(dd => ({
    height: dd.getBoundingClientRect().height, font: parseFloat(getComputedStyle(dd).fontSize),
    overflow: dd.scrollWidth > dd.clientWidth + 1}));
  const root = document.documentElement, main = document.querySelector("main");
  return {tiles, figures, dense: main.classList.contains("dense"), mainBottom: main.getBoundingClientRect().bottom,
          scroll: [root.scrollWidth, root.scrollHeight], viewport: [innerWidth, innerHeight]};
}"""
SEVERITY = {"red": 2, "amber": 1, "green": 0}


@dataclass
class Board:
    """A page at 1920×1080 in a browser set to BROWSER_ZONE, and what went wrong in it."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)

    def open(self, query: str = "") -> Page:
        self.api_urls.clear()
        self.page.goto(f"{self.base_url}/wallboard{query}")
        return self.page

    def tile(self, queue: str, channel: str = "voice") -> Any:
        return self.page.locator(f'main section[data-queue="{queue}"][data-channel="{channel}"]')

    def layout(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(LAYOUT_JS)
        return result

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.violations")
        return found

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / name
        self.page.screenshot(path=str(path))
        if os.environ.get("WALLBOARD_DOCS") == "1" and name in DOC_SCREENSHOTS:
            shutil.copyfile(path, DOCS / name)
        return path


@pytest.fixture(scope="module")
def tv_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it (Debian package chromium)")
    # As a wall TV is set up to beep without anyone clicking first.
    args = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def tv_worker(
    broker: EmbeddedBroker, producer: KafkaProducer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A worker of its own: four windows, the centre in London, three groups, and the floor's queues."""
    workdir = tmp_path_factory.mktemp("wallboard-tv")
    config = workdir / "tv.yaml"
    config.write_text(json.dumps(CONFIG))  # JSON is YAML
    with running_worker(
        broker, workdir, KPI_WINDOWS=",".join(WINDOWS), KPI_TIMEZONE=CENTRE_ZONE, KPI_CONFIG=str(config)
    ) as worker:
        produce_floor(producer, worker)
        wait_for(lambda: scenario_ready(worker), timeout=90)
        yield worker


@pytest.fixture()
def board(tv_browser: Browser, tv_worker: Worker) -> Iterator[Board]:
    context = tv_browser.new_context(viewport={"width": 1920, "height": 1080}, timezone_id=BROWSER_ZONE)
    page = context.new_page()
    opened = Board(page, tv_worker.base_url)
    page.on(
        "console",
        lambda message: opened.problems.append(message.text) if message.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: opened.problems.append(str(error)))
    page.on("request", lambda request: opened.api_urls.append(request.url) if "/api/kpis" in request.url else None)
    # Every violation of the page's Content-Security-Policy, reported on the console or not.
    page.add_init_script(
        "window.violations = []; document.addEventListener('securitypolicyviolation', event => "
        "window.violations.push(`${event.violatedDirective} ${event.blockedURI}`));"
    )
    yield opened
    context.close()


def calls(
    now: float,
    queue: str,
    prefix: str,
    answered_waits: Sequence[float],
    abandoned_waits: Sequence[float] = (),
    waiting_ages: Sequence[float] = (),
) -> list[dict[str, Any]]:
    """Calls of ``queue``: answered after each wait, abandoned after each wait, and still waiting for each age."""
    events = []
    for n, wait in enumerate(answered_waits):
        start = now - 800 + 30 * n
        contact = f"{prefix}-a{n}"
        events += [
            make_event("contact.queued", contact, start, queue=queue),
            make_event("contact.answered", contact, start + wait, agent_id=f"{prefix}-agent"),
        ]
    for n, wait in enumerate(abandoned_waits):
        start = now - 700 + 30 * n
        events += [
            make_event("contact.queued", f"{prefix}-b{n}", start, queue=queue),
            make_event("contact.abandoned", f"{prefix}-b{n}", start + wait),
        ]
    events += [
        make_event("contact.queued", f"{prefix}-w{n}", now - age, queue=queue) for n, age in enumerate(waiting_ages)
    ]
    return events


def produce_floor(producer: KafkaProducer, worker: Worker) -> None:
    run, now = uuid.uuid4().hex[:6], time.time()
    voice, chats, tickets = worker.topics["calls"], worker.topics["chats"], worker.topics["tickets"]
    sent: list[tuple[str, dict[str, Any]]] = []
    for n, queue in enumerate(FLOOR):
        prefix = f"{run}-{queue}"
        if queue == SL_RED:
            events = calls(now, queue, prefix, [40, 40], waiting_ages=[30])
        elif queue == ABANDON_AMBER:
            events = calls(now, queue, prefix, [3] * 8, [30], waiting_ages=[20])
        else:
            age = WAIT_RED.get(queue) or WAIT_AMBER.get(queue)
            ages = [age, 15] if age else [15 + 7 * (n % 9)] * (n % 4)
            events = calls(now, queue, prefix, [2 + n % 6, 4, 6 + n % 10], waiting_ages=ages)
        sent += [(voice, event) for event in events]
    for queue in BIG:
        prefix = f"{run}-{queue}"
        sent += [
            (voice, e)
            for e in calls(now, queue, prefix + "v", [5], waiting_ages=[800 if queue == BIG_BREACHED else 20])
        ]
        sent += [(chats, e) for e in calls(now, queue, prefix + "c", [8])]
        sent.append((tickets, make_event("ticket.created", prefix + "t", now - 300, queue=queue)))
    # Two days ago: in the 7d window, in no other.
    sent += [(voice, e) for e in calls(now - 2 * 86400, HISTORY, f"{run}-history", [10])]
    for topic, event in sent:
        produce(producer, topic, event, event["contact_id"].encode())
    producer.flush()


def api(worker: Worker, query: str) -> dict[str, Any]:
    status, body = worker.get("/api/kpis" + query)
    assert status == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def scenario_ready(worker: Worker) -> bool:
    floor, big = api(worker, "?group=floor&window=15m"), api(worker, "?group=big&window=15m")
    history = api(worker, f"?queue={HISTORY}&window=7d")["queues"]
    breached = [q for q in floor["queues"] if q["queue"] == BREACHED]
    return (
        len(floor["queues"]) == 50
        and len(big["queues"]) == 150
        and bool(history)
        and bool(breached)
        and breached[0]["oldest_waiting_seconds"] > 600
        and sum(q["windows"]["15m"]["kpis"].get("contacts_answered") or 0 for q in floor["queues"]) == ANSWERED
        and any(q["channel"] == "ticket" for q in big["queues"])
    )


def severity_order(tiles: list[dict[str, Any]]) -> list[int]:
    return [SEVERITY[t["state"]] for t in tiles]


def assert_fits_the_screen(layout: dict[str, Any]) -> None:
    """Every tile whole and on screen, no scrolling, no figure cut off, every figure at the floor."""
    width, height = layout["viewport"]
    assert layout["scroll"] == [width, height], layout["scroll"]
    for tile in layout["tiles"]:
        assert tile["left"] >= 0 and tile["top"] >= 0 and tile["right"] <= width and tile["bottom"] <= height, tile
        assert tile["bottom"] <= layout["mainBottom"] + 0.5, tile  # not under the pager
        assert not tile["clipped"], tile
    assert not [f for f in layout["figures"] if f["overflow"]]
    assert min(f["font"] for f in layout["figures"]) >= FLOOR_PX


def assert_clean(board: Board) -> None:
    assert board.violations() == []
    assert board.problems == []


def test_fifty_tiles_fit_one_screen_worst_first(board: Board, tv_worker: Worker, tmp_path: Path) -> None:
    page = board.open("?group=floor")
    expect(page.locator("main .tile")).to_have_count(50, timeout=15_000)
    expect(page.locator("main")).to_have_class(re.compile(r"\bdense\b"))
    expect(board.tile(BREACHED)).to_have_attribute("data-state", "red")
    layout = board.layout()
    assert layout["dense"]
    assert len(layout["tiles"]) == 50 and {t["queue"] for t in layout["tiles"]} == set(FLOOR)
    assert_fits_the_screen(layout)
    expect(page.locator("#pager")).to_be_hidden()

    tiles = layout["tiles"]
    # Worst first: red, then amber, then green; within them, furthest from target first.
    assert severity_order(tiles) == sorted(severity_order(tiles), reverse=True)
    names = [t["queue"] for t in tiles]
    assert names[:3] == [SL_RED, BREACHED, "orders-north"]  # SL 0 % (distance 2), then waits 900 s and 700 s of 600
    assert names[3:7] == [ABANDON_AMBER, "billing-east", "support-central", "collections-south"]
    # The breached queue, last by name, is in the first row.
    first_row = [t["queue"] for t in tiles if abs(t["top"] - tiles[0]["top"]) < 1]
    assert BREACHED in first_row and max(FLOOR) == BREACHED
    # Four figures a tile, the smallest measured on screen.
    assert len(layout["figures"]) == 200
    smallest = min(layout["figures"], key=lambda f: f["height"])
    print(
        f"\n50 tiles at 1920x1080: {len(first_row)} columns, smallest figure {smallest['height']:.1f} px high "
        f"(font-size {smallest['font']:.1f} px)"
    )
    assert smallest["height"] >= FLOOR_PX
    # The centre strip on top: the group's totals for the window shown.
    totals = page.locator("#totals")
    expect(totals.locator("h2")).to_have_text("Floor \u00b7 15 min")
    waiting = sum(q["contacts_waiting"] for q in api(tv_worker, "?group=floor&window=15m")["queues"])
    expect(totals.locator('[data-kpi="contacts_waiting"] dd')).to_have_text(str(waiting))
    expect(totals.locator('[data-kpi="oldest_waiting_seconds"] dd')).to_have_text(re.compile(r"^1[45]:\d\d$"))
    assert page.locator("#totals").bounding_box()["y"] < min(t["top"] for t in tiles)  # type: ignore[index]
    board.screenshot(tmp_path, "wallboard.png")

    # ?sort=name keeps the alphabet.
    board.open("?group=floor&sort=name")
    expect(page.locator("main .tile")).to_have_count(50, timeout=15_000)
    expect(board.tile(BREACHED)).to_have_attribute("data-state", "red")
    layout = board.layout()
    assert [t["queue"] for t in layout["tiles"]] == sorted(FLOOR)
    assert_fits_the_screen(layout)
    assert_clean(board)


def test_a_group_that_does_not_fit_is_paged_and_red_tiles_off_screen_are_named(board: Board, tmp_path: Path) -> None:
    # Worst first: the red tile leads page 1 and is named on the other pages.
    page = board.open("?group=big&rotate=3")
    expect(page.locator("#page")).to_have_text(re.compile(r"^Page 1/\d+$"), timeout=15_000)
    pages = int(page.locator("#pager").get_attribute("data-pages") or 0)
    assert pages >= 2
    expect(board.tile(BIG_BREACHED)).to_be_visible()
    expect(page.locator("#offpage")).to_have_text("")
    layout = board.layout()
    assert layout["dense"] and layout["tiles"][0]["queue"] == BIG_BREACHED
    assert_fits_the_screen(layout)
    smallest = min(layout["figures"], key=lambda f: f["height"])
    print(
        f"\n150 tiles at 1920x1080: {pages} pages of {len(layout['tiles'])}, smallest figure "
        f"{smallest['height']:.1f} px high (font-size {smallest['font']:.1f} px)"
    )
    board.screenshot(tmp_path, "wallboard-paged-1.png")
    expect(page.locator("#page")).to_have_text(f"Page 2/{pages}", timeout=10_000)
    expect(board.tile(BIG_BREACHED)).to_be_hidden()
    expect(page.locator("#offpage")).to_have_text(f"Red, not on screen: {BIG_BREACHED} voice")
    expect(page.locator("#pager")).to_have_class(re.compile(r"\balarm\b"))
    board.screenshot(tmp_path, "wallboard-paged.png")

    # By name the red tile is on the last page: named until then; every tile is shown on some page.
    page = board.open("?group=big&sort=name&rotate=3")
    shown: set[tuple[str, str]] = set()
    for number in range(1, pages + 1):
        expect(page.locator("#page")).to_have_text(f"Page {number}/{pages}", timeout=15_000)
        layout = board.layout()
        assert_fits_the_screen(layout)
        shown |= {(t["queue"], t["channel"]) for t in layout["tiles"]}
        if number < pages:
            expect(page.locator("#offpage")).to_have_text(f"Red, not on screen: {BIG_BREACHED} voice")
        else:
            expect(board.tile(BIG_BREACHED)).to_be_visible()
            expect(page.locator("#offpage")).to_have_text("")
    assert shown == {(q, c) for q in BIG for c in ("voice", "chat", "ticket")}
    assert_clean(board)


def test_groups_queues_windows_and_kiosk(board: Board, tmp_path: Path) -> None:
    page = board.open("?group=north")
    expect(page.locator("main .tile")).to_have_count(2, timeout=15_000)
    assert sorted(page.locator("main .tile").evaluate_all("ts => ts.map(t => t.dataset.queue)")) == NORTH
    expect(page.locator("h1")).to_have_text("North")
    expect(page.locator("#totals h2")).to_have_text("North \u00b7 15 min")
    # Every window of KPI_WINDOWS, in its order.
    expect(page.locator("nav button")).to_have_text(list(WINDOW_LABELS))
    expect(page.get_by_role("button", name="15 min")).to_have_attribute("aria-pressed", "true")
    board.screenshot(tmp_path, "wallboard-group.png")
    # The group goes to the API; after the first answer (which lists the windows) only the window
    # shown is asked for, and only the KPIs the page shows.
    while len(board.api_urls) < 3:
        with page.expect_request(lambda r: "/api/kpis" in r.url, timeout=10_000):
            pass
    for url in board.api_urls:
        assert "group=north" in url and "fields=" in url, url
    assert all("window=15m" in url for url in board.api_urls[1:]), board.api_urls
    fields = set(re.search(r"fields=([^&]*)", board.api_urls[-1]).group(1).replace("%2C", ",").split(","))  # type: ignore[union-attr]
    assert "service_level_ratio" in fields and "fcr_ratio" not in fields and "csat_responses" not in fields

    # ?queue= and ?window=7d: the call of two days ago is in 7d only.
    page = board.open(f"?queue={HISTORY},sales-north&window=7d")
    history = board.tile(HISTORY)
    expect(history.locator('[data-kpi="average_wait_seconds"] dd')).to_have_text("0:10", timeout=15_000)
    expect(page.locator("main .tile")).to_have_count(2)
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#totals h2")).to_have_text("Selected queues \u00b7 7 days")
    assert any(f"queue={HISTORY}%2Csales-north" in url and "window=7d" in url for url in board.api_urls), board.api_urls
    for label, window in zip(WINDOW_LABELS, WINDOWS, strict=True):
        page.get_by_role("button", name=label).click()
        expect(page).to_have_url(re.compile(rf"window={window}$"))
        expect(history.locator('[data-kpi="average_wait_seconds"] dd')).to_have_text(
            "0:10" if window == "7d" else "\u2013"
        )
    # Unchanged answers come back 304 (the page sends the ETag) and the board stays fresh.
    board.open(f"?queue={HISTORY}&window=7d")
    expect(history.locator('[data-kpi="average_wait_seconds"] dd')).to_have_text("0:10", timeout=15_000)
    with page.expect_response(lambda r: "/api/kpis" in r.url and r.status == 304, timeout=15_000):
        pass
    expect(page.locator("#stale")).to_be_hidden()
    expect(history.locator('[data-kpi="average_wait_seconds"] dd')).to_have_text("0:10")

    # Kiosk: no controls, the group as the title; without a group, the centre's.
    page = board.open("?kiosk=1&group=north")
    expect(page.locator("main .tile")).to_have_count(2, timeout=15_000)
    expect(page.locator("h1")).to_have_text("North")
    expect(page.locator("nav")).to_be_hidden()
    expect(page.get_by_role("button")).to_have_count(0)
    assert page.title() == "North wallboard"
    board.screenshot(tmp_path, "wallboard-kiosk.png")
    page = board.open("?kiosk=1")
    expect(page.locator("#totals")).to_be_visible(timeout=15_000)
    expect(page.locator("h1")).to_have_text("Contact centre")
    expect(page.get_by_role("button")).to_have_count(0)

    assert_clean(board)

    # An unknown group is said on the board, not shown as an empty centre (the browser logs the 400).
    page = board.open("?group=south-pole")
    expect(page.locator("#problem")).to_contain_text(
        "unknown group 'south-pole'; groups: big, floor, north", timeout=15_000
    )
    expect(page.locator("main .tile")).to_have_count(0)
    expect(page.locator("#stale")).to_be_hidden()
    assert board.violations() == []
    assert {problem.split(":")[0] for problem in board.problems} == {"Failed to load resource"}


def test_the_clock_is_in_the_centres_time_zone(board: Board) -> None:
    page = board.open("?kiosk=1&group=north")
    clock = page.locator("#clock")
    expect(clock).to_have_attribute("data-timezone", CENTRE_ZONE, timeout=15_000)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
    text = clock.inner_text()
    match = re.fullmatch(r"(\d\d):(\d\d):(\d\d) (\S+)", text)
    assert match, text
    now = datetime.now(ZoneInfo(CENTRE_ZONE))
    shown = int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3])
    expected = now.hour * 3600 + now.minute * 60 + now.second
    assert min((shown - expected) % 86400, (expected - shown) % 86400) <= 5, (text, now)
    assert match[4] == now.strftime("%Z")  # GMT or BST
    browser_now = datetime.now(ZoneInfo(BROWSER_ZONE))
    assert (browser_now.hour, browser_now.minute) != (int(match[1]), int(match[2]))
    assert_clean(board)


def test_a_partial_answer_is_said_on_the_board(board: Board) -> None:
    """The API marks an answer partial when another worker does not answer; the page says which."""
    missing = [{"worker": "http://kpi-worker-2:6066", "reason": "no answer within 1 s"}]

    def partial(route: Route) -> None:
        response = route.fetch()
        if response.status != 200:
            route.fulfill(response=response)
            return
        document = response.json()
        document.update(partial=True, missing=missing)
        # Without the real answer's ETag, so the page asks afresh once the worker answers again.
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("etag", "content-length")}
        route.fulfill(response=response, headers=headers, json=document)

    page = board.page
    page.route(re.compile(r".*/api/kpis\?.*"), partial)
    board.open("?group=north")
    banner = page.locator("#partial")
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("Partial: worker http://kpi-worker-2:6066 did not answer (no answer within 1 s)")
    expect(page.locator("#totals h2")).to_have_text("North \u00b7 15 min (partial)")
    expect(page.locator("main .tile")).to_have_count(2)  # what did answer is still shown
    # Waits for a request the handler is answering: unrouted meanwhile, its answer would fail.
    page.unroute_all(behavior="wait")
    expect(banner).to_be_hidden(timeout=10_000)
    expect(page.locator("#totals h2")).to_have_text("North \u00b7 15 min")
    assert_clean(board)


def test_a_new_breach_flashes_once_stays_red_and_beeps(
    board: Board, tv_worker: Worker, producer: KafkaProducer
) -> None:
    queue, run = f"alarm-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    calls_topic = tv_worker.topics["calls"]
    produce(producer, calls_topic, make_event("contact.queued", f"{run}-1", time.time() - 10, queue=queue), None)
    producer.flush()
    page = board.open(f"?queue={queue}&sound=1")
    tile = board.tile(queue)
    expect(tile).to_have_attribute("data-state", "green", timeout=15_000)
    assert page.locator("body").get_attribute("data-beeps") is None
    produce(producer, calls_topic, make_event("contact.queued", f"{run}-2", time.time() - 700, queue=queue), None)
    producer.flush()
    expect(tile).to_have_attribute("data-state", "red", timeout=15_000)
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")
    # The flash ran to its end once (animationend), and the tile stays red afterwards.
    expect(tile).to_have_attribute("data-flash", "done", timeout=10_000)
    expect(tile).not_to_have_class(re.compile(r"\bflash\b"))
    # Two more answers later: not flashing again, still red, one breach and one beep.
    for _ in range(2):
        with page.expect_response(lambda r: "/api/kpis" in r.url, timeout=10_000):
            pass
    expect(tile).to_have_attribute("data-flash", "done")
    expect(tile).not_to_have_class(re.compile(r"\bflash\b"))
    expect(tile).to_have_attribute("data-state", "red")
    assert tile.evaluate("t => getComputedStyle(t).backgroundColor") == "rgb(58, 21, 24)"
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")
    expect(page.locator("body")).to_have_attribute("data-breaches", "1")
    assert_clean(board)
