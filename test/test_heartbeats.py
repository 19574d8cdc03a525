"""Heartbeat services through the API (Connexion, response validation on) and their pings at
/ping/{key}, answered by the same app: registration and what it refuses, the ping key shown
whole to its account and masked everywhere else, rotation, changes and pauses, the ping
endpoints and their log, the per-key rate limit, the judgement of runs (failures, too long,
too fast, too often, overlapping runs), and lateness found by a real poller.

The pings of an app go through one test client only, entered after the app's other clients:
an app's ping intake works on the event loop of the first client that pings, and each test
client has its own loop, which must still be running when the intake is closed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from accounts import Account
from sqlalchemy import text
from waiting import wait_until

from statuschecker.model import CheckOutcome, Ping
from statuschecker.polling.ping_intake import LEFT_OVER_AFTER, POLLERS_JUDGE_AFTER, QUIET_PINGS
from statuschecker.polling.poller import SILENCE
from statuschecker.runtime import Runtime
from web.app import create_app

PROBLEM = "application/problem+json"
MASK = "********"
KEY = re.compile(r"[A-Za-z0-9_-]{22}")
NOT_A_PING_URL = "not a ping URL: /ping/{key}[/start|/fail|/{exit status}]"
UNKNOWN_KEY = "no heartbeat has this ping key (it may have been rotated)"
EITHER_URL_OR_HEARTBEAT = (
    "the body is invalid: A service is either checked (give `url`, and the options of its "
    "kind) or a heartbeat (give `heartbeat`: it reports in by itself at its `ping_url`, and has "
    "no `interval_seconds`, `timeout_seconds`, `locations` or `quorum` of its own); one of the "
    "two."
)
BERLIN = ZoneInfo("Europe/Berlin")


# ---------------------------------------------------------------------------------------------
# Helpers


def now() -> datetime:
    return datetime.now(UTC)


def moment(value: str) -> datetime:
    """A time as the API writes it."""
    return datetime.fromisoformat(value)


def stamp(value: datetime) -> str:
    """A time as the API writes it (RFC 3339 in UTC with a `Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tenths(seconds: float) -> str:
    """A run's length as the reasons write it: tenths cut, not rounded (`1.2s`, `0s`)."""
    cut = int(seconds * 10)
    return f"{cut // 10}s" if cut % 10 == 0 else f"{cut / 10}s"


def register(
    client: Any, schedule: dict[str, Any] | None = None, name: str = "job", **fields: Any
) -> dict[str, Any]:
    """A heartbeat registered with `schedule` (every 5 minutes if not given)."""
    body = {"name": name, "heartbeat": schedule or {"interval_seconds": 300}, **fields}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def key_of(service: dict[str, Any]) -> str:
    """The key at the end of a heartbeat's ping URL (shown whole)."""
    key: str = service["ping_url"].rsplit("/ping/", 1)[1]
    assert KEY.fullmatch(key), service["ping_url"]
    return key


def ping(
    client: Any,
    key: str,
    suffix: str = "",
    *,
    method: str = "GET",
    rid: str | None = None,
    **kwargs: Any,
) -> Any:
    """Send a ping: `/ping/{key}[/suffix][?rid=rid]`."""
    path = f"/ping/{key}" + (f"/{suffix}" if suffix else "")
    params = {"rid": rid} if rid is not None else None
    return client.request(method, path, params=params, **kwargs)


def assert_ok(response: Any) -> None:
    """A ping answered `OK` in plain text."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == ("" if response.request.method == "HEAD" else "OK")


def assert_problem(response: Any, status: int, detail: str) -> None:
    """A problem+json answer with exactly this status and detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["detail"]) == (status, detail), problem


def read(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def service(client: Any, sid: int) -> dict[str, Any]:
    shown: dict[str, Any] = read(client, f"/v1/services/{sid}")
    return shown


def ping_log(client: Any, sid: int) -> list[dict[str, Any]]:
    """The heartbeat's pings, newest first."""
    page = read(client, f"/v1/services/{sid}/pings?limit=100")
    assert page["next_cursor"] is None
    pings: list[dict[str, Any]] = page["data"]
    return pings


def ticks(client: Any, sid: int) -> list[dict[str, Any]]:
    """The heartbeat's ticks, newest first."""
    found: list[dict[str, Any]] = read(client, f"/v1/services/{sid}/ticks?limit=100")["data"]
    return found


def events(client: Any, sid: int) -> list[dict[str, Any]]:
    """The heartbeat's up and down periods, newest first."""
    found: list[dict[str, Any]] = read(client, f"/v1/services/{sid}/events?limit=100")["data"]
    return found


def alerts(client: Any, sid: int) -> list[dict[str, Any]]:
    """The heartbeat's alerts, oldest first."""
    found: list[dict[str, Any]] = read(client, f"/v1/services/{sid}/alerts?limit=100")["data"]
    return found[::-1]


def next_at_three_in_berlin(after: datetime) -> datetime:
    """The first 03:00 on Berlin's wall clock strictly after `after`, in UTC."""
    local = after.astimezone(BERLIN)
    candidate = datetime.combine(local.date(), clock(3), tzinfo=BERLIN)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), clock(3), tzinfo=BERLIN)
    return candidate.astimezone(UTC)


def next_five_minutes(after: datetime) -> datetime:
    """The first whole 5 minutes (UTC) strictly after `after`."""
    floor = after.replace(minute=after.minute - after.minute % 5, second=0, microsecond=0)
    return floor + timedelta(minutes=5)


def next_half_past(after: datetime) -> datetime:
    """The first hh:30:00 UTC strictly after `after` (the top of an hour in Asia/Kolkata)."""
    candidate = after.replace(minute=30, second=0, microsecond=0)
    return candidate if candidate > after else candidate + timedelta(hours=1)


@pytest.fixture
def make_api(
    make_runtime: Callable[..., Runtime], account: Account
) -> Iterator[Callable[..., Any]]:
    """Makes test clients acting as `account`, each of an app of its own on a runtime with
    these settings changed."""
    with contextlib.ExitStack() as clients:

        def make(**settings: Any) -> Any:
            app = create_app(make_runtime(**settings), validate_responses=True)
            return clients.enter_context(app.test_client(headers=account.headers))

        yield make


# ---------------------------------------------------------------------------------------------
# Registration


def test_an_interval_heartbeat_is_registered_with_its_ping_url_and_first_due_time(
    client: Any,
) -> None:
    before = now()
    response = client.post(
        "/v1/services",
        json={"name": "backup", "heartbeat": {"interval_seconds": 300, "grace_seconds": 30}},
    )
    after = now()
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/services/{created['id']}"
    assert (created["kind"], created["url"], created["status"]) == ("heartbeat", None, "unknown")
    assert (created["interval_seconds"], created["timeout_seconds"]) == (300, 1.0)
    assert re.fullmatch(r"http://testserver/ping/[A-Za-z0-9_-]{22}", created["ping_url"])
    due = moment(created["heartbeat"]["due_at"])
    assert before + timedelta(seconds=300) <= due <= after + timedelta(seconds=300)
    assert created["heartbeat"] == {
        "interval_seconds": 300,
        "cron": None,
        "timezone": None,
        "grace_seconds": 30,
        "max_duration_seconds": None,
        "min_duration_seconds": None,
        "min_gap_seconds": None,
        "start_grace_seconds": None,
        "last_ping_at": None,
        "due_at": stamp(due),
        "late_at": stamp(due + timedelta(seconds=30)),
        "running": [],
    }
    # One late or failed run is enough: the grace has been waited already.
    confirmation = ("confirm_down_after", "confirm_up_after", "retry_interval_seconds")
    assert tuple(created[f] for f in confirmation) == (1, 1, 20)
    assert (created["warnings"], created["check_options"], created["metric"]["tick_count"]) == (
        [],
        {},
        0,
    )
    assert client.get(response.headers["location"]).json() == created

    checked = client.post("/v1/services", json={"name": "web", "url": "http://127.0.0.1:1/"})
    assert checked.status_code == 201, checked.text
    shown = checked.json()
    assert (shown["kind"], shown["heartbeat"], shown["ping_url"]) == ("http", None, None)
    assert tuple(shown[f] for f in confirmation) == (2, 1, 20)


def test_a_cron_heartbeat_is_due_at_the_next_time_on_its_zones_wall_clock(client: Any) -> None:
    before = now()
    created = register(
        client, {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}, name="nightly backup"
    )
    due = next_at_three_in_berlin(before)
    assert next_at_three_in_berlin(now()) == due  # not 03:00 in Berlin during the request
    heartbeat = created["heartbeat"]
    assert (heartbeat["interval_seconds"], heartbeat["cron"], heartbeat["timezone"]) == (
        None,
        "0 3 * * *",
        "Europe/Berlin",
    )
    assert heartbeat["grace_seconds"] == 60  # the default
    assert (heartbeat["due_at"], heartbeat["late_at"]) == (
        stamp(due),
        stamp(due + timedelta(seconds=60)),
    )
    assert due.astimezone(BERLIN).time() == clock(3)
    # The pollers' fallback period: the time between its next two due times (a day).
    following = next_at_three_in_berlin(due)
    assert created["interval_seconds"] == min(int((following - due).total_seconds()), 86400)
    assert KEY.fullmatch(key_of(created))


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, EITHER_URL_OR_HEARTBEAT),
        (
            {"url": "http://a.test/", "heartbeat": {"interval_seconds": 60}},
            EITHER_URL_OR_HEARTBEAT,
        ),
        ({"interval_seconds": 60, "heartbeat": {"interval_seconds": 60}}, EITHER_URL_OR_HEARTBEAT),
        ({"timeout_seconds": 5, "heartbeat": {"interval_seconds": 60}}, EITHER_URL_OR_HEARTBEAT),
        (
            {"heartbeat": {"cron": "61 * * * *"}},
            "heartbeat: invalid cron expression '61 * * * *': minute field '61': out of range",
        ),
        (
            {"heartbeat": {"cron": "0 0 * * * *"}},
            "heartbeat: invalid cron expression '0 0 * * * *': it needs 5 fields "
            "(minute hour day-of-month month day-of-week), not 6",
        ),
        (
            {"heartbeat": {"cron": "0 3 * * *", "timezone": "Mars/Olympus"}},
            "heartbeat: unknown time zone 'Mars/Olympus'",
        ),
        (
            {"heartbeat": {"cron": "0 3 * * *", "interval_seconds": 60}},
            "heartbeat: a heartbeat needs either interval_seconds or cron, not both or neither",
        ),
        (
            {"heartbeat": {"grace_seconds": 60}},
            "heartbeat: a heartbeat needs either interval_seconds or cron, not both or neither",
        ),
        (
            {"heartbeat": {"interval_seconds": 60, "timezone": "UTC"}},
            "heartbeat: timezone applies to a cron schedule only",
        ),
        (
            {
                "heartbeat": {
                    "interval_seconds": 60,
                    "min_duration_seconds": 5,
                    "max_duration_seconds": 5,
                }
            },
            "heartbeat: min_duration_seconds (5) must be less than max_duration_seconds (5)",
        ),
    ],
)
def test_a_registration_that_is_neither_one_thing_nor_the_other_is_refused(
    client: Any, body: dict[str, Any], detail: str
) -> None:
    assert_problem(client.post("/v1/services", json={"name": "x", **body}), 400, detail)
    assert read(client, "/v1/services")["data"] == []


def test_check_options_given_with_a_heartbeat_are_kept_and_named_in_warnings(
    client: Any,
) -> None:
    created = register(client, expected_status=["200"], method="HEAD")
    assert created["check_options"] == {"method": "HEAD", "expected_status": ["200"]}
    assert created["warnings"] == [
        "expected_status is an option of checked services: kept, but unused by this heartbeat",
        "method is an option of checked services: kept, but unused by this heartbeat",
    ]
    assert service(client, created["id"])["warnings"] == created["warnings"]


# ---------------------------------------------------------------------------------------------
# The ping key: shown whole to its account only, rotated


def test_the_ping_key_is_whole_to_its_account_and_nowhere_else(
    make_client: Callable[..., Any],
    make_account: Callable[..., Account],
    account: Account,
) -> None:
    anonymous = make_client()
    other = make_client(make_account("other@example.com"))
    owner = make_client(account)  # the last one entered: it pings
    created = register(owner, name="public job", public=True)
    sid, key = created["id"], key_of(created)
    whole = f"http://testserver/ping/{key}"
    assert created["ping_url"] == whole

    listed = read(owner, "/v1/services")["data"]
    assert [s["ping_url"] for s in listed] == [f"http://testserver/ping/{key[:4]}{MASK}"]
    assert service(owner, sid)["ping_url"] == whole
    renamed = owner.patch(f"/v1/services/{sid}", json={"name": "public-job"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["ping_url"] == whole

    for path in (f"/v1/services/{sid}", f"/v1/services/{sid}/pings"):
        assert_problem(other.get(path), 404, f"no service with id {sid}")
    assert_problem(other.post(f"/v1/services/{sid}/ping-key"), 404, f"no service with id {sid}")
    assert read(other, "/v1/services")["data"] == []

    # Something to show: an up period, then an incident.
    assert_ok(ping(owner, key))
    assert_ok(ping(owner, key, "fail"))
    entry = read(anonymous, "/v1/status")["data"][0]
    assert (entry["name"], entry["kind"], entry["status"]) == ("public-job", "heartbeat", "down")
    paths = [
        "/v1/status",
        "/v1/status/down",
        "/v1/status/maintenances",
        "/v1/status/service/public-job",
        "/v1/status/service/public-job/incidents",
        f"/v1/services/{sid}/history",
        f"/v1/services/{sid}/badge/status.svg",
        f"/v1/services/{sid}/badge/uptime.svg",
        "/v1/services",
        f"/v1/services/{sid}",
        f"/v1/services/{sid}/pings",
        f"/v1/services/{sid}/ticks",
        f"/v1/services/{sid}/alerts",
        "/",
        "/static/status.js",
    ]
    for reader in (anonymous, other):
        for path in paths:
            answer = reader.get(path)
            assert answer.status_code in (200, 401, 404), (path, answer.text)
            shown = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
            assert key not in shown, path
            assert key[4:] not in shown, path
    incidents = read(anonymous, "/v1/status/service/public-job/incidents")["data"]
    assert [i["description"] for i in incidents] == ["failure reported"]
    # A heartbeat has no URL: the brief says so as the service does (the contract: null).
    assert entry["url"] is None


def test_the_public_url_is_the_base_of_ping_urls(make_api: Callable[..., Any]) -> None:
    client = make_api(public_url="https://status.example.com/monitor/")
    created = register(client)
    key = key_of(created)
    assert created["ping_url"] == f"https://status.example.com/monitor/ping/{key}"
    assert [s["ping_url"] for s in read(client, "/v1/services")["data"]] == [
        f"https://status.example.com/monitor/ping/{key[:4]}{MASK}"
    ]
    assert_ok(ping(client, key))  # the key is the same wherever it is reached


def test_a_rotated_key_replaces_the_old_one_at_once(
    make_runtime: Callable[..., Runtime], make_client: Callable[..., Any], account: Account
) -> None:
    _, secret = make_runtime().accounts.create_token(account.caller, "ro", True, None)
    reader = make_client(Account(account.user, secret))
    owner = make_client(account)  # the last one entered: it pings
    created = register(owner)
    sid, old = created["id"], key_of(created)
    assert_ok(ping(owner, old))

    rotated = owner.post(f"/v1/services/{sid}/ping-key")
    assert rotated.status_code == 200, rotated.text
    new = key_of(rotated.json())
    assert new != old
    assert rotated.json()["ping_url"] == f"http://testserver/ping/{new}"
    assert service(owner, sid)["ping_url"] == rotated.json()["ping_url"]
    assert_problem(ping(owner, old), 404, UNKNOWN_KEY)
    assert_problem(ping(owner, old, "fail"), 404, UNKNOWN_KEY)
    assert_ok(ping(owner, new))
    assert [p["kind"] for p in ping_log(owner, sid)] == ["success", "success"]
    assert service(owner, sid)["status"] == "up"

    assert_problem(
        reader.post(f"/v1/services/{sid}/ping-key"),
        403,
        "this API token is read-only",
    )
    masked = f"http://testserver/ping/{new[:4]}********"
    assert service(reader, sid)["ping_url"] == masked  # a read-only token cannot learn it
    assert service(owner, sid)["ping_url"] == rotated.json()["ping_url"]
    checked = owner.post("/v1/services", json={"name": "web", "url": "http://127.0.0.1:1/"})
    cid = checked.json()["id"]
    assert_problem(
        owner.post(f"/v1/services/{cid}/ping-key"),
        409,
        f"service {cid} is checked, not a heartbeat: it has no ping key",
    )
    assert_problem(owner.post("/v1/services/9999/ping-key"), 404, "no service with id 9999")
    assert owner.delete(f"/v1/services/{sid}").status_code == 204
    assert_problem(ping(owner, new), 404, UNKNOWN_KEY)


# ---------------------------------------------------------------------------------------------
# Changes


def test_an_admin_sees_other_accounts_keys_masked(
    make_client: Callable[..., Any], make_account: Callable[..., Account], account: Account
) -> None:
    admin = make_client(make_account("admin@example.com", admin=True))
    owner = make_client(account)
    theirs, own = register(owner), register(admin, name="admin's")
    assert service(admin, theirs["id"])["ping_url"] == (
        f"http://testserver/ping/{key_of(theirs)[:4]}********"
    )
    assert service(admin, own["id"])["ping_url"] == own["ping_url"]


def test_a_heartbeat_refuses_what_only_a_checked_service_has_and_the_reverse(
    client: Any,
) -> None:
    sid = register(client)["id"]
    assert_problem(
        client.patch(f"/v1/services/{sid}", json={"url": "http://a.test/"}),
        409,
        f"service {sid} is a heartbeat, which is not checked but reports in: url applies to "
        "checked services only (its schedule is `heartbeat`)",
    )
    assert_problem(
        client.patch(f"/v1/services/{sid}", json={"timeout_seconds": 5, "interval_seconds": 60}),
        409,
        f"service {sid} is a heartbeat, which is not checked but reports in: interval_seconds, "
        "timeout_seconds apply to checked services only (its schedule is `heartbeat`)",
    )
    checked = client.post("/v1/services", json={"name": "web", "url": "http://127.0.0.1:1/"})
    cid = checked.json()["id"]
    assert_problem(
        client.patch(f"/v1/services/{cid}", json={"heartbeat": {"interval_seconds": 60}}),
        409,
        f"service {cid} is checked, and cannot become a heartbeat: register the heartbeat as a "
        "new service",
    )
    assert_problem(
        client.patch(f"/v1/services/{sid}", json={"heartbeat": {"timezone": "Mars/Olympus"}}),
        400,
        "heartbeat: timezone applies to a cron schedule only",
    )
    assert_problem(
        client.patch(f"/v1/services/{sid}", json={"heartbeat": {"cron": "0 3 * * *"}}),
        400,
        "heartbeat: a heartbeat needs either interval_seconds or cron, not both or neither",
    )
    assert service(client, sid)["heartbeat"]["interval_seconds"] == 300


def test_a_schedule_change_moves_the_due_time_from_the_last_ping(client: Any) -> None:
    created = register(client, {"interval_seconds": 300, "grace_seconds": 30})
    sid = created["id"]
    assert_ok(ping(client, key_of(created)))
    last = moment(service(client, sid)["heartbeat"]["last_ping_at"])

    def change(schedule: dict[str, Any]) -> dict[str, Any]:
        response = client.patch(f"/v1/services/{sid}", json={"heartbeat": schedule})
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    every_five = change({"cron": "*/5 * * * *", "interval_seconds": None})
    heartbeat = every_five["heartbeat"]
    assert (heartbeat["interval_seconds"], heartbeat["cron"], heartbeat["timezone"]) == (
        None,
        "*/5 * * * *",
        None,
    )
    due = next_five_minutes(last)
    assert (heartbeat["due_at"], heartbeat["late_at"]) == (
        stamp(due),
        stamp(due + timedelta(seconds=30)),
    )
    assert every_five["interval_seconds"] == 300

    hourly_in_india = change({"cron": "0 * * * *", "timezone": "Asia/Kolkata"})
    assert hourly_in_india["heartbeat"]["due_at"] == stamp(next_half_past(last))
    assert hourly_in_india["interval_seconds"] == 3600

    back = change({"interval_seconds": 120, "cron": None, "timezone": None, "grace_seconds": 5})
    assert (back["heartbeat"]["due_at"], back["heartbeat"]["late_at"]) == (
        stamp(last + timedelta(seconds=120)),
        stamp(last + timedelta(seconds=125)),
    )
    assert (back["heartbeat"]["cron"], back["interval_seconds"]) == (None, 120)
    assert service(client, sid)["heartbeat"] == back["heartbeat"]


def test_a_paused_heartbeat_ignores_pings_and_expects_the_next_one_a_step_after_resuming(
    client: Any,
) -> None:
    created = register(client, {"interval_seconds": 300, "grace_seconds": 30})
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key))
    before = service(client, sid)

    paused = client.patch(f"/v1/services/{sid}", json={"paused": True})
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert (paused.json()["heartbeat"]["due_at"], paused.json()["heartbeat"]["late_at"]) == (
        None,
        None,
    )
    for suffix in ("", "start", "fail", "3"):
        assert_ok(ping(client, key, suffix))
    assert_ok(ping(client, key, method="POST", content=b"log"))
    assert len(ping_log(client, sid)) == 1
    assert len(ticks(client, sid)) == 1
    during = service(client, sid)
    assert during["metric"] == before["metric"]
    assert during["heartbeat"]["last_ping_at"] == before["heartbeat"]["last_ping_at"]
    assert during["heartbeat"]["running"] == []

    resuming = now()
    resumed = client.patch(f"/v1/services/{sid}", json={"paused": False})
    resumed_by = now()
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "up"
    due = moment(resumed.json()["heartbeat"]["due_at"])
    assert resuming + timedelta(seconds=300) <= due <= resumed_by + timedelta(seconds=300)
    assert resumed.json()["heartbeat"]["late_at"] == stamp(due + timedelta(seconds=30))


# ---------------------------------------------------------------------------------------------
# The ping endpoints


def test_a_ping_is_a_get_a_post_or_a_head(client: Any) -> None:
    for method in ("GET", "POST", "HEAD"):
        created = register(client, name=f"pinged by {method}")
        sid = created["id"]
        assert_ok(ping(client, key_of(created), method=method))
        (logged,) = ping_log(client, sid)
        assert (logged["kind"], logged["exit_status"]) == ("success", None), method
        shown = service(client, sid)
        assert (shown["status"], shown["heartbeat"]["last_ping_at"]) == (
            "up",
            logged["received_at"],
        ), method


@pytest.mark.parametrize(
    ("suffix", "status", "kind", "exit_status", "reason"),
    [
        ("", "up", "success", None, None),
        ("0", "up", "success", 0, None),
        ("fail", "down", "fail", None, "failure reported"),
        ("3", "down", "fail", 3, "exit status 3"),
        ("255", "down", "fail", 255, "exit status 255"),
    ],
)
def test_a_finishing_ping_is_judged_by_its_kind_and_exit_status(
    client: Any,
    suffix: str,
    status: str,
    kind: str,
    exit_status: int | None,
    reason: str | None,
) -> None:
    created = register(client)
    sid = created["id"]
    assert_ok(ping(client, key_of(created), suffix))
    (logged,) = ping_log(client, sid)
    assert (logged["kind"], logged["exit_status"], logged["duration_ms"]) == (
        kind,
        exit_status,
        None,
    )
    (tick,) = ticks(client, sid)
    assert (tick["checked_at"], tick["up"], tick["error"], tick["response_time_ms"]) == (
        logged["received_at"],
        status == "up",
        reason,
        None,
    )
    shown = service(client, sid)
    assert shown["status"] == status
    event = shown["latest_event"]
    assert (event["event"], event["reason"], event["date_started"]) == (
        "uptime" if status == "up" else "downtime",
        reason,
        logged["received_at"],
    )
    due = moment(logged["received_at"]) + timedelta(seconds=300)
    assert shown["heartbeat"]["due_at"] == stamp(due)  # a failed run is not also late


def test_what_is_not_a_ping_is_refused_and_nothing_is_recorded(client: Any) -> None:
    created = register(client)
    sid, key = created["id"], key_of(created)
    refused = [
        (ping(client, key, "256"), 400, "an exit status is 0-255, not 256"),
        (ping(client, key, "999", method="POST"), 400, "an exit status is 0-255, not 999"),
        (ping(client, key, "1000"), 404, NOT_A_PING_URL),
        (ping(client, key, "abc"), 404, NOT_A_PING_URL),
        (ping(client, key, "start/fail"), 404, NOT_A_PING_URL),
        # `/ping/KEY/$STATUS` with an empty variable: not a success in disguise.
        (client.get(f"/ping/{key}/"), 404, NOT_A_PING_URL),
        (ping(client, key, "start/"), 404, NOT_A_PING_URL),
        (ping(client, key, rid="r" * 65), 400, "rid is 64 characters at the most"),
        (ping(client, key, "start", rid="r" * 65), 400, "rid is 64 characters at the most"),
        (ping(client, "A" * 22), 404, UNKNOWN_KEY),  # well-formed, unknown
        (ping(client, "A" * 22, "fail", method="POST"), 404, UNKNOWN_KEY),
        (ping(client, key[:21]), 404, UNKNOWN_KEY),  # malformed
        (ping(client, key + "x"), 404, UNKNOWN_KEY),
        (ping(client, "k" * 65), 404, NOT_A_PING_URL),
        (ping(client, key[:10] + "." + key[11:]), 404, NOT_A_PING_URL),
    ]
    for response, status, detail in refused:
        assert_problem(response, status, detail)
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        response = ping(client, key, method=method)
        assert_problem(response, 405, "a ping is a GET or a POST")
        assert response.headers["allow"] == "GET, POST, HEAD"
    assert ping_log(client, sid) == []
    assert ticks(client, sid) == []
    assert service(client, sid)["status"] == "unknown"

    assert_ok(ping(client, key, "start", rid="r" * 64))  # the longest run id
    assert service(client, sid)["heartbeat"]["running"][0]["rid"] == "r" * 64


def test_the_ping_log_keeps_every_ping_newest_first_with_what_came_with_it(
    client: Any,
) -> None:
    created = register(client)
    sid, key = created["id"], key_of(created)
    agent = {"user-agent": "cron-wrapper/1.0"}
    assert_ok(ping(client, key, "start", rid="night-1", headers=agent))
    assert_ok(ping(client, key, "0", method="POST", rid="night-1", content=b"42 files\n"))
    assert_ok(ping(client, key, "fail", method="POST", content=b"disk full"))
    assert_ok(ping(client, key, "start"))
    assert_ok(ping(client, key, "2", headers=agent))
    log = ping_log(client, sid)
    assert [
        (p["kind"], p["exit_status"], p["rid"], p["body"], p["source"], p["user_agent"])
        for p in log
    ] == [
        ("fail", 2, None, None, "testclient", "cron-wrapper/1.0"),
        ("start", None, None, None, "testclient", "testclient"),
        ("fail", None, None, "disk full", "testclient", "testclient"),
        ("success", 0, "night-1", "42 files\n", "testclient", "testclient"),
        ("start", None, "night-1", None, "testclient", "cron-wrapper/1.0"),
    ]
    times = [moment(p["received_at"]) for p in log]
    assert times == sorted(times, reverse=True)
    durations = [p["duration_ms"] for p in log]
    assert (durations[1], durations[2], durations[4]) == (None, None, None)
    assert durations[0] == pytest.approx((times[0] - times[1]).total_seconds() * 1000)
    assert durations[3] == pytest.approx((times[3] - times[4]).total_seconds() * 1000)

    # One tick per finishing ping, none for a start: the reason as its error, the run's
    # duration as its response time.
    assert [
        (t["checked_at"], t["up"], t["error"], t["response_time_ms"]) for t in ticks(client, sid)
    ] == [
        (log[0]["received_at"], False, "exit status 2", durations[0]),
        (log[2]["received_at"], False, "failure reported", None),
        (log[3]["received_at"], True, None, durations[3]),
    ]

    pages, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = read(client, f"/v1/services/{sid}/pings{query}")
        pages.append([p["id"] for p in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [p["id"] for p in log]
    assert pages == [ids[0:2], ids[2:4], ids[4:]]

    checked = client.post("/v1/services", json={"name": "web", "url": "http://127.0.0.1:1/"})
    assert read(client, f"/v1/services/{checked.json()['id']}/pings")["data"] == []


BODIES: list[tuple[bytes | str, str]] = [
    (b"x" * 102_400, "x" * 102_400),
    (b"x" * 150_000, "x" * 102_400),  # the first 100 KB
    ("x" * 102_399 + "é" + "y" * 10, "x" * 102_399 + "\ufffd"),  # cut inside a character
    (b"ok \xff\xfe done", "ok \ufffd\ufffd done"),  # not UTF-8
    (b"nul \x00 here", "nul \ufffd here"),  # text PostgreSQL cannot store
    ("ünïcödé ✓", "ünïcödé ✓"),
]


def test_a_ping_body_is_kept_bounded_and_storable(client: Any) -> None:
    created = register(client)
    sid, key = created["id"], key_of(created)
    for body, kept in BODIES:
        content = body.encode() if isinstance(body, str) else body
        assert_ok(ping(client, key, method="POST", content=content))
        assert ping_log(client, sid)[0]["body"] == kept, kept[:20]
    assert len(ping_log(client, sid)) == len(BODIES)


def test_a_ping_body_beyond_the_request_limit_is_refused(make_api: Callable[..., Any]) -> None:
    client = make_api(max_request_bytes=2048)
    created = register(client)
    sid, key = created["id"], key_of(created)
    assert_problem(
        ping(client, key, method="POST", content=b"x" * 2049),
        413,
        "a ping's body is 2048 bytes at the most",
    )
    assert ping_log(client, sid) == []
    assert_ok(ping(client, key, method="POST", content=b"x" * 2048))
    assert [len(p["body"]) for p in ping_log(client, sid)] == [2048]


def test_a_chunked_ping_body_is_read_in_parts_and_bounded(
    make_runtime: Callable[..., Runtime], serve: Callable[[Any], str], account: Account
) -> None:
    """Over real HTTP, so that the body comes without a Content-Length, in several parts."""
    runtime = make_runtime(max_request_bytes=2048)
    url = serve(create_app(runtime, validate_responses=True))
    with httpx.Client(base_url=url, headers=account.headers, timeout=10) as client:
        created = register(client)
        sid = created["id"]
        assert created["ping_url"] == f"{url}/ping/{key_of(created)}"

        def parts(*chunks: bytes) -> Iterator[bytes]:
            yield from chunks

        request = client.build_request(
            "POST", created["ping_url"], content=parts(b"first part, ", b"second part")
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        assert_ok(client.send(request))
        too_big = client.post(created["ping_url"], content=parts(b"x" * 1500, b"y" * 1500))
        assert_problem(too_big, 413, "a ping's body is 2048 bytes at the most")
        log = ping_log(client, sid)
    assert [(p["body"], p["source"]) for p in log] == [("first part, second part", "127.0.0.1")]


def test_past_the_rate_limit_a_key_gets_429_and_the_others_go_on(
    make_api: Callable[..., Any],
) -> None:
    client = make_api(ping_rate_limit="3/minute")
    noisy, quiet = register(client, name="noisy"), register(client, name="quiet")
    for _ in range(3):
        assert_ok(ping(client, key_of(noisy)))
    limited = ping(client, key_of(noisy))
    assert_problem(
        limited,
        429,
        "too many pings for this key; one job pinging this often is likely stuck in a loop",
    )
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert_ok(ping(client, key_of(quiet)))
    assert len(ping_log(client, noisy["id"])) == 3
    assert len(ping_log(client, quiet["id"])) == 1


# ---------------------------------------------------------------------------------------------
# Judgement of runs


def test_a_run_longer_than_its_max_duration_is_down(client: Any) -> None:
    created = register(client, {"interval_seconds": 300, "max_duration_seconds": 1})
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key, "start"))
    time.sleep(1.2)
    assert_ok(ping(client, key))
    finished, started = ping_log(client, sid)
    took = (moment(finished["received_at"]) - moment(started["received_at"])).total_seconds()
    assert 1.2 <= took < 2
    assert finished["duration_ms"] == pytest.approx(took * 1000)
    (tick,) = ticks(client, sid)
    assert tick["error"] == f"ran for {tenths(took)}, longer than the 1s allowed"
    assert tick["error"].startswith("ran for 1.")
    assert tick["response_time_ms"] == finished["duration_ms"]
    shown = service(client, sid)
    assert (shown["status"], shown["latest_event"]["reason"]) == ("down", tick["error"])


def test_a_run_shorter_than_its_min_duration_probably_did_nothing(client: Any) -> None:
    created = register(client, {"interval_seconds": 300, "min_duration_seconds": 5})
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key, "start"))
    assert_ok(ping(client, key))
    took = ping_log(client, sid)[0]["duration_ms"] / 1000
    assert took < 5
    assert ticks(client, sid)[0]["error"] == (
        f"finished in {tenths(took)}, sooner than the 5s expected: it probably did nothing"
    )
    assert service(client, sid)["status"] == "down"
    assert_ok(ping(client, key))  # a success without a start: no duration to judge
    assert ticks(client, sid)[0]["up"] is True
    assert service(client, sid)["status"] == "up"


def test_success_pings_closer_than_the_min_gap_mean_the_job_runs_too_often(client: Any) -> None:
    created = register(client, {"interval_seconds": 300, "min_gap_seconds": 60})
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key))
    assert_ok(ping(client, key))
    second, first = ping_log(client, sid)
    gap = (moment(second["received_at"]) - moment(first["received_at"])).total_seconds()
    assert [(t["up"], t["error"]) for t in ticks(client, sid)] == [
        (
            False,
            f"pinged {tenths(gap)} after the previous success, closer than the 1m allowed: "
            "it runs too often",
        ),
        (True, None),
    ]
    assert service(client, sid)["status"] == "down"


def test_overlapping_runs_are_told_apart_by_their_run_id(client: Any) -> None:
    created = register(client)
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key, "start", rid="a"))
    time.sleep(0.1)
    assert_ok(ping(client, key, "start", rid="b"))
    running = service(client, sid)["heartbeat"]["running"]
    log = {p["rid"]: p["received_at"] for p in ping_log(client, sid)}
    assert running == [
        {"rid": "a", "started_at": log["a"]},
        {"rid": "b", "started_at": log["b"]},
    ]
    time.sleep(0.3)
    assert_ok(ping(client, key, rid="b"))
    time.sleep(0.2)
    assert_ok(ping(client, key, "0", rid="a"))
    log_now = ping_log(client, sid)
    assert [(p["kind"], p["rid"]) for p in log_now] == [
        ("success", "a"),
        ("success", "b"),
        ("start", "b"),
        ("start", "a"),
    ]
    end_a, end_b, start_b, start_a = (moment(p["received_at"]) for p in log_now)
    assert log_now[0]["duration_ms"] == pytest.approx((end_a - start_a).total_seconds() * 1000)
    assert log_now[1]["duration_ms"] == pytest.approx((end_b - start_b).total_seconds() * 1000)
    assert log_now[0]["duration_ms"] > 550 and 250 < log_now[1]["duration_ms"] < 550
    assert service(client, sid)["heartbeat"]["running"] == []


def test_a_failed_run_opens_an_incident_that_the_next_success_closes(client: Any) -> None:
    created = register(client, name="backup")
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key))
    assert_ok(ping(client, key, "fail"))
    assert_ok(ping(client, key))
    success, failure, first = (p["received_at"] for p in ping_log(client, sid))
    assert [
        (e["event"], e["date_started"], e["date_ended"], e["reason"]) for e in events(client, sid)
    ] == [
        ("uptime", success, None, None),
        ("downtime", failure, success, "failure reported"),
        ("uptime", first, failure, None),
    ]
    incidents = read(client, "/v1/status/service/backup/incidents")["data"]
    assert [(i["description"], i["down_detection"], i["up_detection"]) for i in incidents] == [
        ("failure reported", failure, success)
    ]
    shown = service(client, sid)
    assert (shown["status"], shown["metric"]["tick_count"], shown["metric"]["down_count"]) == (
        "up",
        3,
        1,
    )
    # One alert for the failure, one when the next run succeeded.
    assert [(a["kind"], a["time"]) for a in alerts(client, sid)] == [
        ("down", failure),
        ("recovered", success),
    ]
    assert shown["alert_state"] == "ok"


def test_a_heartbeat_that_pings_rarely_still_alerts_when_a_run_fails(client: Any) -> None:
    """A daily job's pings are a day apart: each run is alone in any alert window of minutes.
    Its failure is confirmed down at once, and must be alerted as such."""
    created = register(client, {"interval_seconds": 86400}, name="daily")
    sid, key = created["id"], key_of(created)
    assert_ok(ping(client, key, "1"))  # the first run heard of, a day after the last one
    shown = service(client, sid)
    assert (shown["status"], shown["latest_event"]["reason"]) == ("down", "exit status 1")
    assert [a["kind"] for a in alerts(client, sid)] == ["down"]
    assert service(client, sid)["alert_state"] == "alerting"


# ---------------------------------------------------------------------------------------------
# Lateness and overdue runs, found by a real poller


@pytest.fixture
def api(live_server: str, account: Account) -> Iterator[httpx.Client]:
    """An HTTP client of the served app, whose runtime polls, acting as `account`."""
    with httpx.Client(base_url=live_server, headers=account.headers, timeout=10) as client:
        yield client


def test_a_silent_heartbeat_goes_down_once_and_comes_back_on_its_next_ping(
    api: httpx.Client,
) -> None:
    created = register(api, {"interval_seconds": 2, "grace_seconds": 1}, name="every-2s")
    sid, url = created["id"], created["ping_url"]
    assert_ok(api.get(url))
    last = moment(service(api, sid)["heartbeat"]["last_ping_at"])

    down = wait_until(lambda: (s := service(api, sid))["status"] == "down" and s, timeout=8)
    late, pinged = ticks(api, sid)
    silent_for = (moment(late["checked_at"]) - last).total_seconds()
    assert 3 <= silent_for < 3.5, silent_for
    due = stamp((last + timedelta(seconds=2)).replace(microsecond=0))
    assert (late["up"], late["error"]) == (False, f"no ping for 3s (due at {due})")
    assert (pinged["up"], pinged["checked_at"]) == (True, stamp(last))
    assert down["latest_event"]["reason"] == late["error"]
    assert down["latest_event"]["date_started"] == late["checked_at"]
    # The next look is one step later: late again, still one incident and one alert.
    assert down["heartbeat"]["due_at"] == stamp(last + timedelta(seconds=4))
    again = wait_until(lambda: len(found := ticks(api, sid)) >= 3 and found, timeout=5)[0]
    assert (again["up"], again["error"]) == (
        False,
        f"no ping for 5s (due at {stamp((last + timedelta(seconds=4)).replace(microsecond=0))})",
    )
    assert len(ticks(api, sid)) == 3
    assert [a["kind"] for a in alerts(api, sid)] == ["down"]

    def parts() -> Iterator[bytes]:
        yield b"back "
        yield b"again"

    assert_ok(api.post(url, content=parts()))
    back = service(api, sid)
    assert back["status"] == "up"
    (recovery_ping, *_) = ping_log(api, sid)
    assert (recovery_ping["body"], back["latest_event"]["date_started"]) == (
        "back again",
        recovery_ping["received_at"],
    )
    assert [e["event"] for e in events(api, sid)] == ["uptime", "downtime", "uptime"]
    assert [(a["kind"], a["time"]) for a in alerts(api, sid)] == [
        ("down", late["checked_at"]),
        ("recovered", recovery_ping["received_at"]),
    ]


def test_a_started_run_past_its_start_grace_is_down_before_the_due_time(
    api: httpx.Client,
) -> None:
    created = register(
        api, {"interval_seconds": 60, "grace_seconds": 60, "start_grace_seconds": 1}, name="etl"
    )
    sid, url = created["id"], created["ping_url"]
    due = created["heartbeat"]["due_at"]
    assert_ok(api.post(f"{url}/start", params={"rid": "run-7"}))
    (start,) = ping_log(api, sid)
    assert service(api, sid)["heartbeat"]["running"] == [
        {"rid": "run-7", "started_at": start["received_at"]}
    ]

    down = wait_until(lambda: (s := service(api, sid))["status"] == "down" and s, timeout=5)
    (overdue,) = ticks(api, sid)
    waited = (moment(overdue["checked_at"]) - moment(start["received_at"])).total_seconds()
    assert 1 < waited < 2, waited
    assert down["latest_event"]["reason"] == overdue["error"]
    assert down["heartbeat"]["due_at"] == due  # not late: the run is what is wrong
    time.sleep(1.5)
    assert len(ticks(api, sid)) == 1  # an overdue run is reported once

    assert_ok(api.get(url, params={"rid": "run-7"}))
    back = service(api, sid)
    assert (back["status"], back["heartbeat"]["running"]) == ("up", [])
    assert ping_log(api, sid)[0]["duration_ms"] > 2500
    # Found just past the 1 s allowed: the time shown is more than the time allowed.
    assert overdue["error"] == "started 2s ago and not finished (allowed 1s)"


def test_a_run_started_before_a_pause_is_not_overdue_after_the_resume(
    api: httpx.Client,
) -> None:
    """Pings to a paused heartbeat are ignored, so the run that started before the pause could
    not be finished meanwhile: once resumed, the heartbeat starts afresh."""
    created = register(api, {"interval_seconds": 60, "start_grace_seconds": 1}, name="paused")
    sid, url = created["id"], created["ping_url"]
    assert_ok(api.get(f"{url}/start"))
    assert api.patch(f"/v1/services/{sid}", json={"paused": True}).status_code == 200
    assert_ok(api.get(url))  # the run ended while paused: ignored
    time.sleep(1.2)
    resumed = api.patch(f"/v1/services/{sid}", json={"paused": False})
    assert resumed.status_code == 200, resumed.text
    time.sleep(1.5)  # the pollers have looked at it since the resume
    shown = service(api, sid)
    assert (shown["status"], ticks(api, sid)) == ("unknown", [])
    assert shown["heartbeat"]["running"] == []


def test_a_ping_stored_and_not_yet_judged_is_judged_before_the_pollers_silence(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    """Under load a ping is answered once stored and judged behind; a poller that looks at the
    heartbeat meanwhile, past its late time, judges that ping first: no false late."""
    runtime = make_runtime(with_poller=True)
    created = runtime.services.register(
        account.caller, "job", heartbeat={"interval_seconds": 60, "grace_seconds": 0}
    )
    assert created.ping_key is not None
    recorder = runtime.poller._recorder  # type: ignore[union-attr]
    assert created.heartbeat is not None and created.heartbeat.late_at is not None
    deadline = created.heartbeat.late_at  # the first ping due then, no grace
    pinged_at = deadline - timedelta(seconds=1)  # in time
    ping = Ping(key=created.ping_key, kind="success", received_at=pinged_at)
    assert recorder.accept_pings([ping]) == [created.id]
    with runtime.engine.connect() as conn:
        stored = conn.execute(text("SELECT judged FROM pings")).scalars().all()
    assert stored == [False]

    # The poller's look past the deadline, before any judge ran over the ping.
    look = deadline + timedelta(seconds=1)
    recorder.record([CheckOutcome(created.id, look, SILENCE, silence=True)], "test")
    with runtime.engine.connect() as conn:
        ticks = conn.execute(text("SELECT up, error FROM service_ticks")).all()
        judged = conn.execute(text("SELECT judged FROM pings")).scalars().all()
        due = conn.execute(text("SELECT heartbeat_due_at FROM services")).scalar_one()
    assert [tuple(t) for t in ticks] == [(True, None)]  # the ping, and no late tick
    assert judged == [True]
    assert due == pinged_at + timedelta(seconds=60)
    assert recorder.judge_pings(10) == 0  # nothing left for the judge


def _judged(runtime: Runtime) -> list[bool]:
    with runtime.engine.connect() as conn:
        return list(conn.execute(text("SELECT judged FROM pings ORDER BY id")).scalars())


def test_a_burst_is_answered_once_stored_and_what_no_poller_judged_is_judged_by_the_api(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    """A batch of more than QUIET_PINGS is answered once stored and left to the pollers; with
    none running, the API's own judge takes what is left after LEFT_OVER_AFTER."""
    runtime = make_runtime()  # no poller
    created = runtime.services.register(account.caller, "job", heartbeat={"interval_seconds": 60})
    assert created.ping_key is not None
    sent = now()
    burst = [
        Ping(key=created.ping_key, kind="success", received_at=sent + timedelta(milliseconds=i))
        for i in range(3 * QUIET_PINGS)
    ]

    async def send() -> tuple[list[str], list[bool], list[bool]]:
        answers = await asyncio.gather(*(runtime.pings.submit(p) for p in burst))
        at_answer = await asyncio.to_thread(_judged, runtime)
        deadline = time.monotonic() + LEFT_OVER_AFTER + 10
        while not all(judged := await asyncio.to_thread(_judged, runtime)):
            assert time.monotonic() < deadline, judged
            await asyncio.sleep(0.1)
        await runtime.pings.close()
        return [a.outcome for a in answers], at_answer, judged

    outcomes, at_answer, judged = asyncio.run(send())
    assert outcomes == ["ok"] * len(burst)
    assert at_answer == [False] * len(burst)  # stored, not judged yet: answered at once
    assert judged == [True] * len(burst)
    assert len(ticks_of(runtime, created.id)) == len(burst)


def test_a_poller_judges_the_pings_an_api_left_to_it(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    runtime = make_runtime(with_poller=True)
    created = runtime.services.register(account.caller, "job", heartbeat={"interval_seconds": 60})
    assert created.ping_key is not None and runtime.poller is not None
    sent = now()
    stored = [
        Ping(key=created.ping_key, kind="success", received_at=sent + timedelta(milliseconds=i))
        for i in range(5)
    ]
    assert runtime.poller._recorder.accept_pings(stored) == [created.id] * 5
    runtime.start()  # no API judge in this runtime's loop: only the poller judges
    wait_until(lambda: all(_judged(runtime)), timeout=POLLERS_JUDGE_AFTER + 10)
    assert len(ticks_of(runtime, created.id)) == 5


def ticks_of(runtime: Runtime, sid: int) -> list[Any]:
    with runtime.engine.connect() as conn:
        query = text("SELECT up FROM service_ticks WHERE service_id = :id")
        return list(conn.execute(query, {"id": sid}).scalars())


def test_prometheus_shows_a_heartbeats_last_ping_and_late_time(
    make_api: Callable[..., Any],
) -> None:
    api = make_api(signup_policy="first-only")  # the per-service series are served
    job = register(api, {"interval_seconds": 300, "grace_seconds": 60})
    assert_ok(ping(api, key_of(job)))
    shown = service(api, job["id"])["heartbeat"]
    text = api.get("/metrics").text
    labels = f'service_id="{job["id"]}",service_name="job"'

    def sample(name: str) -> float:
        found = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
        assert found, text
        return float(found[1])

    last = sample("statuschecker_heartbeat_last_ping_timestamp_seconds")
    late = sample("statuschecker_heartbeat_late_timestamp_seconds")
    assert last == pytest.approx(moment(shown["last_ping_at"]).timestamp())
    assert late == pytest.approx(moment(shown["late_at"]).timestamp())
    assert late - last == pytest.approx(360)
    assert re.search(r'^statuschecker_pings_total\{outcome="ok"\} 1\.0$', text, re.MULTILINE)

    api.patch(f"/v1/services/{job['id']}", json={"paused": True})
    text = api.get("/metrics").text
    assert "statuschecker_heartbeat_late_timestamp_seconds{" not in text  # none while paused
