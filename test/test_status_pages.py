"""Status pages besides `/` through the API (Connexion, response validation on): making,
reading, changing and deleting them, what is refused and why, who sees which, and what the
status operations show of a page (`page=`)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts import Account

PROBLEM = "application/problem+json"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8"/></svg>'
LOGO = "data:image/svg+xml;base64," + base64.b64encode(SVG).decode()


def register(client: Any, name: str, public: bool = True) -> dict:
    body = {"name": name, "url": "http://127.0.0.1:1/", "public": public}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def make_page(client: Any, **fields: Any) -> dict:
    response = client.post("/v1/pages", json={"slug": "shop", "title": "Shop status", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response: Any, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail_part in response.json()["detail"], response.json()


def test_a_page_is_made_read_changed_and_deleted(
    client: Any, make_client: Callable[..., Any]
) -> None:
    web = register(client, "web")
    response = client.post(
        "/v1/pages",
        json={
            "slug": "shop",
            "title": "Shop status",
            "description": "The shop and its payments.",
            "logo": LOGO,
            "link": "https://shop.example/",
            "service_ids": [web["id"]],
        },
    )
    assert response.status_code == 201, response.text
    page = response.json()
    assert response.headers["location"] == "/v1/pages/shop"
    assert (page["slug"], page["title"], page["description"]) == (
        "shop",
        "Shop status",
        "The shop and its payments.",
    )
    assert (page["logo"], page["link"], page["service_ids"]) == (
        LOGO,
        "https://shop.example/",
        [web["id"]],
    )
    assert client.get("/v1/pages/shop").json() == page
    assert client.get("/v1/pages").json() == {"data": [page], "next_cursor": None}
    public = make_client().get("/v1/status/pages/shop")
    assert public.status_code == 200
    assert public.json() == {k: page[k] for k in ("slug", "title", "description", "logo", "link")}
    changed = client.patch(
        "/v1/pages/shop", json={"title": "Shop", "logo": None, "service_ids": []}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["logo"], changed.json()["service_ids"]) == (
        "Shop",
        None,
        [],
    )
    assert changed.json()["description"] == "The shop and its payments."
    assert client.delete("/v1/pages/shop").status_code == 204
    assert_problem(client.get("/v1/pages/shop"), 404, "no status page at /status/shop")
    assert_problem(make_client().get("/v1/status/pages/shop"), 404, "no status page")


def test_what_a_page_may_not_be_is_refused_saying_why(
    client: Any, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    private = register(client, "internal", public=False)
    other = make_client(make_account("other@example.com"))
    theirs = register(other, "theirs")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"slug": "Shop"}, 400, "slug"),
        ({"slug": "-shop"}, 400, "slug"),
        ({"title": ""}, 400, "title"),
        ({"logo": "data:text/html;base64,PGgxPg=="}, 400, "logo"),
        ({"logo": "https://elsewhere.example/logo.png"}, 400, "logo"),
        ({"link": "javascript:alert(1)"}, 400, "link"),
        ({"service_ids": [private["id"]]}, 400, f"service {private['id']} is not public"),
        ({"service_ids": [theirs["id"]]}, 400, f"no service with id {theirs['id']}"),
        ({"theme": "dark"}, 400, "theme"),
    ]
    for fields, status, detail in cases:
        body = {"slug": "shop", "title": "Shop", **fields}
        assert_problem(client.post("/v1/pages", json=body), status, detail)
    assert client.get("/v1/pages").json()["data"] == []
    make_page(client)
    assert_problem(
        other.post("/v1/pages", json={"slug": "shop", "title": "Mine"}),
        409,
        "/status/shop exists already",
    )
    assert_problem(other.patch("/v1/pages/shop", json={"title": "Mine"}), 404, "no status page")
    assert_problem(other.delete("/v1/pages/shop"), 404, "no status page")
    assert other.get("/v1/pages").json()["data"] == []


def test_the_status_operations_show_a_pages_services_only(
    client: Any, make_client: Callable[..., Any]
) -> None:
    web, api, db = register(client, "web"), register(client, "api"), register(client, "db")
    make_page(client, service_ids=[web["id"], db["id"]])
    anonymous = make_client()
    listed = anonymous.get("/v1/status", params={"page": "shop"}).json()["data"]
    assert [s["name"] for s in listed] == ["web", "db"]
    assert len(anonymous.get("/v1/status").json()["data"]) == 3
    # A service of the page made private later is not shown.
    client.patch(f"/v1/services/{db['id']}", json={"public": False})
    assert [
        s["name"] for s in anonymous.get("/v1/status", params={"page": "shop"}).json()["data"]
    ] == ["web"]
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    window: dict[str, Any] = {
        "title": "upgrade",
        "service_ids": [web["id"], api["id"]],
        "starts_at": soon.isoformat(),
        "ends_at": (soon + timedelta(hours=1)).isoformat(),
    }
    assert client.post("/v1/maintenances", json=window).status_code == 201
    other = {**window, "service_ids": [api["id"]], "title": "api only"}
    assert client.post("/v1/maintenances", json=other).status_code == 201
    shown = anonymous.get("/v1/status/maintenances", params={"page": "shop"}).json()["data"]
    assert [(w["title"], w["services"]) for w in shown] == [
        ("upgrade", [{"id": web["id"], "name": "web"}])
    ]
    assert len(anonymous.get("/v1/status/maintenances").json()["data"]) == 2
    assert_problem(
        anonymous.get("/v1/status", params={"page": "nope"}), 404, "no status page at /status/nope"
    )
    assert_problem(
        anonymous.get("/v1/status/maintenances", params={"page": "nope"}), 404, "no status page"
    )
