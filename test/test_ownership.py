"""Accounts see and change only their own services and everything derived from them; another
account's service answers exactly as one that does not exist. Admins see everything; anonymous
readers of /status see the public services and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts import Account

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.runtime import Runtime

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
DOWN = CheckResult(up=False, error="connection refused")
UP = CheckResult(up=True, response_time_ms=5.0, status_code=200)

# Every operation on one service, with what it sends; {id} and {name} are the service's.
ONE_SERVICE = [
    ("GET", "/v1/services/{id}", None),
    ("PATCH", "/v1/services/{id}", {"paused": True}),
    ("DELETE", "/v1/services/{id}", None),
    ("GET", "/v1/services/{id}/events", None),
    ("GET", "/v1/services/{id}/ticks", None),
    ("GET", "/v1/services/{id}/stats", None),
    ("GET", "/v1/services/{id}/stats/summary", None),
    ("GET", "/v1/services/{id}/alerts", None),
    ("GET", "/v1/status/service/{name}", None),
    ("GET", "/v1/status/service/{name}/incidents", None),
]
# Every list that spans services.
LISTS = ["/v1/services", "/v1/alerts", "/v1/status", "/v1/status/down"]


@pytest.fixture
def alice_and_bob(
    make_runtime: Callable[..., Runtime],
    make_account: Callable[..., Account],
    make_client: Callable[..., Any],
) -> tuple[Any, Any, dict]:
    """Alice's client, Bob's client, and Alice's service, which went down and raised an
    alert (recorded by a runtime's recorder, as the poller would)."""
    alice, bob = make_account("alice@example.com"), make_account("bob@example.com")
    alice_client, bob_client = make_client(alice), make_client(bob)
    created = alice_client.post("/v1/services", json={"name": "shop", "url": "http://a.test/"})
    assert created.status_code == 201, created.text
    service = created.json()
    recorder = make_runtime(with_poller=True, confirm_down_after=1).poller._recorder  # type: ignore[union-attr]
    outcomes = [
        CheckOutcome(service["id"], T0 + timedelta(minutes=m), UP if m == 0 else DOWN)
        for m in range(4)
    ]
    recorder.record(outcomes, "test")
    assert alice_client.get("/v1/alerts").json()["data"], "the fixture should raise an alert"
    return alice_client, bob_client, service


def call(client: Any, method: str, path: str, body: dict | None) -> Any:
    return client.request(method, path, json=body) if body else client.request(method, path)


@pytest.mark.parametrize(("method", "path", "body"), ONE_SERVICE)
def test_another_accounts_service_is_not_there(
    alice_and_bob: tuple, method: str, path: str, body: dict | None
) -> None:
    alice, bob, service = alice_and_bob
    theirs = call(bob, method, path.format(id=service["id"], name=service["name"]), body)
    missing = call(bob, method, path.format(id=service["id"] + 1000, name="nothing"), body)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert theirs.json()["title"] == missing.json()["title"] == "Not Found"
    after = alice.get(f"/v1/services/{service['id']}")
    assert after.status_code == 200 and after.json()["paused"] is False


@pytest.mark.parametrize("path", LISTS)
def test_lists_hold_only_the_callers_own(alice_and_bob: tuple, path: str) -> None:
    alice, bob, service = alice_and_bob
    bob_made = bob.post("/v1/services", json={"name": "shop", "url": "http://b.test/"})
    assert bob_made.status_code == 201, "names are unique per account, not across accounts"
    ids = lambda body: {item.get("service_id", item["id"]) for item in body["data"]}  # noqa: E731
    if path.endswith("/down") or path.endswith("/alerts"):
        assert ids(alice.get(path).json()) == {service["id"]}
        assert ids(bob.get(path).json()) == set()
    else:
        assert ids(alice.get(path).json()) == {service["id"]}
        assert ids(bob.get(path).json()) == {bob_made.json()["id"]}


def test_admins_see_and_change_everything(
    alice_and_bob: tuple, make_account: Callable[..., Account], make_client: Callable[..., Any]
) -> None:
    _, _, service = alice_and_bob
    admin = make_client(make_account("root@example.com", admin=True))
    assert [s["id"] for s in admin.get("/v1/services").json()["data"]] == [service["id"]]
    assert admin.get(f"/v1/services/{service['id']}/ticks").json()["data"]
    assert admin.get("/v1/alerts").json()["data"]
    changed = admin.patch(f"/v1/services/{service['id']}", json={"paused": True})
    assert changed.status_code == 200 and changed.json()["owner_id"] == service["owner_id"]


def test_anonymous_readers_see_public_services_only(
    make_client: Callable[..., Any], account: Account
) -> None:
    owner, anonymous = make_client(account), make_client()
    shown = owner.post(
        "/v1/services", json={"name": "site", "url": "http://s.test/", "public": True}
    )
    hidden = owner.post("/v1/services", json={"name": "db", "url": "tcp://127.0.0.1:5432"})
    assert shown.json()["public"] is True and hidden.json()["public"] is False
    assert [s["name"] for s in anonymous.get("/v1/status").json()["data"]] == ["site"]
    assert anonymous.get("/v1/status/service/site").status_code == 200
    assert anonymous.get("/v1/status/service/db").status_code == 404
    assert anonymous.get("/v1/status/service/db/incidents").status_code == 404
    for path in ("/v1/services", f"/v1/services/{shown.json()['id']}", "/v1/alerts"):
        refused = anonymous.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["content-type"] == "application/problem+json"
    unlisted = owner.patch(f"/v1/services/{shown.json()['id']}", json={"public": False})
    assert unlisted.json()["public"] is False
    assert anonymous.get("/v1/status").json()["data"] == []


def test_what_anonymous_readers_see_every_account_sees(
    make_runtime: Callable[..., Runtime],
    make_account: Callable[..., Account],
    make_client: Callable[..., Any],
) -> None:
    alice = make_client(make_account("alice@example.com"))
    bob = make_client(make_account("bob@example.com"))
    anonymous = make_client()
    site = alice.post(
        "/v1/services", json={"name": "site", "url": "http://s.test/", "public": True}
    )
    db = alice.post("/v1/services", json={"name": "db", "url": "tcp://127.0.0.1:5432"})
    own = bob.post("/v1/services", json={"name": "db", "url": "http://b.test/"})
    site_id, db_id, own_id = (r.json()["id"] for r in (site, db, own))
    recorder = make_runtime(with_poller=True, confirm_down_after=1).poller._recorder  # type: ignore[union-attr]
    recorder.record([CheckOutcome(site_id, T0, DOWN)], "test")

    ids = lambda answer: [s["id"] for s in answer.json()["data"]]  # noqa: E731
    assert ids(anonymous.get("/v1/status")) == [site_id]
    assert ids(bob.get("/v1/status")) == [site_id, own_id]
    assert ids(bob.get("/v1/status/down")) == ids(anonymous.get("/v1/status/down")) == [site_id]
    for reader in (anonymous, bob):
        assert reader.get("/v1/status/service/site").json()["id"] == site_id
        assert len(reader.get("/v1/status/service/site/incidents").json()["data"]) == 1
        for path in ("history", "badge/status.svg", "badge/uptime.svg"):
            assert reader.get(f"/v1/services/{site_id}/{path}").status_code == 200, path
            assert reader.get(f"/v1/services/{db_id}/{path}").status_code == 404, path
    # A name both have: an account's own service comes first; Alice's private one stays hidden.
    assert bob.get("/v1/status/service/db").json()["id"] == own_id
    assert anonymous.get("/v1/status/service/db").status_code == 404
    # The private API stays the account's own.
    assert bob.get(f"/v1/services/{site_id}").status_code == 404
    assert bob.get(f"/v1/services/{site_id}/ticks").status_code == 404
    assert ids(bob.get("/v1/services")) == [own_id]


def test_the_per_account_limit_answers_403_with_the_limit(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    from web.app import create_app

    app = create_app(make_runtime(max_services_per_user=2), validate_responses=True)
    with app.test_client(headers=account.headers) as client:
        for name in ("one", "two"):
            assert client.post(
                "/v1/services", json={"name": name, "url": "http://a.test/"}
            ).is_success
        third = client.post("/v1/services", json={"name": "three", "url": "http://a.test/"})
        assert third.status_code == 403
        assert "at most 2 services" in third.json()["detail"]
        one = client.get("/v1/services").json()["data"][0]["id"]
        assert client.delete(f"/v1/services/{one}").status_code == 204
        again = client.post("/v1/services", json={"name": "three", "url": "http://a.test/"})
        assert again.status_code == 201
