"""Every page at a desktop's width (1280 px) and a phone's (390 px), in headless Chromium: the
public status pages and their history, the dashboard's log-in, cards, table, a service's, a
heartbeat's and a journey's page. At each width nothing scrolls sideways; the screenshots are
kept (in $SCREENSHOTS_DIR when set, else the test's tmp_path) to be looked at."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from accounts import Account
from browsing import created, iso, open_dashboard, register
from playwright.sync_api import Page, expect

WIDTHS = (1280, 390)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _at_each_width(page: Page, shots: Path, name: str, ready: str) -> None:
    """Screenshots of the page as it is at each width, once `ready` (a selector) shows; at
    none of them may the page be wider than the window."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        expect(page.locator(ready).first).to_be_visible()
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        assert scrolled <= width, f"{name} at {width} px is {scrolled} px wide"
        page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)


def test_every_page_at_a_desktops_and_a_phones_width(
    site: str, make_account: Callable[..., Account], page: Page, shots: Path
) -> None:
    operator = make_account("operator@example.com")
    dead = "http://127.0.0.1:9/"
    shop = register(site, operator, "shop", dead, True, group="Web")
    api = register(site, operator, "payments-api-with-a-rather-long-name", dead, True, group="Web")
    register(site, operator, "db", dead, True, group="Data")
    steps = [{"name": "log in", "url": "/login"}, {"name": "order", "url": "/orders"}]
    journey = register(site, operator, "checkout", "journey+http://127.0.0.1:9", True, steps=steps)
    beat = created(
        site, operator, "/services", {"name": "backup", "heartbeat": {"interval_seconds": 3600}}
    )
    created(
        site,
        operator,
        "/pages",
        {
            "slug": "shop",
            "title": "Shop status",
            "description": "The shop and its payments.",
            "link": "https://shop.example/",
            "service_ids": [shop, api],
        },
    )
    incident = created(
        site,
        operator,
        "/incidents",
        {
            "title": "Card payments failing for some customers",
            "impact": "major",
            "service_ids": [api],
            "message": "Some card payments fail; we are looking into it.",
            "started_at": iso(timedelta(minutes=-30)),
        },
    )
    created(
        site,
        operator,
        f"/incidents/{incident['id']}/updates",
        {
            "status": "identified",
            "message": "The processor's certificate expired; a new one is being rolled out.",
        },
    )
    created(
        site,
        operator,
        "/maintenances",
        {
            "title": "Database upgrade",
            "service_ids": [shop],
            "starts_at": iso(timedelta(days=1)),
            "ends_at": iso(timedelta(days=1, hours=1)),
        },
    )

    public = [
        ("status", "/", "#services article"),
        ("status-page", "/status/shop", "#incidents article"),
        ("history", "/history", "#history article"),
        ("status-page-history", "/status/shop/history", "#history article"),
    ]
    for name, path, ready in public:
        page.goto(site + path)
        _at_each_width(page, shots, name, ready)

    page.goto(site + "/dashboard")
    _at_each_width(page, shots, "dashboard-log-in", "#login")
    open_dashboard(page, site, operator)
    _at_each_width(page, shots, "dashboard-cards", "#services article")
    page.goto(site + "/dashboard?view=table")
    _at_each_width(page, shots, "dashboard-table", "#services table.dense tbody tr")
    for name, service in (("service", shop), ("heartbeat", beat["id"]), ("journey", journey)):
        page.goto(f"{site}/dashboard#service/{service}")
        _at_each_width(page, shots, f"dashboard-{name}", "#service-view article")
