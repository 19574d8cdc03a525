"""The /v1/services contract through Connexion, with response validation on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from accounts import Account
from prometheus_client import CollectorRegistry
from targets import free_port

from statuschecker.runtime import Runtime
from web.app import create_app

PROBLEM = "application/problem+json"


def register(client: Any, **fields: Any) -> dict:
    body = {"name": "web", "url": "http://127.0.0.1:1/", **fields}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response: Any, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert detail_part in problem["detail"], problem


def test_register_returns_the_service_with_defaults_and_location(client: Any) -> None:
    response = client.post("/v1/services", json={"name": "api", "url": "https://example.test/"})
    assert response.status_code == 201
    service = response.json()
    assert response.headers["location"] == f"/v1/services/{service['id']}"
    assert service["kind"] == "http"
    assert service["interval_seconds"] == 30
    assert service["timeout_seconds"] == 10
    assert service["status"] == "unknown"
    assert service["latest_event"] is None
    assert service["paused"] is False
    assert service["metric"]["tick_count"] == 0
    assert service["created_at"].endswith("Z")
    assert client.get(response.headers["location"]).json() == service


def test_default_timeout_shrinks_to_a_short_interval(client: Any) -> None:
    service = register(client, interval_seconds=5)
    assert service["timeout_seconds"] == 5


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "http://a.test/"}, "'name' is a required property"),
        ({"name": "", "url": "http://a.test/"}, "name"),
        ({"name": "   ", "url": "http://a.test/"}, "does not match"),
        ({"name": "x" * 101, "url": "http://a.test/"}, "is too long"),
        ({"name": "a", "url": "not a url"}, "'url' is not of the form: Absolute URL"),
        ({"name": "a", "url": "/relative/path"}, "'url' is not of the form"),
        ({"name": "a", "url": "ftp://a.test/"}, "'url' is not of the form"),
        ({"name": "a", "url": "http://a.test:99999/"}, "a port is 1-65535"),
        ({"name": "a", "url": "http://a.test/", "interval_seconds": 0}, "less than the minimum"),
        ({"name": "a", "url": "http://a.test/", "interval_seconds": 86401}, "greater than"),
        ({"name": "a", "url": "http://a.test/", "interval_seconds": 1.5}, "not of type 'integer'"),
        ({"name": "a", "url": "http://a.test/", "timeout_seconds": 0.05}, "less than the minimum"),
        ({"name": "a", "url": "http://a.test/", "timeout_seconds": 61}, "greater than"),
        ({"name": "a", "url": "http://a.test/", "colour": "red"}, "Additional properties"),
        ({"name": 5, "url": "http://a.test/"}, "not of type 'string'"),
    ],
)
def test_register_rejects_bad_input_with_a_problem(client: Any, body: dict, detail: str) -> None:
    assert_problem(client.post("/v1/services", json=body), 400, detail)
    assert client.get("/v1/services").json()["data"] == []


@pytest.mark.parametrize(
    ("content", "content_type", "status", "detail"),
    [
        (b"{not json", "application/json", 400, "Expecting property name"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "not valid UTF-8"),
        (b"name=a", "application/x-www-form-urlencoded", 415, "Invalid Content-type"),
        (b"[1, 2]", "application/json", 400, "not of type 'object'"),
    ],
)
def test_malformed_bodies_get_4xx_problems(
    client: Any, content: bytes, content_type: str, status: int, detail: str
) -> None:
    response = client.post("/v1/services", content=content, headers={"content-type": content_type})
    assert_problem(response, status, detail)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({"url": "tcp://127.0.0.1:5", "headers": {"a\x00b": "v"}}, {"headers": {"a\ufffdb": "v"}}),
        ({"url": "tcp://127.0.0.1:5", "json_value": "a\x00b"}, {"json_value": "a\ufffdb"}),
        (
            {"heartbeat": {"interval_seconds": 60}, "json_value": ["a\x00b"]},
            {"json_value": ["a\ufffdb"]},
        ),
    ],
)
def test_free_form_options_of_another_kind_are_kept_storable(
    client: Any, body: dict[str, Any], kept: dict[str, Any]
) -> None:
    """Bug: a header name or `json_value` holding a NUL, given to a kind that does not use it
    (or to a heartbeat), answered 500: only the http check made its own options storable."""
    response = client.post("/v1/services", json={"name": "odd", **body})
    assert response.status_code == 201, response.text
    assert response.json()["check_options"] == kept
    changed = client.patch(f"/v1/services/{response.json()['id']}", json={"json_value": "\x00"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["check_options"]["json_value"] == "\ufffd"


def test_duplicate_name_is_a_conflict(client: Any) -> None:
    register(client, name="same")
    response = client.post("/v1/services", json={"name": "same", "url": "http://b.test/"})
    assert_problem(response, 409, "already have a service named")


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/v1/services/424242", 404, "no service with id 424242"),
        ("/v1/services/424242/events", 404, "no service with id 424242"),
        ("/v1/services/424242/ticks", 404, "no service with id 424242"),
        ("/v1/services/0", 400, "less than the minimum"),
        ("/v1/services/abc", 404, "nothing is served at /v1/services/abc"),
        ("/v1/nowhere", 404, "nothing is served at /v1/nowhere"),
        ("/v1/services/99999999999999999999", 400, "greater than the maximum"),
        ("/v1/services?limit=0", 400, "less than the minimum"),
        ("/v1/services?limit=501", 400, "greater than the maximum"),
        ("/v1/services?status=sideways", 400, "is not one of"),
        ("/v1/services?cursor=garbage", 400, "is too short"),
        ("/v1/services?colour=red", 400, "colour"),
    ],
)
def test_bad_reads_get_problems(client: Any, path: str, status: int, detail: str) -> None:
    assert_problem(client.get(path), status, detail)


def test_ticks_reject_bad_time_ranges(client: Any) -> None:
    service_id = register(client)["id"]
    base = f"/v1/services/{service_id}/ticks"
    assert_problem(client.get(f"{base}?since=yesterday"), 400, "since")
    assert_problem(client.get(f"{base}?since=2026-01-01T00:00:00"), 400, "since")


@pytest.mark.parametrize("path", ["ticks", "alerts"])
def test_an_empty_or_inverted_time_range_is_an_empty_page(client: Any, path: str) -> None:
    """Bug: since at or after until, an empty range the contract allows, answered 400."""
    base = f"/v1/services/{register(client)['id']}/{path}"
    late, early = "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"
    for query in (f"since={late}&until={early}", f"since={early}&until={early}"):
        response = client.get(f"{base}?{query}")
        assert response.status_code == 200, response.text
        assert response.json() == {"data": [], "next_cursor": None}


def test_list_paginates_with_an_opaque_cursor(client: Any) -> None:
    ids = [register(client, name=f"svc-{i}")["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = "/v1/services?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(query).json()
        seen += [s["id"] for s in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()
        assert re.fullmatch(r"[A-Za-z0-9_-]{11}", cursor)
    assert seen == ids
    assert pages == 3


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/v1/services", "0" * 11),
        ("/v1/services", "_" * 11),
        ("/v1/services", "A" * 11),
        ("/v1/tokens", "-" * 11),
        ("/v1/status", "AAAAAAAAAAA"),
        ("/v1/services/{id}/events", "zzzzzzzzzzz"),
        ("/v1/status/service/svc/incidents", "00000000000"),
        ("/v1/services/{id}/ticks", "0" * 22),
        ("/v1/services/{id}/ticks", "_" * 22),
        ("/v1/services/{id}/alerts", "A" * 22),
        ("/v1/alerts", "-" * 22),
    ],
)
def test_every_cursor_of_the_contracts_shape_is_accepted(
    client: Any, path: str, cursor: str
) -> None:
    """Bug: a cursor the contract allows (any string then, `cursor=0`) but this API did not
    issue answered 400; now every string of the contract's pattern pages somewhere."""
    service_id = register(client, name="svc")["id"]
    response = client.get(path.format(id=service_id), params={"cursor": cursor})
    assert response.status_code == 200, response.text


def test_a_list_shows_each_service_as_a_read_of_it_does_after_every_change(client: Any) -> None:
    """A list keeps what it shows of services' settings between requests, by a version of the
    settings the database computes: every kind of change must show in the next list, also the
    ones that leave `updated_at` alone (a dependency deleted, a ping key rotated)."""
    parent = register(client, name="parent")
    child = register(client, name="child", depends_on=[parent["id"]], tags=["a"])
    beat = client.post("/v1/services", json={"name": "beat", "heartbeat": {"interval_seconds": 60}})
    assert beat.status_code == 201, beat.text
    beat_id = beat.json()["id"]

    def same() -> list[dict]:
        listed = client.get("/v1/services?limit=100").json()["data"]
        for shown in listed:
            alone = client.get(f"/v1/services/{shown['id']}").json()
            if shown["ping_url"]:  # a list masks a heartbeat's key; the account's own read not
                assert alone["ping_url"].startswith(shown["ping_url"].removesuffix("********"))
                alone["ping_url"] = shown["ping_url"]
            assert shown == alone
        return listed

    same()
    changes = [
        (child["id"], {"name": "renamed", "tags": ["b"], "group": "g", "public": True}),
        (child["id"], {"url": "tcp://127.0.0.1:5", "interval_seconds": 5}),
        (child["id"], {"alert_policy": {"max_failures": 3}, "confirm_down_after": 4}),
        (child["id"], {"paused": True}),
        (beat_id, {"heartbeat": {"grace_seconds": 5}, "json_value": [1]}),
        (beat_id, {"paused": True}),
    ]
    for service_id, change in changes:
        response = client.patch(f"/v1/services/{service_id}", json=change)
        assert response.status_code == 200, response.text
        same()
    assert client.post(f"/v1/services/{beat_id}/ping-key").status_code == 200
    same()
    assert client.delete(f"/v1/services/{parent['id']}").status_code == 204
    listed = same()
    assert [s["depends_on"] for s in listed if s["id"] == child["id"]] == [[]]


def test_list_filters_by_name_part_and_status(client: Any) -> None:
    register(client, name="Billing API")
    register(client, name="search")
    register(client, name="100%_real")
    by_name = client.get("/v1/services?name=billing").json()["data"]
    assert [s["name"] for s in by_name] == ["Billing API"]
    # LIKE wildcards in the filter are taken literally
    assert [s["name"] for s in client.get("/v1/services?name=%25_").json()["data"]] == ["100%_real"]
    assert len(client.get("/v1/services?status=unknown").json()["data"]) == 3
    assert client.get("/v1/services?status=up").json()["data"] == []


def test_patch_changes_fields_and_validates_against_stored_values(client: Any) -> None:
    service = register(client, interval_seconds=60, timeout_seconds=5)
    path = f"/v1/services/{service['id']}"
    changed = client.patch(path, json={"name": "renamed", "paused": True}).json()
    assert (changed["name"], changed["paused"]) == ("renamed", True)
    assert changed["updated_at"] >= service["updated_at"]
    shorter = client.patch(path, json={"interval_seconds": 2})
    assert shorter.status_code == 200, shorter.text
    shorter = shorter.json()
    assert shorter["interval_seconds"] == 2
    assert shorter["warnings"] == [
        "timeout_seconds (5) is longer than interval_seconds (2): a check still running when "
        "the next is due makes that one wait"
    ]
    assert_problem(client.patch(path, json={}), 400, "")
    assert_problem(client.patch(path, json={"kind": "tcp"}), 400, "Additional properties")
    assert_problem(client.patch(path, json={"url": "gopher://x.test/"}), 400, "not of the form")
    assert_problem(client.patch("/v1/services/999", json={"paused": True}), 404, "999")
    register(client, name="other")
    assert_problem(client.patch(path, json={"name": "other"}), 409, "already have a service named")
    assert client.get(path).json()["name"] == "renamed"


def test_delete_removes_the_service(client: Any) -> None:
    service_id = register(client)["id"]
    response = client.delete(f"/v1/services/{service_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/v1/services/{service_id}"), 404, str(service_id))
    assert_problem(client.delete(f"/v1/services/{service_id}"), 404, str(service_id))


def test_health_reports_database_and_poller(client: Any) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "poller": "disabled"}


def test_swagger_ui_and_spec_are_served(client: Any) -> None:
    assert client.get("/v1/ui/").status_code == 200
    spec = client.get("/v1/openapi.json").json()
    assert "/services/{service_id}/ticks" in spec["paths"]


def test_an_unreachable_database_is_a_503_problem(settings: Any, account: Account) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/statuschecker"
    runtime = Runtime.build(settings, nowhere, CollectorRegistry(), with_poller=False)
    app = create_app(runtime, validate_responses=True)
    with app.test_client(headers=account.headers) as client:
        assert_problem(client.get("/v1/services"), 503, "database is not answering")
        body = {"name": "a", "url": "http://a.test/"}
        assert_problem(client.post("/v1/services", json=body), 503, "database is not answering")
        health = client.get("/v1/health")
        assert_problem(health, 503, "database: unavailable")
        assert health.json()["poller"] == "disabled"
