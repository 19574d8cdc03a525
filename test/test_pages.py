"""The web pages: served with the right types and nothing outside web/static/, self-contained
(no asset from another host), and, in headless Chromium, doing what an operator relies on: the
status page shows public services only; the dashboard logs in, turns a failing service red and
lists its alert without a reload; it says so plainly when the API is gone or the token expired.

The browser tests need Debian's `chromium` (`.ci/run` installs it) and are skipped without it;
their screenshots are kept in each test's tmp_path."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from accounts import PASSWORD, Account
from browsing import fits_a_phone, iso, open_dashboard, register, service_of
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect
from sqlalchemy import Engine
from sqlalchemy import text as sql
from targets import Target
from waiting import wait_until

from statuschecker.accounts import credentials
from statuschecker.runtime import Runtime
from statuschecker.store import partitions, pollers
from statuschecker.system.config import Settings
from web.app import create_app
from web.pages import STATIC

PAGES = {"/": "index.html", "/dashboard": "dashboard.html"}
CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
TIMES = "\N{MULTIPLICATION SIGN}"  # of the counts the pages show ("200", TIMES, "58")
# The one http:// string allowed: the SVG namespace, a name that is never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
VENDORED = STATIC / "vendor"
"""The chart library, as its npm package ships it (web/vendor/README.md)."""


def _raw_get(base_url: str, path: str) -> int:
    """The status of GET `path` sent exactly as given (no client-side normalisation of `..`)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _local_references(text: str) -> set[str]:
    """Paths the pages load: src/href attributes and module imports."""
    attributes = re.findall(r'(?:src|href)="([^"#][^"]*)"', text)
    imports = re.findall(r'from\s+"(\./[^"]+)"', text)
    return {ref for ref in attributes if ref.startswith("/")} | {
        "/static/" + ref.removeprefix("./") for ref in imports
    }


@pytest.mark.parametrize(("path", "file"), PAGES.items())
def test_pages_are_served_as_html_with_a_strict_policy(site: str, path: str, file: str) -> None:
    answer = httpx.get(site + path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.text == (STATIC / file).read_text(encoding="utf-8")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.head(site + path).status_code == 200


def test_the_vendored_files_are_those_their_readme_names() -> None:
    """web/vendor/README.md gives each vendored file's sha256 (`make vendor` writes them from
    the checksummed npm tarball): the files shipped are those, unedited."""
    readme = (STATIC.parent / "vendor" / "README.md").read_text()
    listed = dict(re.findall(r"^\| ((?:static/)?vendor/\S+) \| ([0-9a-f]{64}) \|$", readme, re.M))
    shipped = {p.relative_to(STATIC.parent).as_posix() for p in VENDORED.iterdir()}
    assert shipped <= listed.keys() and len(listed) == 3, listed
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC.parent / name).read_bytes()).hexdigest() == digest, name


def test_every_asset_is_served_with_its_type(site: str) -> None:
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= set(CONTENT_TYPES)
    for file in files:
        answer = httpx.get(f"{site}/static/{file.relative_to(STATIC).as_posix()}")
        assert answer.status_code == 200, file
        assert answer.headers["content-type"].split(";")[0] == CONTENT_TYPES[file.suffix]
        assert answer.content == file.read_bytes()


def test_everything_the_pages_load_is_local_and_served(site: str) -> None:
    texts = {p: p.read_text(encoding="utf-8") for p in STATIC.rglob("*") if p.is_file()}
    for file, text in texts.items():
        if file.parent == VENDORED:  # its comments cite pages; it asks the network for nothing
            assert not re.search(r"\bfetch\(|XMLHttpRequest|WebSocket|import\(|@import", text)
            continue
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {SVG_NAMESPACE}, f"{file.name} names another host: {urls}"
    references = set().union(*map(_local_references, texts.values()))
    assert {"/static/style.css", "/static/status.js", "/static/common.js"} <= references
    for reference in references:
        assert httpx.get(site + reference).status_code == 200, reference


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pages.py",
        "/static/%2e%2e/pages.py",
        "/static/..%2fpages.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/missing.js",
        "/static/",
        "/static/index.html%00.js",
    ],
)
def test_nothing_outside_the_static_folder_is_served(site: str, path: str) -> None:
    assert _raw_get(site, path) == 404


# ---- in a browser ----------------------------------------------------------------------


def _never_checked(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    account: Account,
    name: str,
) -> int:
    """A public service registered and paused through an app without a poller (before any
    poller runs, so it is never checked and stays unknown)."""
    quiet = serve(create_app(make_runtime()))
    service = register(quiet, account, name, "http://127.0.0.1:9/", public=True)
    paused = httpx.patch(
        f"{quiet}/v1/services/{service}", headers=account.headers, json={"paused": True}
    )
    assert paused.status_code == 200, paused.text
    return service


def test_status_page_and_dashboard_in_a_browser(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
    page: Page,
    tmp_path: Path,
) -> None:
    site = serve(create_app(make_runtime(with_poller=True), validate_responses=True))
    operator = make_account("operator@example.com")
    with Target("up") as shop_target, Target("up") as intranet_target:
        shop = register(site, operator, "shop", shop_target, public=True)
        intranet = register(site, operator, "intranet", intranet_target, public=False)
        wait_until(
            lambda: (
                httpx.get(f"{site}/v1/services/{shop}", headers=operator.headers).json()["status"]
                == "up"
            )
        )

        # The status page: the public service and not the private one.
        page.goto(site + "/")
        shop_card = page.locator(f'[data-service-id="{shop}"]')
        expect(shop_card).to_contain_text("shop")
        expect(shop_card).to_have_class(re.compile(r"\bup\b"))
        expect(page.locator("#summary")).to_have_text("All systems operational.")
        quarter = shop_card.locator(".uptime-row", has_text="90 days")
        expect(quarter.locator("rect.bar")).to_have_count(90)  # a bar a day, today's last
        expect(quarter.locator("rect.bar").last).to_have_class(re.compile(r"\bgood\b"))
        expect(page.locator(f'[data-service-id="{intranet}"]')).to_have_count(0)
        expect(page.locator("main")).not_to_contain_text("intranet")
        page.screenshot(path=tmp_path / "status-page.png", full_page=True)
        fits_a_phone(page, tmp_path / "status-page-phone.png")

        # The dashboard: log in through the form, see both services.
        page.goto(site + "/dashboard")
        page.fill("#login input[name=email]", operator.user.email)
        page.fill("#login input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        card = page.locator(f'#services [data-service-id="{shop}"]')
        expect(card).to_have_class(re.compile(r"\bup\b"))
        expect(page.locator(f'#services [data-service-id="{intranet}"]')).to_be_visible()
        expect(page.locator("#who")).to_have_text(operator.user.email)
        expect(card.locator("table.stats")).to_contain_text("Last 10 min")

        # Refresh every second (the page's own settings), then make the target fail.
        for field in ("#short-refresh", "#long-refresh"):
            page.fill(field, "1")
            page.press(field, "Tab")
        shop_target.set_mode("down")
        expect(card).to_have_class(re.compile(r"\bdown\b"), timeout=15_000)
        expect(card.locator(".badge")).to_have_text("Down")
        alert = page.locator("#alerts li.alert.down", has_text="shop")
        expect(alert).to_be_visible(timeout=15_000)
        expect(card.locator("table.stats")).to_contain_text("503")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
        fits_a_phone(page, tmp_path / "dashboard-phone.png")

        # The service's own page: its state, the checks by phase, the events.
        card.get_by_role("link", name="shop").click()
        view = page.locator(f'#service-view [data-service-id="{shop}"]')
        expect(view).to_have_class(re.compile(r"\bdown\b"))
        readout = view.locator(".check-chart .u-legend")
        over = view.locator(".check-chart .u-over")
        plot = over.bounding_box()
        assert plot is not None
        over.hover(position={"x": plot["width"] - 2, "y": 100})  # the newest check
        expect(readout).to_contain_text("status 503")  # the failed check's reason, hovered
        expect(view.locator("table.list tr.down").first).to_contain_text("status 503")
        expect(page.locator("#overview")).to_be_hidden()
        page.screenshot(path=tmp_path / "service.png", full_page=True)
        fits_a_phone(page, tmp_path / "service-phone.png")

        # Back on the status page, the public service is down with its incident ongoing.
        page.goto(site + "/")
        expect(shop_card).to_have_class(re.compile(r"\bdown\b"))
        expect(page.locator("#summary")).to_contain_text("Major outage. Down now: shop")
        expect(shop_card.locator(".incidents .ongoing")).to_contain_text("status 503")
        page.screenshot(path=tmp_path / "status-page-down.png", full_page=True)


def test_dashboard_says_when_the_api_is_unreachable_or_the_token_expired(
    site: str,
    make_account: Callable[..., Account],
    settings: Settings,
    page: Page,
) -> None:
    operator = make_account("operator@example.com")
    page.add_init_script(f"sessionStorage.setItem('statuschecker.token', '{operator.token}')")
    page.goto(site + "/dashboard")
    expect(page.locator("#who")).to_have_text(operator.user.email)
    page.fill("#short-refresh", "1")
    page.press("#short-refresh", "Tab")

    page.route("**/v1/**", lambda route: route.abort())  # as if the server were gone
    expect(page.locator("#notice")).to_contain_text("cannot be reached", timeout=5_000)
    page.unroute("**/v1/**")
    expect(page.locator("#notice")).to_be_hidden(timeout=5_000)

    expired = credentials.issue_access_token(
        operator.user.id, credentials.signing_key(settings), -60
    )
    page.add_init_script(f"sessionStorage.setItem('statuschecker.token', '{expired}')")
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("expired")


@pytest.fixture
def never_checked_site(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
) -> tuple[str, Account, int]:
    """A polling site, its operator, and the operator's public service `wiki`, registered and
    paused before the site polled, so never checked: (site URL, operator, wiki's id)."""
    operator = make_account("operator@example.com")
    wiki = _never_checked(make_runtime, serve, operator, "wiki")
    site = serve(create_app(make_runtime(with_poller=True), validate_responses=True))
    return site, operator, wiki


def test_status_page_names_each_state_in_its_own_words(
    never_checked_site: tuple[str, Account, int], page: Page, tmp_path: Path
) -> None:
    """Only "down" used to be told apart: a service never checked was "up" in green. (A never
    checked service that is not paused: see test_status_page_renders_every_status_from_the_api.)"""
    site, operator, wiki = never_checked_site
    page.goto(site + "/")
    summary = page.locator("#summary")
    expect(summary).to_have_text("The service is paused.")
    expect(summary).to_have_class(re.compile(r"\bpaused\b"))
    wiki_card = page.locator(f'[data-service-id="{wiki}"]')
    expect(wiki_card).to_have_class(re.compile(r"\bpaused\b"))
    expect(wiki_card.locator(".badge")).to_have_text("Paused")
    page.screenshot(path=tmp_path / "status-not-checked.png", full_page=True)

    with Target("up") as shop_target:
        shop = register(site, operator, "shop", shop_target, public=True)
        wait_until(lambda: service_of(site, operator, shop)["status"] == "up")
        page.reload()
        expect(summary).to_have_text("1 service paused, 1 operational.")
        expect(summary).not_to_have_class(re.compile(r"\b(up|down|paused)\b"))
        expect(page.locator(f'[data-service-id="{shop}"] .badge')).to_have_text("Operational")
        page.screenshot(path=tmp_path / "status-mixed.png", full_page=True)

        # A status this page does not know yet, and a paused flag, shown as they come.
        def newer_api(route: Route) -> None:
            answer = route.fetch()
            body = answer.json()
            for entry in body["data"]:
                entry.update(
                    {"shop": {"status": "hibernating"}, "wiki": {"status": "paused"}}[entry["name"]]
                )
            route.fulfill(response=answer, json=body)

        page.route(re.compile(r"/v1/status\?"), newer_api)
        page.reload()
        expect(summary).to_have_text("1 service paused, 1 hibernating.")
        expect(wiki_card.locator(".badge")).to_have_text("Paused")
        expect(wiki_card).to_have_class(re.compile(r"\bpaused\b"))
        shop_card = page.locator(f'[data-service-id="{shop}"]')
        expect(shop_card.locator(".badge")).to_have_text("hibernating")
        expect(shop_card).to_have_class(re.compile(r"\bother\b"))
        page.screenshot(path=tmp_path / "status-newer.png", full_page=True)
        page.unroute(re.compile(r"/v1/status\?"))

        # The dashboard knows which services are paused.
        open_dashboard(page, site, operator)
        card = page.locator(f'#services [data-service-id="{wiki}"]')
        expect(card.locator(".badge")).to_have_text("Paused")
        expect(card).to_have_class(re.compile(r"\bpaused\b"))
        expect(page.locator(f'#services [data-service-id="{shop}"] .badge')).to_have_text("Up")
        page.screenshot(path=tmp_path / "dashboard-paused.png", full_page=True)


def test_dashboard_shows_results_not_status_codes_for_kinds_without_them(
    live_server: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """A tcp check has no status code: its statistics used to count "Status codes: unknown"."""
    site = live_server
    operator = make_account("operator@example.com")
    with Target("up") as target:
        port = target.port
        db = register(site, operator, "db", f"tcp://127.0.0.1:{port}", public=False)
        wait_until(lambda: service_of(site, operator, db)["metric"]["up_count"] >= 2)
        target.set_mode("refuse")
        wait_until(lambda: service_of(site, operator, db)["metric"]["down_count"] >= 1)

        open_dashboard(page, site, operator)
        stats = page.locator(f'#services [data-service-id="{db}"] table.stats')
        expect(stats).to_contain_text(
            re.compile(rf"Results\s*up {TIMES}\d+, connection refused {TIMES}\d+")
        )
        expect(stats).not_to_contain_text("Status codes")
        expect(stats).not_to_contain_text("unknown")
        expect(stats).not_to_contain_text("First byte")
        page.screenshot(path=tmp_path / "dashboard-tcp.png", full_page=True)

        page.goto(f"{site}/dashboard#service/{db}")
        view = page.locator(f'#service-view [data-service-id="{db}"]')
        expect(view.locator("table.stats")).to_contain_text("connection refused")
        expect(view.locator("table.stats")).not_to_contain_text("Status codes")
        headings = view.locator("table.list").last.locator("thead")
        expect(headings).to_contain_text("Connect")
        expect(headings).not_to_contain_text("Code")
        page.screenshot(path=tmp_path / "service-tcp.png", full_page=True)


def test_the_check_chart_spans_the_checks_zooms_and_reads_out_the_one_hovered(
    live_server: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """The chart (uPlot) spreads the checks over its whole width, oldest left; dragging across
    it zooms in (and a refresh keeps the zoom), a double-click zooms out, and the readout under
    it gives the hovered check's time and phases."""
    site = live_server
    operator = make_account("operator@example.com")
    with Target("up") as target:
        shop = register(site, operator, "shop", target, public=False)
        wait_until(lambda: service_of(site, operator, shop)["metric"]["tick_count"] >= 4)
        page.add_init_script(  # no refresh redraws the chart while the pointer works on it
            "localStorage.setItem('statuschecker.dashboard.settings',"
            " JSON.stringify({shortRefresh: 600, longRefresh: 600}))"
        )
        open_dashboard(page, site, operator)
        page.goto(f"{site}/dashboard#service/{shop}")
        chart = page.locator(f'#service-view [data-service-id="{shop}"] .check-chart')
        span = "(box) => [box.uplot.scales.x.min, box.uplot.scales.x.max, box.uplot.data[0]]"

        def spread() -> list[Any]:
            found: list[Any] = chart.evaluate(span)
            return found if len(found[2]) >= 4 else []

        low, high, times = wait_until(spread, timeout=15)
        assert (low, high) == (times[0], times[-1])  # every check, first to last
        box = wait_until(chart.bounding_box, timeout=5)  # None while a refresh swaps it
        assert box["width"] > 600
        over = chart.locator(".u-over")
        plot = wait_until(over.bounding_box, timeout=5)  # drawn (its first refresh may redraw)
        width = plot["width"]
        over.hover(position={"x": width - 2, "y": 100})
        readout = chart.locator(".u-legend")
        expect(readout).to_contain_text(re.compile(r"Total\s*[\d.]+ ms"))
        page.screenshot(path=tmp_path / "service-chart.png", full_page=True)
        # Drag across the middle half: the scale narrows to it.
        over.hover(position={"x": width * 0.25, "y": 100})
        page.mouse.down()
        over.hover(position={"x": width * 0.75, "y": 100})
        page.mouse.up()
        zoomed_low, zoomed_high, _ = chart.evaluate(span)
        assert low < zoomed_low < zoomed_high < high
        chart.evaluate("(box) => { box.dataset.before = 'yes'; }")
        page.evaluate("window.dispatchEvent(new HashChangeEvent('hashchange'))")  # drawn anew
        redrawn = page.locator(f'#service-view [data-service-id="{shop}"] .check-chart')
        expect(redrawn).not_to_have_attribute("data-before", "yes")
        assert redrawn.evaluate(span)[:2] == [zoomed_low, zoomed_high]  # the zoom stays
        redrawn.locator(".u-over").dblclick()
        whole_low, whole_high, whole_times = redrawn.evaluate(span)
        assert (whole_low, whole_high) == (whole_times[0], whole_times[-1])  # zoomed out


def test_response_chart_says_why_it_has_nothing_to_plot(
    never_checked_site: tuple[str, Account, int], page: Page, tmp_path: Path
) -> None:
    """A service that is down has no response times: its chart used to be blank without a word."""
    site, operator, wiki = never_checked_site
    with Target("down") as target:
        shop = register(site, operator, "shop", target, public=True)
        wait_until(lambda: service_of(site, operator, shop)["status"] == "down")
        page.goto(site + "/")
        shop_chart = page.locator(f'[data-service-id="{shop}"] figure.chart')
        expect(shop_chart).to_contain_text("No response times: every check in this window failed.")
        expect(shop_chart.locator("svg rect")).to_have_count(0)
        expect(page.locator(f'[data-service-id="{wiki}"] figure.chart')).to_contain_text(
            "Not checked yet."
        )
        page.screenshot(path=tmp_path / "status-no-response-times.png", full_page=True)
        fits_a_phone(page, tmp_path / "status-no-response-times-phone.png")


def test_dashboard_shows_a_service_warnings(
    live_server: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """A setting kept but unusable (an option of another kind) is named on the card and in the
    service's view, as the API's `warnings` name it."""
    site = live_server
    operator = make_account("operator@example.com")
    with Target("up") as target:
        web = register(site, operator, "web", target, public=False, record_type="MX")
        open_dashboard(page, site, operator)
        card = page.locator(f'#services [data-service-id="{web}"]')
        expect(card.locator(".warned")).to_have_text(" · 1 warning(s)")
        page.goto(f"{site}/dashboard#service/{web}")
        warnings = page.locator(f'#service-view [data-service-id="{web}"] ul.warnings')
        expect(warnings).to_have_text(
            "record_type is an option of dns:// checks: kept, but unused by this http(s):// service"
        )
        page.screenshot(path=tmp_path / "service-warnings.png", full_page=True)


# ---- statuses, groups, dependencies and maintenance ------------------------------------

STATUS_WORDS = {
    "up": "Operational",
    "down": "Down",
    "pending": "Checking — failing, not confirmed",
    "degraded": "Degraded performance",
    "maintenance": "Under maintenance",
    "unknown": "No data yet",
    "paused": "Paused",
}
# The WCAG contrast of an element's text with the first background colour behind it.
CONTRAST = """(node) => {
    const rgb = (css) => css.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
        const c = [r, g, b].map((v) => v / 255).map(
            (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    let back = node;
    while (back && (getComputedStyle(back).backgroundColor === "rgba(0, 0, 0, 0)"))
        back = back.parentElement;
    const fg = luminance(rgb(getComputedStyle(node).color));
    const bg = luminance(rgb(back ? getComputedStyle(back).backgroundColor : "rgb(255, 255, 255)"));
    return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""


def _entry(service_id: int, name: str, status: str, group: str | None, **more: Any) -> dict:
    """A /v1/status entry as the API gives it."""
    return {
        "id": service_id,
        "name": name,
        "url": f"https://{name}.example.test/",
        "kind": "http",
        "status": status,
        "group": group,
        "tags": [],
        "caused_by": None,
        "last_performed": iso(timedelta(seconds=-5)),
        "uptime": {"24h": 100.0, "7d": 100.0, "30d": 100.0},
        **more,
    }


def test_status_page_renders_every_status_from_the_api(
    site: str, page: Page, tmp_path: Path
) -> None:
    """pending and degraded depend on timing: entries as the API gives them, every status in its
    own words and colour (readable: the badges' text passes WCAG AA), the banner's headline the
    worst of them, a group's summary, and why a service is down when a dependency is."""
    entries: list[dict] = []
    planned = {
        "data": [
            {
                "id": 7,
                "title": "Database upgrade",
                "active": True,
                "starts_at": iso(timedelta(minutes=-5)),
                "ends_at": iso(timedelta(hours=1)),
                "services": [{"id": 5, "name": "db"}],
            }
        ]
    }
    page.route(
        re.compile(r"/v1/status\?"),
        lambda route: route.fulfill(json={"data": entries, "next_cursor": None}),
    )
    page.route(re.compile(r"/v1/status/maintenances$"), lambda route: route.fulfill(json=planned))

    entries[:] = [
        _entry(1, "shop", "down", "Web", caused_by={"id": 2, "name": "api"}),
        _entry(2, "api", "down", "Web"),
        _entry(3, "search", "pending", "Web"),
        _entry(4, "blog", "degraded", "Web"),
        _entry(5, "db", "maintenance", "Data"),
        _entry(6, "cache", "up", "Data"),
        _entry(7, "wiki", "unknown", None),
        _entry(8, "old", "paused", None),
    ]
    page.goto(site + "/")
    summary = page.locator("#summary")
    expect(summary).to_have_text(
        "Major outage. Down now: shop, api (2 of 8 services; 1 failing, not confirmed yet, "
        "1 degraded, 1 under maintenance, 1 not checked yet, 1 paused, 1 operational)"
    )
    expect(summary).to_have_class(re.compile(r"\bdown\b"))
    for entry in entries:
        card = page.locator(f'[data-service-id="{entry["id"]}"]')
        expect(card).to_have_class(re.compile(rf"\b{entry['status']}\b"))
        badge = card.locator(".badge")
        expect(badge).to_have_text(STATUS_WORDS[entry["status"]])
        assert badge.evaluate(CONTRAST) >= 4.5, entry["status"]
    colours = {
        e["status"]: page.locator(f'[data-service-id="{e["id"]}"] .badge').evaluate(
            "(b) => getComputedStyle(b).backgroundColor + getComputedStyle(b).borderColor"
        )
        for e in entries
    }
    assert len(set(colours.values())) == len(STATUS_WORDS), f"two statuses look alike: {colours}"
    expect(page.locator('[data-service-id="1"] .cause')).to_have_text("Down because api is down.")
    expect(page.locator('[data-service-id="2"] .cause')).to_have_count(0)

    groups = page.locator("#services details.group")
    expect(groups.locator("summary h2")).to_have_text(["Web", "Data", "Other services"])
    web, data, other = (groups.nth(i) for i in range(3))
    expect(web).to_have_class(re.compile(r"\bdown\b"))
    expect(web.locator("summary")).to_contain_text("0 of 4 operational")
    expect(data).to_have_class(re.compile(r"\bmaintenance\b"))
    expect(data.locator("summary")).to_contain_text("1 of 2 operational")
    expect(data.locator("summary .badge")).to_have_text("Under maintenance")
    expect(other.locator("summary")).to_contain_text("0 of 2 operational")
    expect(page.locator("#maintenance")).to_contain_text("Maintenance in progress")
    expect(page.locator("#maintenance")).to_contain_text("Database upgrade")
    page.screenshot(path=tmp_path / "status-every-status.png", full_page=True)
    fits_a_phone(page, tmp_path / "status-every-status-phone.png")

    # Collapsible: the group's cards hide, and the rest stay.
    web.locator("summary").click()
    expect(page.locator('[data-service-id="1"]')).to_be_hidden()
    expect(page.locator('[data-service-id="5"]')).to_be_visible()

    # The banner's headline is the worst state any service is in.
    for worst, headline in [
        ("pending", "Partial outage."),
        ("degraded", "Degraded performance."),
        ("maintenance", "Maintenance in progress."),
    ]:
        entries[:] = [_entry(1, "shop", worst, None), _entry(2, "api", "up", None)]
        page.reload()
        expect(summary.locator("strong")).to_have_text(headline)
        expect(summary).to_have_class(re.compile(rf"\b{worst}\b"))
        expect(page.locator("#services details")).to_have_count(0)  # no groups: no headings
    entries[:] = [_entry(1, "shop", "up", None), _entry(2, "api", "up", None)]
    page.reload()
    expect(summary).to_have_text("All systems operational. All 2 services are up.")


def test_status_page_by_group_with_maintenance_and_tags(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
    page: Page,
    tmp_path: Path,
) -> None:
    """Services registered by group and tag; a window on now puts one in maintenance, another
    coming is listed in the reader's time; ?tag= shows only the services tagged so."""
    site = serve(create_app(make_runtime(with_poller=True), validate_responses=True))
    operator = make_account("operator@example.com")
    with Target("up") as target:
        shop = register(site, operator, "shop", target, True, group="Web", tags=["edge"])
        blog = register(site, operator, "blog", target, True, group="Web")
        db = register(site, operator, "db", target, True, group="Data", tags=["backend"])
        wiki = register(site, operator, "wiki", target, True)
        for service in (shop, blog, db, wiki):

            def up(service: int = service) -> bool:
                return bool(service_of(site, operator, service)["status"] == "up")

            wait_until(up)

        now = _create_maintenance(
            site,
            operator,
            title="Database upgrade",
            service_ids=[db],
            starts_at=iso(timedelta(minutes=-1)),
            ends_at=iso(timedelta(hours=1)),
        )
        coming_start = iso(timedelta(days=2))
        coming = _create_maintenance(
            site,
            operator,
            title="Shop move",
            service_ids=[shop],
            starts_at=coming_start,
            ends_at=iso(timedelta(days=2, hours=3)),
        )
        wait_until(lambda: service_of(site, operator, db)["status"] == "maintenance")

        page.goto(site + "/")
        summary = page.locator("#summary")
        expect(summary).to_have_text(
            "Maintenance in progress. 1 service under maintenance, 3 operational."
        )
        expect(summary).to_have_class(re.compile(r"\bmaintenance\b"))
        groups = page.locator("#services details.group")
        expect(groups.locator("summary h2")).to_have_text(["Web", "Data", "Other services"])
        expect(groups.nth(0).locator("summary")).to_contain_text("2 of 2 operational")
        expect(groups.nth(0)).to_have_class(re.compile(r"\bup\b"))
        expect(groups.nth(1).locator("summary")).to_contain_text("0 of 1 operational")
        expect(groups.nth(1)).to_have_class(re.compile(r"\bmaintenance\b"))
        expect(groups.nth(2).locator(f'[data-service-id="{wiki}"]')).to_be_visible()
        db_card = page.locator(f'[data-service-id="{db}"]')
        expect(db_card).to_have_class(re.compile(r"\bmaintenance\b"))
        expect(db_card.locator(".badge")).to_have_text("Under maintenance")

        section = page.locator("#maintenance")
        active = section.locator(f'li.active[data-maintenance-id="{now}"]')
        expect(active).to_contain_text("Database upgrade")
        expect(active).to_contain_text("Affects: db")
        upcoming = section.locator(f'li.upcoming[data-maintenance-id="{coming}"]')
        expect(upcoming).to_contain_text("Shop move")
        expect(upcoming).to_contain_text("Affects: shop")
        local = page.evaluate(f"new Date({coming_start!r}).toLocaleString()")
        expect(upcoming.locator("time").first).to_have_text(local)
        # Above the services.
        assert section.evaluate(
            "(s) => !!(s.compareDocumentPosition(document.getElementById('services')) & 4)"
        )
        page.screenshot(path=tmp_path / "status-groups.png", full_page=True)
        fits_a_phone(page, tmp_path / "status-groups-phone.png")

        # Only the services tagged edge, asked of the API; the window of db is not theirs.
        page.goto(site + "/?tag=edge")
        expect(page.locator("#filter")).to_contain_text("edge")
        expect(page.locator(f'[data-service-id="{shop}"]')).to_be_visible()
        expect(page.locator("[data-service-id]")).to_have_count(1)
        expect(page.locator("#summary")).to_have_text("All systems operational.")
        expect(section.locator(f'[data-maintenance-id="{coming}"]')).to_be_visible()
        expect(section.locator(f'[data-maintenance-id="{now}"]')).to_have_count(0)

        # The dashboard: the status, group and tags on the cards, the SLA, the windows.
        open_dashboard(page, site, operator)
        db_card = page.locator(f'#services [data-service-id="{db}"]')
        expect(db_card).to_have_class(re.compile(r"\bmaintenance\b"))
        expect(db_card.locator(".badge")).to_have_text("Maintenance")
        expect(db_card.locator(".labels")).to_have_text(re.compile(r"Group: Data\s*backend"))
        expect(db_card.locator("table.stats")).to_contain_text("SLA (maintenance excluded)")
        windows = page.locator("#maintenances")
        expect(windows.locator(f'[data-maintenance-id="{now}"]')).to_contain_text(
            re.compile(r"Database upgrade.*Active now, until .*Covers #\d+ \(db\)")
        )
        expect(windows.locator(f'[data-maintenance-id="{coming}"]')).to_contain_text(
            f"Next: {local}"
        )
        page.screenshot(path=tmp_path / "dashboard-maintenance.png", full_page=True)
        fits_a_phone(page, tmp_path / "dashboard-maintenance-phone.png")


def _create_maintenance(site: str, account: Account, **fields: Any) -> int:
    created = httpx.post(f"{site}/v1/maintenances", headers=account.headers, json=fields)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_dashboard_shows_flapping_causes_and_every_alert_kind(
    site: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """What timing produces (flapping, a downtime caused by a dependency, alerts of each kind,
    alerts not sent), as the API gives it."""
    operator = make_account("operator@example.com")
    api = register(site, operator, "api", "http://127.0.0.1:9/", public=False)
    shop = register(site, operator, "shop", "http://127.0.0.1:9/", public=False, tags=["edge"])
    downtime = {
        "id": 1,
        "event": "downtime",
        "date_started": iso(timedelta(minutes=-3)),
        "date_ended": None,
        "reason": "status 503",
        "caused_by": api,
    }
    changes: dict[str, dict[str, Any]] = {
        "api": {"status": "pending", "flapping": True},
        "shop": {"status": "down", "latest_event": downtime, "managed": True},
    }

    def services(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for service in body["data"]:
            service.update(changes[service["name"]])
        route.fulfill(response=answer, json=body)

    def alert(number: int, kind: str, **more: Any) -> dict:
        return {
            "id": number,
            "service_id": shop,
            "service_name": "shop",
            "kind": kind,
            "rule": "failures",
            "message": f"shop: {kind}",
            "availability_percent": None,
            "window_seconds": 60,
            "time": iso(timedelta(minutes=-number)),
            "downtime_seconds": None,
            "delivery_status": "none",
            "deliveries": [],
            "suppressed_by": None,
            "held": False,
            **more,
        }

    alerts = [
        alert(1, "down", suppressed_by=api),
        alert(2, "recovered"),
        alert(3, "degraded"),
        alert(4, "flapping", held=True),
        alert(5, "stable"),
    ]
    page.route(re.compile(r"/v1/services\?"), services)
    page.route(
        re.compile(r"/v1/alerts\?"),
        lambda route: route.fulfill(json={"data": alerts, "next_cursor": None}),
    )
    open_dashboard(page, site, operator)

    api_card = page.locator(f'#services [data-service-id="{api}"]')
    expect(api_card.locator(".badge")).to_have_text("Pending")
    expect(api_card).to_have_class(re.compile(r"\bpending\b"))
    expect(api_card.locator(".flag.flapping")).to_have_text("Flapping")
    shop_card = page.locator(f'#services [data-service-id="{shop}"]')
    expect(shop_card.locator(".badge")).to_have_text("Down")
    expect(shop_card.locator(".cause")).to_have_text(f"Down, caused by #{api} (api)")
    expect(shop_card.locator(".labels .tag")).to_have_text(["edge"])
    expect(api_card.locator(".cause")).to_have_count(0)

    feed = page.locator("#alerts")
    kinds = {
        "down": "Down",
        "recovered": "Recovered",
        "degraded": "Degraded",
        "flapping": "Flapping",
        "stable": "Stable",
    }
    for kind, word in kinds.items():
        expect(feed.locator(f"li.alert.{kind} .kind")).to_have_text(word)
    colours = {
        feed.locator(f"li.alert.{kind}").evaluate("(li) => getComputedStyle(li).borderLeftColor")
        for kind in kinds
    }
    assert len(colours) == len(kinds), "two alert kinds look alike"
    expect(feed.locator("li.alert.down")).to_contain_text(f"not sent: depends on #{api} (api)")
    expect(feed.locator("li.alert.down")).to_have_class(re.compile(r"\bunsent\b"))
    expect(feed.locator("li.alert.flapping")).to_contain_text("held while flapping")
    expect(feed.locator("li.alert.recovered")).not_to_have_class(re.compile(r"\bunsent\b"))
    expect(page.locator("#maintenances")).to_contain_text("No maintenance windows.")
    page.screenshot(path=tmp_path / "dashboard-kinds.png", full_page=True)

    page.route(re.compile(rf"/v1/services/{shop}$"), lambda route: _patched(route, changes["shop"]))
    page.goto(f"{site}/dashboard#service/{shop}")
    facts = page.locator(f'#service-view [data-service-id="{shop}"] .facts')
    expect(facts).to_contain_text(re.compile(rf"Caused by\s*#{api} \(api\)"))
    expect(facts).to_contain_text(re.compile(r"Tags\s*edge"))
    expect(facts).to_contain_text(re.compile(r"Configuration\s*managed as code"))


def test_the_alert_feed_keeps_the_newest_200_and_pages_back_from_the_oldest_kept(
    site: str, make_account: Callable[..., Account], page: Page
) -> None:
    """A tab left open through many alerts keeps the newest 200 in its feed (it kept every
    alert of every refresh, ten DOM nodes each: scripts/bench/tab_memory.py found the tab
    growing), and "Older alerts" goes on from the oldest one kept, with no alert left out."""
    operator = make_account("operator@example.com")
    shop = register(site, operator, "shop", "http://127.0.0.1:9/", public=False)
    start = datetime.now(UTC) - timedelta(days=1)
    alerts: list[dict[str, Any]] = []  # newest first, as the API lists them
    raising = {"per_refresh": 40, "until": 320}  # alerts raised at each refresh, up to

    def raise_alerts(count: int) -> None:
        for _ in range(count):
            number = len(alerts) + 1
            at = start + timedelta(seconds=number)
            alerts.insert(0, {
                "id": number, "service_id": shop, "service_name": "shop", "kind": "down",
                "rule": "failures", "message": f"alert {number}", "availability_percent": None,
                "window_seconds": 60, "time": at.isoformat().replace("+00:00", "Z"),
                "downtime_seconds": None, "delivery_status": "none", "deliveries": [],
                "suppressed_by": None, "held": False,
            })  # fmt: skip

    asked: list[dict[str, list[str]]] = []

    def listed(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        asked.append(query)
        if "cursor" not in query and "until" not in query and len(alerts) < raising["until"]:
            raise_alerts(raising["per_refresh"])
        rows = alerts
        if "until" in query:
            until = datetime.fromisoformat(query["until"][0])
            rows = [a for a in rows if datetime.fromisoformat(a["time"]) < until]
        if "cursor" in query:
            rows = [a for a in rows if a["id"] < int(query["cursor"][0])]
        limit = int(query["limit"][0])
        more = len(rows) > limit
        route.fulfill(
            json={"data": rows[:limit], "next_cursor": rows[limit - 1]["id"] if more else None}
        )

    page.route(re.compile(r"/v1/alerts\?"), listed)
    settings = json.dumps({"shortRefresh": 1})
    page.add_init_script(f"localStorage.setItem('statuschecker.dashboard.settings', '{settings}')")
    open_dashboard(page, site, operator)
    feed = page.locator("#alerts li.alert")
    expect(feed.first).to_have_attribute("data-alert-id", "320", timeout=30_000)
    expect(feed).to_have_count(200)
    shown = [int(n) for n in feed.evaluate_all("(items) => items.map((li) => li.dataset.alertId)")]
    assert shown == list(range(320, 120, -1))

    asked.clear()
    page.locator("#older-alerts").click()  # from alert 121's time: 121 again (left out), 120...
    expect(feed).to_have_count(249)
    older = next(q for q in asked if "until" in q)
    assert datetime.fromisoformat(older["until"][0]) > datetime.fromisoformat(alerts[199]["time"])
    page.locator("#older-alerts").click()
    expect(feed).to_have_count(299)
    shown = [int(n) for n in feed.evaluate_all("(items) => items.map((li) => li.dataset.alertId)")]
    assert shown == list(range(320, 21, -1))
    page.wait_for_timeout(2500)  # refreshes without new alerts keep what was asked for
    expect(feed).to_have_count(299)


def _patched(route: Route, changes: dict[str, Any]) -> None:
    try:
        answer = route.fetch()
        body = answer.json()
    except PlaywrightError:  # the page went away with the request in flight
        return
    route.fulfill(response=answer, json={**body, **changes})


def test_dashboard_filters_by_status_tag_and_name_kept_in_the_url(
    site: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """Services never checked (no poller: unknown) and one paused; the filters in the query
    string pick exactly the right cards, asked of the API, and a change of filter (the name as
    it is typed, once the typing pauses) is written to the URL and survives a reload."""
    operator = make_account("operator@example.com")
    dead = "http://127.0.0.1:9/"
    eu_shop = register(site, operator, "eu-shop", dead, False, tags=["eu", "web"])
    us_shop = register(site, operator, "US-Shop", dead, False, tags=["us", "web"])
    eu_db = register(site, operator, "eu-db", dead, False, tags=["eu"])
    wiki = register(site, operator, "wiki", dead, False)
    paused = httpx.patch(
        f"{site}/v1/services/{eu_db}", headers=operator.headers, json={"paused": True}
    )
    assert paused.status_code == 200, paused.text
    assert service_of(site, operator, eu_db)["status"] == "paused"
    assert service_of(site, operator, eu_shop)["status"] == "unknown"
    cards = page.locator("#services [data-service-id]")
    count = page.locator("#shown-count")
    clear = page.locator("#clear-filters")

    def shown(*ids: int) -> None:
        expect(cards).to_have_count(len(ids))
        for service in ids:
            expect(page.locator(f'#services [data-service-id="{service}"]')).to_be_visible()

    asked: list[str] = []  # the name filters the page asked the API for
    page.on("request", lambda r: asked.extend(parse_qs(urlsplit(r.url).query).get("name", [])))

    open_dashboard(page, site, operator, "?tag=eu")
    shown(eu_shop, eu_db)
    expect(count).to_have_text("2 services shown (of 4)")
    expect(page.locator("#filter-tag")).to_have_value("eu")
    expect(page.locator("#tag-options option")).to_have_count(3)  # eu, us, web
    assert page.eval_on_selector_all("#tag-options option", "os => os.map(o => o.value)") == [
        "eu",
        "us",
        "web",
    ]
    expect(clear).to_be_visible()
    page.screenshot(path=tmp_path / "dashboard-filtered.png", full_page=True)

    page.goto(site + "/dashboard?status=paused")
    shown(eu_db)
    expect(page.locator("#filter-status")).to_have_value("paused")
    expect(count).to_have_text("1 service shown (of 4)")

    page.goto(site + "/dashboard?q=shop")  # part of the name, in any case
    shown(eu_shop, us_shop)
    page.goto(site + "/dashboard?tag=web&q=eu")
    shown(eu_shop)
    page.goto(site + "/dashboard?status=bogus")  # ignored: every service
    shown(eu_shop, us_shop, eu_db, wiki)
    expect(count).to_have_text("4 services shown")
    expect(clear).to_be_hidden()

    # Changing the filters: the URL follows; the name applies once the typing pauses.
    page.select_option("#filter-status", "unknown")
    shown(eu_shop, us_shop, wiki)
    expect(page).to_have_url(re.compile(r"/dashboard\?status=unknown$"))
    page.locator("#filter-name").press_sequentially("SHO", delay=40)
    shown(eu_shop, us_shop)
    expect(page).to_have_url(re.compile(r"\?status=unknown&q=SHO$"))
    assert set(asked) == {"shop", "eu", "SHO"}, asked  # never "S" nor "SH"
    page.fill("#filter-tag", "us")
    shown(us_shop)
    expect(page).to_have_url(re.compile(r"\?status=unknown&tag=us&q=SHO$"))

    page.reload()
    shown(us_shop)
    expect(page.locator("#filter-status")).to_have_value("unknown")
    expect(page.locator("#filter-tag")).to_have_value("us")
    expect(page.locator("#filter-name")).to_have_value("SHO")

    page.fill("#filter-name", "nothing like it")
    expect(page.locator("#services")).to_have_text("No service matches these filters.")
    expect(count).to_have_text("0 services shown (of 4)")

    clear.click()
    shown(eu_shop, us_shop, eu_db, wiki)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#filter-name")).to_have_value("")
    expect(clear).to_be_hidden()
    fits_a_phone(page, tmp_path / "dashboard-filtered-phone.png")


# ---- heartbeats ------------------------------------------------------------------------


def _heartbeat(site: str, account: Account, name: str, **fields: Any) -> dict[str, Any]:
    """Register a heartbeat (`heartbeat` and more fields in `fields`); the API's answer."""
    created = httpx.post(
        f"{site}/v1/services", headers=account.headers, json={"name": name, **fields}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def _ping(url: str, body: str | None = None) -> None:
    """One ping, as a job sends it (POST with its output, or GET without)."""
    answer = httpx.post(url, content=body) if body is not None else httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.text == "OK"


def test_dashboard_shows_a_heartbeat_its_ping_url_and_its_ping_log(
    site: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    """A heartbeat has no URL checked: its card says its schedule, last ping, due and late times
    and runs going on, with its ping URL masked as the list gives it; its page has the whole
    ping URL (copied by a button, replaced by another after a confirmation), the run durations
    labelled as such, and the ping log with each run's output, bounded and paginated."""
    operator = make_account("operator@example.com")
    backup = _heartbeat(
        site,
        operator,
        "backup",
        public=True,
        heartbeat={"interval_seconds": 3600, "grace_seconds": 300, "max_duration_seconds": 600},
    )
    nightly = _heartbeat(
        site,
        operator,
        "nightly",
        heartbeat={"cron": "0 3 * * *", "timezone": "Europe/Berlin", "grace_seconds": 1800},
    )
    ping_url = backup["ping_url"]
    key = ping_url.rsplit("/", 1)[1]
    output = "".join(f"copied file {n}\n" for n in range(1, 301)) + "backup done\n"
    _ping(f"{ping_url}/fail", "disk full\n")
    _ping(f"{ping_url}/start?rid=r1")
    _ping(f"{ping_url}/0?rid=r1", output)
    _ping(f"{ping_url}/start?rid=r2")  # still running
    listed = httpx.get(f"{site}/v1/services", headers=operator.headers).json()["data"]
    masked = next(s["ping_url"] for s in listed if s["id"] == backup["id"])
    assert key not in masked

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_dashboard(page, site, operator)
    card = page.locator(f'#services [data-service-id="{backup["id"]}"]')
    expect(card).to_have_class(re.compile(r"\bup\b"))
    expect(card.locator(".meta .kind")).to_have_text("heartbeat")
    expect(card.locator(".meta .url")).to_have_text(masked)
    expect(card).not_to_contain_text(key)
    expect(card.locator(".heartbeat .schedule")).to_have_text("Every 1 h, grace 5 min")
    expect(card.locator(".heartbeat .last-ping")).to_contain_text(
        re.compile(r"Last ping (now|\d+ s ago)")
    )
    expect(card.locator(".heartbeat .due")).to_contain_text(re.compile(r"due in (59 min|1 h)"))
    expect(card.locator(".heartbeat .late")).to_contain_text(re.compile(r"late in 1 h (4|5) min"))
    expect(card.locator(".heartbeat .running")).to_contain_text(
        re.compile(r"Running: r2 \(started")
    )
    stats = card.locator("table.stats")
    expect(stats).to_contain_text("Run duration avg / max")
    expect(stats).not_to_contain_text("Response avg")
    expect(stats).to_contain_text(
        re.compile(rf"Outcomes\s*up {TIMES}1, failure reported {TIMES}1"), timeout=15_000
    )
    cron_card = page.locator(f'#services [data-service-id="{nightly["id"]}"]')
    expect(cron_card.locator(".badge")).to_have_text("No ping yet")
    expect(cron_card.locator(".heartbeat .schedule")).to_have_text(
        "Cron 0 3 * * * (Europe/Berlin), grace 30 min"
    )
    expect(cron_card.locator(".heartbeat .last-ping")).to_have_text("Last ping never")
    page.screenshot(path=tmp_path / "dashboard-heartbeats.png", full_page=True)
    fits_a_phone(page, tmp_path / "dashboard-heartbeats-phone.png")

    # Its page: the schedule and limits, the whole ping URL, the runs, no phases.
    card.get_by_role("link", name="backup").click()
    view = page.locator(f'#service-view [data-service-id="{backup["id"]}"]')
    facts = view.locator(".facts")
    expect(facts).to_contain_text(re.compile(r"Schedule\s*Every 1 h"))
    expect(facts).to_contain_text(re.compile(r"Longest run\s*10 min: a run taking longer is down"))
    expect(facts).to_contain_text(re.compile(r"Running\s*r2 \(started"))
    full = view.locator("input.ping-url-full")
    expect(full).to_have_value(ping_url)
    expect(view.locator(".check-chart")).to_have_count(0)
    expect(view.locator("table.list").last.locator("thead")).to_contain_text("Run duration")
    view.get_by_role("button", name="Copy").click()
    expect(view.locator(".ping-url-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == ping_url

    # The ping log, newest first, each run's output closed until asked for.
    log = view.locator(".ping-log li.ping")
    expect(log).to_have_count(4)
    assert log.evaluate_all("(items) => items.map((li) => li.className)") == [
        "ping start",
        "ping success",
        "ping start",
        "ping fail",
    ]
    finished = log.nth(1)
    expect(finished.locator(".what")).to_contain_text(
        re.compile(r"Success\s*exit status 0\s*run r1\s*took [\d.]+ ms\s*from 127\.0\.0\.1")
    )
    pre = finished.locator("details.log pre")
    expect(pre).to_be_hidden()
    finished.locator("details.log summary").click()
    expect(pre).to_be_visible()
    expect(pre).to_contain_text("backup done")
    # Bounded: a box that scrolls, opened at the end of the output.
    assert pre.evaluate("(p) => p.scrollHeight > p.clientHeight + 100 && p.scrollTop > 0")
    expect(log.nth(3)).to_contain_text("Failure")
    expect(log.nth(3).locator("details.log summary")).to_have_text("Output (10 B)")
    expect(view.locator("button.older-pings")).to_have_count(0)
    page.screenshot(path=tmp_path / "service-heartbeat.png", full_page=True)
    fits_a_phone(page, tmp_path / "service-heartbeat-phone.png")

    # A new key only once confirmed; then the old URL is refused and the new one works.
    page.once("dialog", lambda dialog: dialog.dismiss())
    view.get_by_role("button", name="New key…").click()
    expect(full).to_have_value(ping_url)
    assert service_of(site, operator, backup["id"])["ping_url"] == ping_url
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    view.get_by_role("button", name="New key…").click()
    expect(full).not_to_have_value(ping_url)
    expect(view.locator(".ping-url-status")).to_contain_text("the old one no longer works")
    assert "stops working at once" in messages[0]
    new_url = service_of(site, operator, backup["id"])["ping_url"]
    expect(full).to_have_value(new_url)
    assert httpx.get(ping_url).status_code == 404
    _ping(new_url)

    # More pings than a page: the older ones come on demand.
    for _ in range(22):
        _ping(new_url)
    every = httpx.get(
        f"{site}/v1/services/{backup['id']}/pings?limit=500", headers=operator.headers
    ).json()["data"]
    assert len(every) == 27
    page.reload()
    expect(log).to_have_count(20)
    view.get_by_role("button", name="Older pings").click()
    expect(log).to_have_count(27)
    expect(view.locator("button.older-pings")).to_have_count(0)
    expect(log.last).to_contain_text("Failure")

    # The status page: the public heartbeat in words, its run durations, never its ping URL.
    page.goto(site + "/")
    public = page.locator(f'[data-service-id="{backup["id"]}"]')
    expect(public.locator(".meta .kind")).to_have_text("heartbeat")
    expect(public).to_contain_text("Run duration, last 24 hours")
    expect(page.locator(f'[data-service-id="{nightly["id"]}"]')).to_have_count(0)
    content = page.content()
    assert "/ping/" not in content
    assert new_url.rsplit("/", 1)[1] not in content
    page.screenshot(path=tmp_path / "status-heartbeat.png", full_page=True)


def test_dashboard_counts_heartbeat_failures_by_rule_and_says_when_paused(
    site: str, make_account: Callable[..., Account], page: Page
) -> None:
    """A heartbeat's failures are counted by rule (the API's outcomes `late`, `ran too long`,
    ...), with exit statuses as they are. A paused heartbeat expects no ping."""
    operator = make_account("operator@example.com")
    job = _heartbeat(site, operator, "job", heartbeat={"interval_seconds": 60, "grace_seconds": 0})
    paused = httpx.patch(
        f"{site}/v1/services/{job['id']}", headers=operator.headers, json={"paused": True}
    )
    assert paused.status_code == 200, paused.text

    def stats(route: Route) -> None:
        try:
            answer = route.fetch()
            body = answer.json()
        except PlaywrightError:  # the page went away with the request in flight
            return
        body.update(
            checks=9,
            successful=3,
            failed=6,
            status_codes={
                "unknown": 3,
                "late": 3,
                "ran too long": 1,
                "exit status 2": 1,
                "ran too often": 1,
            },
        )
        route.fulfill(response=answer, json=body)

    page.route(re.compile(r"/v1/services/\d+/stats\?"), stats)
    open_dashboard(page, site, operator)
    card = page.locator(f'#services [data-service-id="{job["id"]}"]')
    expect(card.locator(".badge")).to_have_text("Paused")
    expect(card.locator(".heartbeat .due")).to_have_text("paused: pings are ignored")
    expect(card.locator(".heartbeat .late")).to_have_count(0)
    expect(card.locator("table.stats")).to_contain_text(
        re.compile(
            rf"Outcomes\s*up {TIMES}3, late {TIMES}3, ran too long {TIMES}1, "
            rf"exit status 2 {TIMES}1, ran too often {TIMES}1"
        )
    )
    page.goto(f"{site}/dashboard#service/{job['id']}")
    facts = page.locator(f'#service-view [data-service-id="{job["id"]}"] .facts')
    expect(facts).to_contain_text(re.compile(r"Next ping\s*not expected while paused"))
    expect(facts).to_contain_text(re.compile(r"Paused\s*yes: its pings are ignored"))

    # Shown masked (to a read-only token, to an admin looking at another account's heartbeat):
    # said so, and nothing to copy.
    masked = f"{site}/ping/abcd********"
    page.route(
        re.compile(rf"/v1/services/{job['id']}$"),
        lambda route: _patched(route, {"ping_url": masked}),
    )
    page.reload()
    box = page.locator(f'#service-view [data-service-id="{job["id"]}"] .ping-url')
    expect(box.locator("input.ping-url-full")).to_have_value(masked)
    expect(box.get_by_role("button", name="Copy")).to_be_disabled()
    expect(box.locator(".masked")).to_contain_text("Shown masked")
    # The dashboard refreshes on its own: no route may answer a request after the test.
    page.unroute_all(behavior="ignoreErrors")


def test_the_status_page_names_every_kind_of_check(
    site: str, page: Page, account: Account, tmp_path: Path
) -> None:
    """The kinds added beside http, tcp, icmp, dns and tls are named in words on the cards."""
    kinds = {
        "game": ("udp://127.0.0.1:27015", "UDP check"),
        "feed": ("wss://127.0.0.1:8443/stream", "WebSocket check"),
        "mail": ("smtp+starttls://127.0.0.1:587", "mail server check (SMTP)"),
        "orders": ("grpc://127.0.0.1:50051/shop.Orders", "gRPC health check"),
        "db": ("postgresql://monitor:pw@127.0.0.1/shop", "PostgreSQL check"),
        "shop": ("mysql://monitor:pw@127.0.0.1/shop", "MySQL check"),
        "cache": ("redis://:pw@127.0.0.1:6379/0", "Redis check"),
    }
    ids = {name: register(site, account, name, url, True) for name, (url, _) in kinds.items()}
    page.goto(site + "/")
    for name, (_, words) in kinds.items():
        expect(page.locator(f'[data-service-id="{ids[name]}"] .kind')).to_have_text(words)
    page.screenshot(path=tmp_path / "status-kinds.png", full_page=True)


def test_dashboard_shows_where_pollers_check_from(
    site: str, page: Page, account: Account, db: Engine
) -> None:
    with db.begin() as conn:
        pollers.seen(conn, "h1:1:aa", "eu-west", "h1", "0.1.0")
        pollers.seen(conn, "h2:2:bb", "us-east", "h2", "0.1.0")
        pollers.stopped(conn, "h2:2:bb")
    open_dashboard(page, site, account)
    feed = page.locator("#locations")
    expect(feed.locator('[data-location="eu-west"]')).to_contain_text("live")
    expect(feed.locator('[data-location="eu-west"]')).to_contain_text("1 poller reporting")
    expect(feed.locator('[data-location="us-east"]')).to_contain_text("stale")
    expect(feed.locator('[data-location="us-east"]')).to_contain_text("0 pollers reporting")


def test_dashboard_shows_where_a_service_fails_from(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    site: str,
    page: Page,
    account: Account,
    db: Engine,
) -> None:
    """A service checked from two locations, down from one of them (not a quorum): its card
    says where it fails from, its page what each location says and its figures, and so does
    the status page."""
    quiet = serve(create_app(make_runtime()))  # registered where the site's cache cannot see
    sid = register(quiet, account, "shop", "http://127.0.0.1:9/", True, locations=["a", "b"])
    with db.begin() as conn:
        pollers.seen(conn, "h1:1:aa", "a", "h1", "0.1.0")
        now = datetime.now(UTC)
        partitions.ensure(conn, {partitions.day_of(now - timedelta(minutes=5)), now.date()})
        for statement in (
            "UPDATE services SET failing_locations = '{a}', stale_locations = '{b}' WHERE id = :id",
            "INSERT INTO service_events (service_id, event, date_started) "
            "VALUES (:id, 'uptime', now() - interval '1 hour')",
            "UPDATE service_locations SET confirmed = 'downtime', confirmed_at = now(), "
            "last_checked_at = now(), last_up = false, last_error = 'status 503' "
            "WHERE service_id = :id AND location = 'a'",
            "UPDATE service_locations SET confirmed = 'uptime', confirmed_at = now() "
            "WHERE service_id = :id AND location = 'b'",
            "INSERT INTO service_ticks (service_id, checked_at, up, location, response_time_ms) "
            "VALUES (:id, now() - interval '5 minutes', false, 'a', NULL), "
            "(:id, now() - interval '4 minutes', true, 'a', 40), "
            "(:id, now() - interval '3 minutes', true, 'b', 20)",
        ):
            conn.execute(sql(statement), {"id": sid})
    open_dashboard(page, site, account)
    card = page.locator(f'#services [data-service-id="{sid}"]')
    expect(card).to_contain_text("Failing from a")
    expect(card.locator(".stale-locations")).to_have_text("No poller reporting from b")
    expect(card.locator(".badge")).to_contain_text(re.compile("degraded", re.I))
    page.goto(f"{site}/dashboard#service/{sid}")
    facts = page.locator(f'#service-view [data-service-id="{sid}"] .facts')
    failed = re.compile(r"From a\s*down since .*last check failed: status 503")
    expect(facts).to_contain_text(failed)
    expect(facts).to_contain_text(re.compile(r"From b\s*stale \(counts for neither side\): up"))
    expect(facts).to_contain_text("a majority of the live ones")
    per_location = page.locator("#service-view table.per-location")
    expect(per_location.locator('[data-location="a"]')).to_contain_text("50 %")
    expect(per_location.locator('[data-location="a"]')).to_contain_text("2 (1)")
    expect(per_location.locator('[data-location="b"]')).to_contain_text("1 (0)")
    page.goto(site + "/")  # the status page says it too
    expect(page.locator(f'[data-service-id="{sid}"]')).to_contain_text("Failing from a")


def test_a_journeys_page_shows_each_step_and_where_the_latest_check_failed(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    site: str,
    page: Page,
    account: Account,
    db: Engine,
    tmp_path: Path,
) -> None:
    """Ticks of a three-step journey: its page has a row per step with its figures, the
    latest check's failing step in red with its reason, and the steps in the results."""
    quiet = serve(create_app(make_runtime()))
    steps = [{"name": "log in", "url": "/login"}, {"name": "order", "url": "/orders"},
             {"name": "pay", "url": "/pay"}]  # fmt: skip
    sid = register(quiet, account, "checkout", "journey+http://127.0.0.1:9", True, steps=steps)

    def run(ms: tuple[float, ...], failed: str | None) -> str:
        done = [{"name": s["name"], "up": True, "status_code": 200, "response_time_ms": t,
                 "error": None} for s, t in zip(steps, ms, strict=False)]  # fmt: skip
        if failed:
            done[-1] |= {"up": False, "status_code": 500, "error": failed}
        return json.dumps(done)

    with db.begin() as conn:
        now = datetime.now(UTC)
        partitions.ensure(conn, {partitions.day_of(now - timedelta(minutes=5)), now.date()})
        for minutes, up, ms, failed in (
            (5, True, (10.0, 20.0, 30.0), None),
            (4, True, (12.0, 22.0, 32.0), None),
            (3, False, (11.0, 21.0), "status 500 not in 200-299"),
        ):
            conn.execute(
                sql(
                    "INSERT INTO service_ticks (service_id, checked_at, up, status_code, "
                    "response_time_ms, error, steps) VALUES (:id, now() - make_interval("
                    "mins => :m), :up, :code, :total, :error, :steps)"
                ),
                {
                    "id": sid,
                    "m": minutes,
                    "up": up,
                    "code": 200 if up else 500,
                    "total": sum(ms) if up else None,
                    "steps": run(ms, failed),
                    "error": None if up else f"step 2 (order): {failed}",
                },
            )
    open_dashboard(page, site, account)
    page.goto(f"{site}/dashboard#service/{sid}")
    per_step = page.locator("#service-view table.per-step")
    expect(per_step.locator('[data-step="log in"]')).to_contain_text("3 (0)")
    expect(per_step.locator('[data-step="log in"]')).to_contain_text("11 ms")
    expect(per_step.locator('[data-step="order"]')).to_contain_text("3 (1)")
    expect(per_step.locator('[data-step="order"]')).to_contain_text("status 500 not in 200-299")
    expect(per_step.locator('[data-step="order"]')).to_have_class(re.compile("down"))
    expect(per_step.locator('[data-step="pay"]')).to_contain_text("2 (0)")
    expect(per_step.locator('[data-step="pay"]')).to_contain_text("not reached")
    results = page.locator("#service-view table.list").last
    expect(results).to_contain_text("log in 11 ms → order ✗")
    page.screenshot(path=tmp_path / "journey.png", full_page=True)


def test_the_dashboard_shows_2000_services_as_a_table_from_one_request_a_refresh(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
    page: Page,
    tmp_path: Path,
) -> None:
    """Beyond 50 services the overview is a table of rows, a page of 100 from one request
    (GET /v1/services:stats) a refresh: sorted by a heading, filtered by group and name, paged,
    all of it kept in the URL so that a reload (or a shared link) shows the same."""
    site = serve(create_app(make_runtime(max_services_per_user=2000)))
    operator = make_account("operator@example.com")
    for first in (0, 1000):
        batch = [
            {"name": f"svc-{i:04d}", "url": f"http://127.0.0.1:9/{i}",
             "group": f"group-{i % 10}", "tags": ["eu" if i % 2 else "us"]}
            for i in range(first, first + 1000)
        ]  # fmt: skip
        answer = httpx.post(f"{site}/v1/services:batch", headers=operator.headers,
                            json={"services": batch}, timeout=60)  # fmt: skip
        assert answer.status_code == 201, answer.text
    page.add_init_script(
        "localStorage.setItem('statuschecker.dashboard.settings',"
        " JSON.stringify({shortRefresh: 1, longRefresh: 60}))"
    )
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/services" in r.url else None)
    began = time.monotonic()
    open_dashboard(page, site, operator)
    rows = page.locator("#services table.dense tbody tr")
    expect(rows).to_have_count(100)
    print(f"first render of the table of 2,000 services: {time.monotonic() - began:.2f} s")
    count = page.locator("#shown-count")
    expect(count).to_have_text("1 to 100 of 2000 services")
    expect(rows.first).to_contain_text("svc-0000")
    page.screenshot(path=tmp_path / "dashboard-table.png", full_page=True)

    asked.clear()
    page.wait_for_timeout(2500)  # two refreshes at least, a second apart
    assert len(asked) >= 2 and all("/v1/services:stats?" in url for url in asked), asked

    page.locator('button.sort[data-sort="name"]').click()  # by name again: the other way
    expect(rows.first).to_contain_text("svc-1999")
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Name")
    page.fill("#filter-group", "group-3")
    expect(count).to_have_text("1 to 100 of 200 services")
    expect(rows.first).to_contain_text("svc-1993")
    page.fill("#filter-name", "svc-19")
    expect(count).to_have_text("1 to 10 of 10 services")
    assert all(
        part in page.url for part in ("group=group-3", "q=svc-19", "sort=name", "order=desc")
    )
    page.reload()  # the view as the URL keeps it
    expect(count).to_have_text("1 to 10 of 10 services")
    expect(rows.first).to_contain_text("svc-1993")

    page.locator("#clear-filters").click()
    expect(count).to_have_text("1 to 100 of 2000 services")
    page.locator("#next-page").click()
    expect(count).to_have_text("101 to 200 of 2000 services")
    expect(rows.first).to_contain_text("svc-1899")
    page.locator("#previous-page").click()
    expect(rows.first).to_contain_text("svc-1999")
    rows.first.get_by_role("link").click()  # a row leads to the service's own page
    expect(page.locator("#service-view h2")).to_have_text("svc-1999")
    page.go_back()
    fits_a_phone(page, tmp_path / "dashboard-table-phone.png")
