"""Browser tests' fixtures and helpers (a pytest plugin, see conftest.py): headless Chromium
through Playwright, a page of it, and what the page tests do again and again: register a
service, read one, open the dashboard logged in, and check a page on a phone's width."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from accounts import Account
from playwright.sync_api import Browser, Page, expect, sync_playwright
from targets import Target

from statuschecker.runtime import Runtime
from web.app import create_app


@pytest.fixture
def site(make_runtime: Callable[..., Runtime], serve: Callable[[Any], str]) -> str:
    """The app without a poller, served on 127.0.0.1; its URL."""
    return serve(create_app(make_runtime()))


CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright (its own browser downloads are not used)."""
    if CHROMIUM is None:
        reason = "no `chromium` on PATH: install Debian's chromium package (.ci/run does)"
        if os.environ.get("REQUIRE_BROWSER_TESTS"):  # set by .ci/run: CI must not skip them
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def register(
    site: str, account: Account, name: str, target: Target | str, public: bool, **fields: Any
) -> int:
    """Register a service checked every second: of `target`, or of the URL given."""
    created = httpx.post(
        f"{site}/v1/services",
        headers=account.headers,
        json={
            "name": name,
            "url": target if isinstance(target, str) else target.url,
            "interval_seconds": 1,
            "timeout_seconds": 0.5,
            "public": public,
            "alert_policy": {"window_seconds": 3, "min_checks": 1},
            **fields,
        },
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def service_of(site: str, account: Account, service_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{site}/v1/services/{service_id}", headers=account.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def open_dashboard(page: Page, site: str, account: Account, query: str = "") -> None:
    """The dashboard (with `query`, say "?tag=eu"), logged in as `account` (its token in the
    tab's session storage)."""
    page.add_init_script(f"sessionStorage.setItem('statuschecker.token', '{account.token}')")
    page.goto(site + "/dashboard" + query)
    expect(page.locator("#who")).to_have_text(account.user.email)


def fits_a_phone(page: Page, screenshot: Path) -> None:
    """At 375 px wide the page needs no sideways scrolling; `screenshot` shows it so."""
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=screenshot, full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def iso(delta: timedelta) -> str:
    """Now + `delta` in RFC 3339, in whole seconds (as the pages show times)."""
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


def created(site: str, account: Account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body` to /v1`path` as `account`; what was created (201)."""
    answer = httpx.post(f"{site}/v1{path}", headers=account.headers, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())
