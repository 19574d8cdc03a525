"""Readers' webhook subscriptions to a status page, end to end: subscribed without an account,
sent each incident written about the page's services (made and updated, signed with their
secret) by the running notifier to a real receiver on 127.0.0.1, ended with their token or by
the page's account; and what is refused."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from accounts import Account
from receivers import Receiver
from sqlalchemy import Engine, text
from waiting import wait_until

from statuschecker.runtime import Runtime
from statuschecker.system.config import Settings
from web.app import create_app

SECRET = "a-long-shared-secret"
PROBLEM = "application/problem+json"


class Site:
    """The app with its notifier, served, and an account acting on it."""

    def __init__(self, url: str, account: Account) -> None:
        self.url = url
        self.account = account

    def post(self, path: str, body: dict[str, Any], anonymous: bool = False) -> httpx.Response:
        headers = {} if anonymous else self.account.headers
        return httpx.post(f"{self.url}/v1{path}", json=body, headers=headers)

    def made(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.post(path, body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@pytest.fixture
def site(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
) -> Site:
    runtime = make_runtime(
        with_poller=True, allow_private_targets=True, subscriber_private_targets=True
    )
    return Site(serve(create_app(runtime, validate_responses=True)), make_account("o@example.com"))


def _service(site: Site, name: str, public: bool = True) -> int:
    body = {"name": name, "url": "http://127.0.0.1:9/", "public": public, "interval_seconds": 3600}
    return int(site.made("/services", body)["id"])


def _subscribe(site: Site, slug: str, url: str, **more: Any) -> dict[str, Any]:
    answer = site.post(f"/status/pages/{slug}/subscriptions", {"url": url, **more}, anonymous=True)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_subscribers_are_sent_the_pages_incidents_signed_until_they_cancel(site: Site) -> None:
    shop, internal = _service(site, "shop"), _service(site, "internal", public=False)
    other = _service(site, "blog")
    site.made("/pages", {"slug": "shop", "title": "Shop status", "service_ids": [shop]})
    site.made("/pages", {"slug": "blog", "title": "Blog", "service_ids": [other]})
    with Receiver() as first, Receiver() as second, Receiver() as blog:
        signed = _subscribe(site, "shop", first.url, secret=SECRET)
        assert (signed["page"], signed["url"], signed["signed"]) == ("shop", first.url, True)
        plain = _subscribe(site, "shop", second.url)
        _subscribe(site, "blog", blog.url)

        incident = site.made(
            "/incidents",
            {
                "title": "Checkout failing",
                "impact": "critical",
                "service_ids": [shop, internal],
                "message": "Looking into it.",
            },
        )
        [created] = first.wait_for(1)
        assert created.headers["x-statuschecker-event"] == "incident.created"
        expected = "sha256=" + hmac.new(SECRET.encode(), created.body, hashlib.sha256).hexdigest()
        assert created.headers["x-statuschecker-signature"] == expected
        body = created.json()
        assert body["event"] == "incident.created"
        assert body["page"] == {"slug": "shop", "title": "Shop status"}
        told = body["incident"]
        assert (told["id"], told["title"], told["impact"], told["status"]) == (
            incident["id"],
            "Checkout failing",
            "critical",
            "investigating",
        )
        assert told["services"] == [{"id": shop, "name": "shop"}]  # not the private one
        assert [u["message"] for u in told["updates"]] == ["Looking into it."]
        assert "sent_at" in body
        [unsigned] = second.wait_for(1)
        assert "x-statuschecker-signature" not in unsigned.headers

        # Ended with its token: the next update goes to the other subscriber only.
        cancel = site.post("/status/subscriptions:cancel", {"token": plain["token"]}, True)
        assert cancel.status_code == 204, cancel.text
        again = site.post("/status/subscriptions:cancel", {"token": plain["token"]}, True)
        assert again.status_code == 404
        update = {"status": "resolved", "message": "Fixed."}
        site.made(f"/incidents/{incident['id']}/updates", update)
        resolved = first.wait_for(2)[1]
        assert resolved.headers["x-statuschecker-event"] == "incident.updated"
        assert resolved.json()["incident"]["status"] == "resolved"
        assert resolved.json()["incident"]["resolved_at"] is not None
        # Neither the cancelled subscriber nor the other page's heard of it.
        assert len(second.requests) == 1
        assert blog.requests == []


def test_by_default_subscribers_may_not_reach_private_addresses(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    make_account: Callable[..., Account],
    db: Engine,
) -> None:
    """Anybody may subscribe: unless STATUSCHECKER_SUBSCRIBER_PRIVATE_TARGETS says so, the
    notifier does not POST to a loopback or private address for them, though the operators'
    own alert receivers may be there (STATUSCHECKER_ALLOW_PRIVATE_TARGETS, true here)."""
    runtime = make_runtime(with_poller=True, allow_private_targets=True)
    site = Site(serve(create_app(runtime)), make_account("o@example.com"))
    shop = _service(site, "shop")
    site.made("/pages", {"slug": "shop", "title": "Shop", "service_ids": [shop]})
    with Receiver() as hook:
        _subscribe(site, "shop", hook.url)
        incident = {"title": "t", "impact": "minor", "service_ids": [shop], "message": "m"}
        site.made("/incidents", incident)

        def last_error() -> str | None:
            with db.connect() as conn:
                query = "SELECT last_error FROM page_deliveries WHERE attempts > 0"
                return conn.execute(text(query)).scalar()

        refused = wait_until(last_error)
        assert "refused by target policy" in refused and "loopback" in refused
        assert hook.requests == []


def test_the_pages_account_lists_and_ends_subscriptions(
    site: Site, make_account: Callable[..., Account]
) -> None:
    shop = _service(site, "shop")
    site.made("/pages", {"slug": "shop", "title": "Shop", "service_ids": [shop]})
    made = _subscribe(site, "shop", "https://user:hunter2@hooks.example/in?token=abc123")
    assert "hunter2" not in made["url"] and "abc123" not in made["url"]
    listed = httpx.get(f"{site.url}/v1/pages/shop/subscriptions", headers=site.account.headers)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["data"]
    assert (row["id"], row["signed"], row["pending_deliveries"], row["failed_deliveries"]) == (
        made["id"],
        False,
        0,
        0,
    )
    assert "hunter2" not in row["url"]
    stranger = make_account("stranger@example.com")
    path = f"{site.url}/v1/pages/shop/subscriptions/{made['id']}"
    assert httpx.delete(path, headers=stranger.headers).status_code == 404
    assert httpx.delete(path, headers=site.account.headers).status_code == 204
    assert httpx.delete(path, headers=site.account.headers).status_code == 404


@pytest.mark.parametrize(
    ("slug", "body", "status", "detail"),
    [
        ("shop", {"url": "ftp://hooks.example/"}, 400, "url"),
        ("shop", {"url": "https://hooks.example/", "secret": "short"}, 400, "secret"),
        ("shop", {"url": "https://hooks.example/", "events": ["all"]}, 400, "events"),
        ("nowhere", {"url": "https://hooks.example/"}, 404, "no status page at /status/nowhere"),
    ],
)
def test_bad_subscriptions_are_refused_saying_why(
    site: Site, slug: str, body: dict[str, Any], status: int, detail: str
) -> None:
    site.made("/pages", {"slug": "shop", "title": "Shop"})
    answer = site.post(f"/status/pages/{slug}/subscriptions", body, anonymous=True)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert detail in answer.json()["detail"]


def test_an_address_subscribes_a_bounded_number_of_times(site: Site, settings: Settings) -> None:
    site.made("/pages", {"slug": "shop", "title": "Shop"})
    allowed = int(settings.subscribe_rate_limit.split("/")[0])  # 20/hour by default
    for n in range(allowed):
        _subscribe(site, "shop", f"https://hooks.example/{n}")
    answer = site.post("/status/pages/shop/subscriptions", {"url": "https://hooks.example/x"}, True)
    assert answer.status_code == 429, answer.text
    assert "too many subscribe attempts" in answer.json()["detail"]
    assert int(answer.headers["retry-after"]) > 0
