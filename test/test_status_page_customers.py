"""The status page as a company shows it to its customers, in headless Chromium: a page at
/status/{slug} under its own title, description, logo and link, its services by group with
their summaries, a written incident with its updates, planned maintenance, the 90-day bars, the
history page, and the Atom feed a reader subscribes to (parsed by feedparser)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
from accounts import Account
from browsing import created, fits_a_phone, iso, open_dashboard, register, service_of
from playwright.sync_api import Page, expect
from receivers import Receiver
from targets import Target
from waiting import wait_until

from statuschecker.runtime import Runtime
from web.app import create_app

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32">'
    b'<circle cx="16" cy="16" r="14" fill="#0969da"/></svg>'
)
LOGO = "data:image/svg+xml;base64," + base64.b64encode(SVG).decode()


def test_a_companys_status_page_its_history_and_its_feed(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
    page: Page,
    tmp_path: Path,
) -> None:
    runtime = make_runtime(with_poller=True, subscriber_private_targets=True)
    site = serve(create_app(runtime, validate_responses=True))
    operator = make_account("operator@example.com")
    with Target("up") as target:
        _company_page(site, operator, target, page, tmp_path)


def _company_page(site: str, operator: Account, target: Target, page: Page, tmp_path: Path) -> None:
    """The test's body, with `target` answering all along."""
    shop = register(site, operator, "shop", target, True, group="Web")
    payments = register(site, operator, "payments", target, True, group="Web")
    db = register(site, operator, "db", target, True, group="Data")
    blog = register(site, operator, "blog", target, True)  # public, not on the page
    wait_until(
        lambda: all(
            service_of(site, operator, s)["status"] == "up" for s in (shop, payments, db, blog)
        )
    )
    created(
        site,
        operator,
        "/pages",
        {
            "slug": "acme",
            "title": "Acme status",
            "description": "The shop, its payments and what they stand on.",
            "logo": LOGO,
            "link": "https://acme.example/",
            "service_ids": [shop, payments, db],
        },
    )
    incident = created(
        site,
        operator,
        "/incidents",
        {
            "title": "Card payments failing",
            "impact": "major",
            "service_ids": [payments],
            "message": "Some card payments fail; we are looking into it.",
            "started_at": iso(timedelta(minutes=-20)),
        },
    )
    created(
        site,
        operator,
        f"/incidents/{incident['id']}/updates",
        {"status": "identified", "message": "The card processor's certificate expired."},
    )
    window = created(
        site,
        operator,
        "/maintenances",
        {
            "title": "Database upgrade",
            "service_ids": [db],
            "starts_at": iso(timedelta(days=2)),
            "ends_at": iso(timedelta(days=2, hours=1)),
        },
    )

    page.goto(f"{site}/status/acme")
    expect(page).to_have_title("Acme status")
    expect(page.locator("#page-title")).to_have_text("Acme status")
    expect(page.locator("#page-description")).to_have_text(
        "The shop, its payments and what they stand on."
    )
    expect(page.locator("#logo")).to_have_attribute("src", LOGO)
    expect(page.locator("#brand")).to_have_attribute("href", "https://acme.example/")
    # The banner says what the incident's impact means, though the checks see every service up.
    expect(page.locator("#summary")).to_have_text("Partial outage. Ongoing: Card payments failing.")
    expect(page.locator("#summary")).to_have_class(re.compile(r"\bpending\b"))
    # Its services by group, each group with its own summary; the blog is not on this page.
    groups = page.locator("#services details.group")
    expect(groups.locator("summary h2")).to_have_text(["Web", "Data"])
    expect(groups.nth(0).locator("summary")).to_contain_text("2 of 2 operational")
    expect(groups.nth(1).locator("summary")).to_contain_text("1 of 1 operational")
    expect(page.locator(f'[data-service-id="{blog}"]')).to_have_count(0)
    # The written incident with its two updates, newest first.
    report = page.locator(f"#incidents #written-{incident['id']}")
    expect(report.locator("h3")).to_have_text("Card payments failing")
    expect(report.locator(".badge")).to_have_text("Identified")
    expect(report).to_have_class(re.compile(r"\bimpact-major\b.*\bongoing\b"))
    expect(report.locator(".meta")).to_contain_text("Major impact")
    expect(report.locator(".affects")).to_have_text("Affects: payments")
    expect(report.locator(".updates li strong")).to_have_text(["Identified", "Investigating"])
    expect(report.locator(".updates .message")).to_have_text(
        [
            "The card processor's certificate expired.",
            "Some card payments fail; we are looking into it.",
        ]
    )
    # The maintenance planned, and a bar a day for 90 days.
    upcoming = page.locator(f'#maintenance li.upcoming[data-maintenance-id="{window["id"]}"]')
    expect(upcoming).to_contain_text("Database upgrade")
    expect(upcoming).to_contain_text("Affects: db")
    card = page.locator(f'[data-service-id="{payments}"]')
    expect(card.locator(".uptime-row", has_text="90 days").locator("rect.bar")).to_have_count(90)
    page.screenshot(path=tmp_path / "status-acme.png", full_page=True)
    fits_a_phone(page, tmp_path / "status-acme-phone.png")

    # A reader subscribes a webhook from the page, and is sent the next update.
    with Receiver() as hook:
        form = page.locator("#subscribe-form")
        form.get_by_label("Webhook URL").fill(hook.url)
        form.get_by_role("button", name="Subscribe").click()
        expect(page.locator("#subscribed")).to_contain_text(f"Subscribed {hook.url}.")
        token = page.locator("#subscribed code").inner_text()
        assert len(token) >= 32
        created(
            site,
            operator,
            f"/incidents/{incident['id']}/updates",
            {"status": "monitoring", "message": "A new certificate is in place."},
        )
        [sent] = hook.wait_for(1)
        assert sent.json()["incident"]["status"] == "monitoring"

    # The history page, reached from the page.
    page.get_by_role("link", name="Incident history (90 days)").click()
    expect(page).to_have_url(f"{site}/status/acme/history")
    expect(page.locator("#page-title")).to_have_text("Acme status: incident history")
    expect(page.locator(f"#history #written-{incident['id']}")).to_contain_text(
        "The card processor's certificate expired."
    )
    expect(page.locator("#history h2.day")).to_have_count(1)
    page.screenshot(path=tmp_path / "history-acme.png", full_page=True)
    fits_a_phone(page, tmp_path / "history-acme-phone.png")

    # The feed parses and lists the incident and the maintenance.
    answer = httpx.get(f"{site}/status/acme/feed.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Acme status"
    assert feed.feed.link == f"{site}/status/acme"
    titles = [entry.title for entry in feed.entries]
    assert "[Monitoring] Card payments failing" in titles
    assert "[Scheduled maintenance] Database upgrade" in titles
    entry = feed.entries[titles.index("[Monitoring] Card payments failing")]
    assert entry.id == f"{site}/status/acme/history#written-{incident['id']}"
    assert "The card processor's certificate expired." in entry.summary
    assert "Affects: payments" in entry.summary
    assert page.evaluate("document.querySelector('link[rel=alternate]').href") == (
        f"{site}/status/acme/feed.atom"
    )

    # `/` keeps showing every public service, the incident and the blog with them.
    page.goto(f"{site}/")
    expect(page).to_have_title("Status")
    expect(page.locator(f'[data-service-id="{blog}"]')).to_be_visible()
    expect(page.locator(f"#incidents #written-{incident['id']}")).to_be_visible()
    assert feedparser.parse(httpx.get(f"{site}/feed.atom").content).entries
    # A page that does not exist says so.
    missing = httpx.get(f"{site}/status/nowhere")
    assert missing.status_code == 404
    assert "no status page at /status/nowhere" in missing.json()["detail"]
    assert httpx.get(f"{site}/status/nowhere/feed.atom").status_code == 404
    assert httpx.get(f"{site}/status/Bad..slug/history").status_code == 404


def test_the_dashboard_writes_an_incident_and_makes_a_status_page(
    site: str, make_account: Callable[..., Account], page: Page, tmp_path: Path
) -> None:
    operator = make_account("operator@example.com")
    shop = register(site, operator, "shop", "http://127.0.0.1:9/", True)
    logo = tmp_path / "logo.svg"
    logo.write_bytes(SVG)
    open_dashboard(page, site, operator)

    # A status page, made with the aside's form, the logo uploaded.
    pages = page.locator("#status-pages")
    pages.get_by_text("Make a status page").click()
    form = pages.locator("form.page-form")
    form.locator('input[name="slug"]').fill("shop")
    form.locator('input[name="title"]').fill("Shop status")
    form.locator('input[name="link"]').fill("https://shop.example/")
    form.locator('input[name="logo"]').set_input_files(logo)
    form.get_by_role("button", name="Make page").click()
    expect(pages.locator('li[data-slug="shop"] a')).to_have_text("Shop status")
    expect(pages.locator('li[data-slug="shop"]')).to_contain_text("/status/shop · 0 services")

    # On the service's page: shown on the page, and an incident written about it.
    page.goto(f"{site}/dashboard#service/{shop}")
    box = page.locator("#service-view .publishing")
    box.get_by_label("Shop status (/status/shop)").check()
    expect(pages.locator('li[data-slug="shop"]')).to_contain_text("1 service")
    box.locator('input[name="title"]').fill("Checkout slow")
    box.locator('select[name="impact"]').select_option("minor")
    box.locator('input[name="message"]').fill("Payments take a minute.")
    box.get_by_role("button", name="Write incident").click()
    expect(box.locator("form.incident-form .said")).to_have_text("Done.")
    item = page.locator("#written-incidents li.written-incident")
    try:
        expect(item).to_have_count(1)
    except AssertionError as exc:  # say what the page said, if anything
        raise AssertionError(f"notice: {page.locator('#notice').inner_text()!r}") from exc
    page.get_by_role("link", name="← All services").click()
    expect(item.locator("strong")).to_have_text("Checkout slow")
    expect(item.locator(".badge")).to_have_text("Investigating")
    page.screenshot(path=tmp_path / "dashboard-publishing.png", full_page=True)

    # An update from the aside resolves it; a refused one says why.
    item.locator('select[name="status"]').select_option("resolved")
    item.locator('input[name="message"]').fill("   ")
    item.get_by_role("button", name="Post update").click()
    expect(item.locator(".said.error")).to_have_text("message is blank: say what is going on")
    item.locator('input[name="message"]').fill("Back to normal.")
    item.get_by_role("button", name="Post update").click()
    expect(item.locator(".badge")).to_have_text("Resolved")
    fits_a_phone(page, tmp_path / "dashboard-publishing-phone.png")

    # A reader's subscription, seen and ended from the dashboard.
    hook = {"url": "https://user:hunter2@hooks.example/in", "secret": "s" * 16}
    answer = httpx.post(f"{site}/v1/status/pages/shop/subscriptions", json=hook)
    assert answer.status_code == 201, answer.text
    subscribers = pages.locator('li[data-slug="shop"] details.subscribers-box')
    subscribers.locator("summary").click()
    row = subscribers.locator("li[data-subscription-id]")
    expect(row).to_contain_text("0 waiting, 0 given up · signed")
    expect(row.locator(".message")).not_to_contain_text("hunter2")
    row.get_by_role("button", name="End").click()
    expect(subscribers.locator("li")).to_have_text(["No subscribers yet."])

    # The page as customers see it.
    page.goto(f"{site}/status/shop")
    expect(page.locator("#page-title")).to_have_text("Shop status")
    expect(page.locator("#logo")).to_have_attribute(
        "src", re.compile(r"^data:image/svg\+xml;base64,")
    )
    expect(page.locator(f'[data-service-id="{shop}"]')).to_be_visible()
    resolved = page.locator("#incidents article.incident-report")
    expect(resolved.locator("h3")).to_have_text("Checkout slow")
    expect(resolved.locator(".badge")).to_have_text("Resolved")
