"""Maintenance windows through the API (Connexion, response validation on): planning,
reading, changing and deleting them, what is refused and why, who sees which, and the status
view; and the store query the recorder and the statistics ask which windows cover services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from accounts import Account
from sqlalchemy import Engine, text

from statuschecker.rules.maintenance import Schedule
from statuschecker.store import maintenances as store

PROBLEM = "application/problem+json"
WEEKLY = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0"


def at(delta: timedelta = timedelta()) -> str:
    """Now plus `delta`, as the API writes times (whole seconds)."""
    moment = datetime.now(UTC).replace(microsecond=0) + delta
    return moment.isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def register(client: Any, name: str = "web", **fields: Any) -> dict:
    body = {"name": name, "url": "http://127.0.0.1:1/", **fields}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def tag(db: Engine, service_id: int, *tags: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE services SET tags = :tags WHERE id = :id"),
            {"tags": list(tags), "id": service_id},
        )


def plan(client: Any, **body: Any) -> dict:
    response = client.post("/v1/maintenances", json={"title": "upgrade", **body})
    assert response.status_code == 201, response.text
    return response.json()


def one_off(service_id: int, start: timedelta, end: timedelta, **fields: Any) -> dict:
    return {"service_ids": [service_id], "starts_at": at(start), "ends_at": at(end), **fields}


def assert_problem(response: Any, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail_part in response.json()["detail"], response.json()


@pytest.fixture
def service(client: Any) -> dict:
    return register(client)


def test_a_one_off_window_covering_now_is_active(client: Any, service: dict) -> None:
    body = one_off(service["id"], -timedelta(minutes=5), timedelta(hours=1), title="DB upgrade")
    response = client.post("/v1/maintenances", json=body)
    assert response.status_code == 201, response.text
    window = response.json()
    assert response.headers["location"] == f"/v1/maintenances/{window['id']}"
    assert window["title"] == "DB upgrade"
    assert window["service_ids"] == [service["id"]]
    assert window["tags"] == []
    assert (window["starts_at"], window["ends_at"]) == (body["starts_at"], body["ends_at"])
    assert window["rrule"] is window["duration_seconds"] is window["timezone"] is None
    assert window["active"] is True
    assert window["current"] == {"starts_at": body["starts_at"], "ends_at": body["ends_at"]}
    assert window["next"] is None
    assert client.get(response.headers["location"]).json() == window


def test_a_one_off_window_ahead_is_next_and_one_past_is_neither(client: Any, service: dict) -> None:
    ahead = plan(client, **one_off(service["id"], timedelta(days=1), timedelta(days=1, hours=1)))
    assert ahead["active"] is False and ahead["current"] is None
    assert ahead["next"] == {"starts_at": ahead["starts_at"], "ends_at": ahead["ends_at"]}
    past = plan(client, **one_off(service["id"], -timedelta(days=2), -timedelta(days=1)))
    assert (past["active"], past["current"], past["next"]) == (False, None, None)


def test_a_weekly_berlin_window_has_its_next_sunday_in_utc(client: Any, service: dict) -> None:
    window = plan(
        client,
        tags=["backend"],
        rrule=WEEKLY,
        duration_seconds=3600,
        timezone="Europe/Berlin",
        starts_at="2030-01-01T00:00:00Z",
    )
    assert (window["rrule"], window["duration_seconds"]) == (WEEKLY, 3600)
    assert (window["timezone"], window["ends_at"], window["active"]) == (
        "Europe/Berlin",
        None,
        False,
    )
    # 2030-01-06 is the first Sunday; 02:00 in Berlin in winter is 01:00Z.
    assert window["next"] == {
        "starts_at": "2030-01-06T01:00:00Z",
        "ends_at": "2030-01-06T02:00:00Z",
    }


def test_a_recurring_window_covering_now_has_current_and_next(client: Any, service: dict) -> None:
    window = plan(
        client,
        service_ids=[service["id"]],
        rrule="FREQ=HOURLY",
        duration_seconds=3600,
        timezone="UTC",
    )
    now = datetime.now(UTC)
    assert window["active"] is True
    current, following = window["current"], window["next"]
    assert parse(current["starts_at"]) <= now < parse(current["ends_at"])
    assert parse(following["starts_at"]) == parse(current["starts_at"]) + timedelta(hours=1)


def test_a_recurring_window_starts_by_default_at_midnight_in_its_time_zone(
    client: Any, service: dict
) -> None:
    window = plan(
        client, tags=["x"], rrule="FREQ=DAILY", duration_seconds=600, timezone="Asia/Tokyo"
    )
    tokyo = parse(window["starts_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (tokyo.hour, tokyo.minute, tokyo.second) == (0, 0, 0)
    assert tokyo.date() == datetime.now(ZoneInfo("Asia/Tokyo")).date()
    assert parse(window["next"]["starts_at"]).astimezone(ZoneInfo("Asia/Tokyo")).hour == 0


def test_a_one_off_window_starts_by_default_now(client: Any, service: dict) -> None:
    window = plan(client, service_ids=[service["id"]], ends_at=at(timedelta(hours=1)))
    assert abs(parse(window["starts_at"]) - datetime.now(UTC)) < timedelta(seconds=10)
    assert window["active"] is True


RECURRING = {"rrule": WEEKLY, "duration_seconds": 3600, "timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"tags": ["a"], "starts_at": at()}, "a one-off window needs ends_at"),
        (
            {"tags": ["a"], "starts_at": at(timedelta(hours=1)), "ends_at": at()},
            "ends_at must be after starts_at",
        ),
        ({"tags": ["a"], "starts_at": at(), "ends_at": at()}, "ends_at must be after starts_at"),
        (
            {"tags": ["a"], "ends_at": at(timedelta(hours=1)), "duration_seconds": 600},
            "duration_seconds belong to a recurring window",
        ),
        (
            {"tags": ["a"], "ends_at": at(timedelta(hours=1)), "timezone": "UTC"},
            "timezone belong to a recurring window",
        ),
        ({"tags": ["a"], "rrule": WEEKLY}, "needs duration_seconds and timezone besides rrule"),
        ({"tags": ["a"], "rrule": WEEKLY, "timezone": "UTC"}, "needs duration_seconds"),
        (
            {"tags": ["a"], **RECURRING, "timezone": "Mars/Olympus"},
            "unknown time zone 'Mars/Olympus'",
        ),
        ({"tags": ["a"], **RECURRING, "rrule": "FREQ=MINUTELY"}, "FREQ=MINUTELY is too frequent"),
        ({"tags": ["a"], **RECURRING, "rrule": "FREQ=SECONDLY"}, "FREQ=SECONDLY is too frequent"),
        (
            {"tags": ["a"], **RECURRING, "rrule": "FREQ=DAILY;BYHOUR=25"},
            "rrule part 'BYHOUR=25' is invalid",
        ),
        ({"tags": ["a"], **RECURRING, "rrule": "FREQ=DAILY;BYFOO=1"}, "unknown part BYFOO"),
        ({"tags": ["a"], **RECURRING, "rrule": "BYHOUR=2"}, "rrule needs FREQ"),
        (
            {"tags": ["a"], **RECURRING, "rrule": "FREQ=DAILY;UNTIL=20300101T000000Z"},
            "cannot hold UNTIL",
        ),
        (
            {"tags": ["a"], **RECURRING, "rrule": "DTSTART:20300101T000000Z RRULE:FREQ=DAILY"},
            "without DTSTART",
        ),
        (
            {"tags": ["a"], **RECURRING, "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
            "has no occurrence at all",
        ),
        (
            {
                "tags": ["a"],
                **RECURRING,
                "starts_at": "2030-01-07T00:00:00Z",  # a Monday
                "ends_at": "2030-01-12T00:00:00Z",
            },
            "has no occurrence between starts_at and ends_at",
        ),
        ({"ends_at": at(timedelta(hours=1))}, "needs service_ids or tags (at least one)"),
        (
            {"service_ids": [], "tags": [], "ends_at": at(timedelta(hours=1))},
            "needs service_ids or tags",
        ),
        (
            {"service_ids": [7, 9], "ends_at": at(timedelta(hours=1))},
            "no service with id 7, 9",
        ),
        ({"tags": ["a"], "ends_at": "tomorrow"}, "ends_at"),
    ],
)
def test_windows_that_cannot_be_honoured_are_refused_saying_why(
    client: Any, service: dict, fields: dict, detail: str
) -> None:
    assert_problem(client.post("/v1/maintenances", json={"title": "x", **fields}), 400, detail)
    assert client.get("/v1/maintenances").json()["data"] == []


def test_another_accounts_window_is_not_there(
    make_account: Callable[..., Account], make_client: Callable[..., Any]
) -> None:
    alice = make_client(make_account("alice@example.com"))
    bob = make_client(make_account("bob@example.com"))
    alices_service = register(alice)
    window = plan(alice, **one_off(alices_service["id"], timedelta(hours=1), timedelta(hours=2)))
    path = f"/v1/maintenances/{window['id']}"
    assert_problem(bob.get(path), 404, f"no maintenance window with id {window['id']}")
    assert_problem(bob.patch(path, json={"title": "mine"}), 404, "no maintenance window")
    assert_problem(bob.delete(path), 404, "no maintenance window")
    assert bob.get("/v1/maintenances").json()["data"] == []
    # Bob cannot cover Alice's service either.
    refused = bob.post(
        "/v1/maintenances",
        json={"title": "x", **one_off(alices_service["id"], timedelta(0), timedelta(hours=1))},
    )
    assert_problem(refused, 400, f"no service with id {alices_service['id']}")
    assert alice.get(path).json()["title"] == "upgrade"

    admin = make_client(make_account("root@example.com", admin=True))
    assert [w["id"] for w in admin.get("/v1/maintenances").json()["data"]] == [window["id"]]
    assert admin.patch(path, json={"title": "by admin"}).json()["title"] == "by admin"


def test_the_list_pages_in_creation_order(client: Any, service: dict) -> None:
    ids = [
        plan(client, **one_off(service["id"], timedelta(hours=i), timedelta(hours=i + 1)))["id"]
        for i in range(1, 4)
    ]
    first = client.get("/v1/maintenances", params={"limit": 2}).json()
    assert [w["id"] for w in first["data"]] == ids[:2]
    assert first["next_cursor"]
    second = client.get(
        "/v1/maintenances", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [w["id"] for w in second["data"]] == ids[2:]
    assert second["next_cursor"] is None


def test_a_patch_keeps_what_it_does_not_name(client: Any, service: dict) -> None:
    window = plan(client, **one_off(service["id"], timedelta(hours=1), timedelta(hours=2)))
    path = f"/v1/maintenances/{window['id']}"
    changed = client.patch(path, json={"title": "longer upgrade", "tags": ["db"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["tags"]) == ("longer upgrade", ["db"])
    unchanged = ("service_ids", "starts_at", "ends_at", "rrule", "created_at", "next")
    assert {k: body[k] for k in unchanged} == {k: window[k] for k in unchanged}
    assert parse(body["updated_at"]) >= parse(window["updated_at"])
    assert client.get(path).json() == body


def test_a_patch_can_turn_a_one_off_window_into_a_recurring_one(client: Any, service: dict) -> None:
    window = plan(client, **one_off(service["id"], timedelta(hours=1), timedelta(hours=2)))
    path = f"/v1/maintenances/{window['id']}"
    changed = client.patch(path, json={**RECURRING, "ends_at": None})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["rrule"], body["timezone"], body["ends_at"]) == (WEEKLY, "Europe/Berlin", None)
    sunday = parse(body["next"]["starts_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (sunday.weekday(), sunday.hour, sunday.minute) == (6, 2, 0)
    back = client.patch(
        path,
        json={
            "rrule": None,
            "duration_seconds": None,
            "timezone": None,
            "ends_at": at(timedelta(days=1)),
        },
    )
    assert back.status_code == 200, back.text
    assert back.json()["rrule"] is None


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"rrule": WEEKLY}, "needs duration_seconds and timezone besides rrule"),
        ({"ends_at": None}, "a one-off window needs ends_at"),
        ({"starts_at": at(timedelta(hours=3))}, "ends_at must be after starts_at"),
        ({"service_ids": [], "tags": []}, "needs service_ids or tags"),
        ({"service_ids": [12345]}, "no service with id 12345"),
        ({"timezone": "UTC"}, "timezone belong to a recurring window"),
    ],
)
def test_a_patch_is_checked_as_a_whole_window(
    client: Any, service: dict, changes: dict, detail: str
) -> None:
    window = plan(client, **one_off(service["id"], timedelta(hours=1), timedelta(hours=2)))
    path = f"/v1/maintenances/{window['id']}"
    assert_problem(client.patch(path, json=changes), 400, detail)
    assert client.get(path).json() == window


def test_delete_removes_the_window(client: Any, service: dict) -> None:
    window = plan(client, **one_off(service["id"], timedelta(hours=1), timedelta(hours=2)))
    path = f"/v1/maintenances/{window['id']}"
    response = client.delete(path)
    assert response.status_code == 204
    assert_problem(client.get(path), 404, "no maintenance window")
    assert_problem(client.delete(path), 404, "no maintenance window")


def test_maintenance_needs_a_token(make_client: Callable[..., Any]) -> None:
    anonymous = make_client()
    assert anonymous.get("/v1/maintenances").status_code == 401
    assert anonymous.post("/v1/maintenances", json={"title": "x"}).status_code == 401


def test_the_status_view_shows_windows_of_the_services_the_reader_sees(
    client: Any, make_client: Callable[..., Any], db: Engine
) -> None:
    public = register(client, "public", public=True)
    private = register(client, "private")
    tag(db, public["id"], "db")
    tag(db, private["id"], "db")
    both = plan(
        client,
        title="both",
        tags=["db"],
        starts_at=at(-timedelta(minutes=1)),
        ends_at=at(timedelta(hours=1)),
    )
    hidden = plan(
        client,
        title="private only",
        **one_off(private["id"], timedelta(hours=2), timedelta(hours=3)),
    )
    weekly = plan(client, title="weekly", service_ids=[public["id"]], **RECURRING)
    plan(client, title="far", **one_off(public["id"], timedelta(days=40), timedelta(days=41)))
    plan(client, title="over", **one_off(public["id"], -timedelta(days=2), -timedelta(days=1)))

    anonymous = make_client().get("/v1/status/maintenances")
    assert anonymous.status_code == 200, anonymous.text
    shown = anonymous.json()["data"]
    assert [w["id"] for w in shown] == [both["id"], weekly["id"]]
    assert shown[0] == {
        "id": both["id"],
        "title": "both",
        "active": True,
        "starts_at": both["starts_at"],
        "ends_at": both["ends_at"],
        "services": [{"id": public["id"], "name": "public"}],
    }
    assert shown[1]["active"] is False
    assert shown[1]["starts_at"] == weekly["next"]["starts_at"]

    owners = client.get("/v1/status/maintenances").json()["data"]
    assert [w["id"] for w in owners] == [both["id"], hidden["id"], weekly["id"]]
    assert [s["id"] for s in owners[0]["services"]] == [public["id"], private["id"]]


def test_covering_finds_each_services_windows_in_one_query(
    db: Engine, make_account: Callable[..., Account], make_client: Callable[..., Any]
) -> None:
    """What the recorder and the statistics ask: the windows of the same owner that name the
    service or share a tag with it."""
    alice_account = make_account("alice@example.com")
    alice = make_client(alice_account)
    bob = make_client(make_account("bob@example.com"))
    a1, a2, a3 = (register(alice, name)["id"] for name in ("a1", "a2", "a3"))
    b1 = register(bob, "b1")["id"]
    named = plan(alice, **one_off(a1, timedelta(hours=1), timedelta(hours=2)))
    tagged = plan(alice, tags=["db", "edge"], **RECURRING)
    plan(bob, tags=["db"], ends_at=at(timedelta(hours=1)))  # Bob's window: not for Alice's
    alice_id = alice_account.user.id
    with db.connect() as conn:
        found = store.covering(
            conn,
            {
                a1: (alice_id, ["web"]),
                a2: (alice_id, ["db"]),
                a3: (alice_id, []),
                b1: (None, ["db"]),  # of nobody: only windows of nobody would cover it
            },
        )
    assert set(found) == {a1, a2}
    assert found[a1] == [Schedule(parse(named["starts_at"]), parse(named["ends_at"]))]
    assert [s.rrule for s in found[a2]] == [tagged["rrule"]]
    with db.connect() as conn:
        assert store.covering(conn, {}) == {}
        assert store.covering(conn, {a3: (alice_id, [])}) == {}
        assert list(store.covering(conn, {a1: (alice_id, ())})) == [a1]
