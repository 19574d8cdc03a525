"""The /status summary: every service in brief, those down, one by name, and its incidents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from accounts import Account

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.runtime import Runtime
from web.app import create_app

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def api(make_runtime: Callable[..., Runtime], account: Account) -> Iterator[tuple]:
    # Built for its recorder; not started; one failure confirms down.
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    app = create_app(make_runtime(), validate_responses=True)
    with app.test_client(headers=account.headers) as client:
        yield client, runtime, account.caller


def record(runtime: Runtime, service_id: int, *results: tuple[int, CheckResult]) -> None:
    outcomes = [CheckOutcome(service_id, at(minute), result) for minute, result in results]
    runtime.poller._recorder.record(outcomes, "test")  # type: ignore[union-attr]


NO_UPTIME = {"24h": None, "7d": None, "30d": None}  # the checks are older than 30 days
UP = CheckResult(up=True, response_time_ms=12.0, status_code=200)


def test_status_lists_services_in_brief_and_those_down(api: tuple) -> None:
    client, runtime, owner = api
    web = runtime.services.register(owner, "web shop", "https://shop.example.test/", 60, 5)
    db = runtime.services.register(owner, "db", "tcp://127.0.0.1:5432", 60, 5)
    runtime.services.register(owner, "new", "http://new.example.test/", 60, 5)
    record(runtime, web.id, (0, UP))
    record(runtime, db.id, (0, UP), (1, CheckResult(up=False, error="connection refused")))

    everything = client.get("/v1/status").json()
    assert everything["next_cursor"] is None
    assert everything["data"] == [
        {
            "id": web.id,
            "name": "web shop",
            "url": "https://shop.example.test/",
            "kind": "http",
            "status": "up",
            "last_performed": "2026-05-01T12:00:00Z",
            "uptime": NO_UPTIME,
            "group": None,
            "tags": [],
            "caused_by": None,
            "failing_locations": [],
        },
        {
            "id": db.id,
            "name": "db",
            "url": "tcp://127.0.0.1:5432",
            "kind": "tcp",
            "status": "down",
            "last_performed": "2026-05-01T12:01:00Z",
            "uptime": NO_UPTIME,
            "group": None,
            "tags": [],
            "caused_by": None,
            "failing_locations": [],
        },
        {
            "id": everything["data"][2]["id"],
            "name": "new",
            "url": "http://new.example.test/",
            "kind": "http",
            "status": "unknown",
            "last_performed": None,
            "uptime": NO_UPTIME,
            "group": None,
            "tags": [],
            "caused_by": None,
            "failing_locations": [],
        },
    ]
    assert [s["name"] for s in client.get("/v1/status/down").json()["data"]] == ["db"]
    first = client.get("/v1/status?limit=2").json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = client.get(f"/v1/status?limit=2&cursor={first['next_cursor']}").json()
    assert [s["name"] for s in rest["data"]] == ["new"]

    by_name = client.get(f"/v1/status/service/{quote('web shop')}")
    assert by_name.status_code == 200 and by_name.json() == everything["data"][0]
    missing = client.get("/v1/status/service/nobody")
    assert missing.status_code == 404 and "no service named 'nobody'" in missing.json()["detail"]


def test_incidents_say_why_each_began(api: tuple) -> None:
    client, runtime, owner = api
    service = runtime.services.register(owner, "flaky", "http://flaky.example.test/", 60, 5)
    record(
        runtime,
        service.id,
        (0, UP),
        (1, CheckResult(up=False, status_code=503, error="status 503")),
        (2, CheckResult(up=False, error="timeout (read)")),
        (3, UP),
        (4, CheckResult(up=False, error="connection refused")),
    )
    incidents = client.get("/v1/status/service/flaky/incidents").json()
    assert incidents == {
        "data": [
            {
                "id": incidents["data"][0]["id"],
                "description": "connection refused",
                "down_detection": "2026-05-01T12:04:00Z",
                "up_detection": None,
                "caused_by": None,
            },
            {
                "id": incidents["data"][1]["id"],
                "description": "status 503",
                "down_detection": "2026-05-01T12:01:00Z",
                "up_detection": "2026-05-01T12:03:00Z",
                "caused_by": None,
            },
        ],
        "next_cursor": None,
    }
    events = client.get(f"/v1/services/{service.id}/events").json()["data"]
    assert [(e["event"], e["reason"]) for e in events] == [
        ("downtime", "connection refused"),
        ("uptime", None),
        ("downtime", "status 503"),
        ("uptime", None),
    ]
    latest = client.get(f"/v1/services/{service.id}").json()["latest_event"]
    assert (latest["event"], latest["reason"]) == ("downtime", "connection refused")
    assert client.get("/v1/status/service/nobody/incidents").status_code == 404
    assert client.get("/v1/status?limit=0").status_code == 400
