"""Locations: pollers report where they check from; a location is live while one of its pollers
reports, stale otherwise (the rule, the store, the API, and real pollers)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from accounts import Account
from receivers import Receiver
from roles import Role, scrape, started_roles
from sqlalchemy import Engine, text
from targets import Target, free_port
from waiting import wait_until

from statuschecker.errors import InvalidInput
from statuschecker.model import CheckLimits, PollerSighting
from statuschecker.rules.locations import locations
from statuschecker.runtime import Runtime
from statuschecker.store import pollers, schedule
from web.app import create_app

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=20)


def sighting(owner: str, location: str, seen_ago: float, stopped: bool = False) -> PollerSighting:
    seen = NOW - timedelta(seconds=seen_ago)
    return PollerSighting(
        owner, location, "host-" + owner, "0.1.0", NOW - timedelta(hours=1), seen,
        seen if stopped else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sightings", "expected"),
    [
        ([], []),
        ([sighting("a", "eu", 1)], [("eu", "live", {"a"})]),
        ([sighting("a", "eu", 19.9)], [("eu", "live", {"a"})]),
        ([sighting("a", "eu", 20)], [("eu", "stale", set())]),
        ([sighting("a", "eu", 1, stopped=True)], [("eu", "stale", set())]),
        (
            [sighting("a", "eu", 30), sighting("b", "eu", 2), sighting("c", "eu", 3, stopped=True)],
            [("eu", "live", {"b"})],
        ),
        (
            [sighting("a", "us", 1), sighting("b", "default", 25), sighting("c", "eu", 5)],
            [("default", "stale", set()), ("eu", "live", {"c"}), ("us", "live", {"a"})],
        ),
    ],
)
def test_a_location_is_live_while_one_of_its_pollers_reports_and_has_not_stopped(
    sightings: list[PollerSighting], expected: list[tuple[str, str, set[str]]]
) -> None:
    found = locations(sightings, NOW, STALE)
    assert [(loc.name, loc.status, set(loc.live_owners)) for loc in found] == expected


def test_a_location_lists_its_pollers_most_recently_seen_first() -> None:
    (found,) = locations([sighting("a", "eu", 9), sighting("b", "eu", 1)], NOW, STALE)
    assert [p.owner for p in found.pollers] == ["b", "a"]
    assert found.last_seen_at == NOW - timedelta(seconds=1)


def test_the_api_lists_locations_and_shows_pollers_to_admins_only(
    db: Engine, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    with db.begin() as conn:
        pollers.seen(conn, "h1:1:aa", "eu-west", "h1", "0.1.0")
        pollers.seen(conn, "h2:2:bb", "eu-west", "h2", "0.1.0")
        pollers.seen(conn, "h3:3:cc", "us-east", "h3", "0.1.0")
        pollers.stopped(conn, "h2:2:bb")
        pollers.seen(conn, "h4:4:dd", "ap-south", "h4", "0.1.0")
        seen_ago = text("UPDATE pollers SET last_seen_at = now() - :ago WHERE owner = :owner")
        conn.execute(seen_ago, {"owner": "h1:1:aa", "ago": timedelta(seconds=5)})
        conn.execute(seen_ago, {"owner": "h4:4:dd", "ago": timedelta(seconds=21)})
    user = make_client(make_account("user@example.com")).get("/v1/locations")
    assert user.status_code == 200
    shown = {loc["name"]: loc for loc in user.json()["data"]}
    assert list(shown) == ["ap-south", "eu-west", "us-east"]
    assert [(loc["status"], loc["live_pollers"]) for loc in shown.values()] == [
        ("stale", 0), ("live", 1), ("live", 1)
    ]  # fmt: skip
    assert all("pollers" not in loc for loc in shown.values())

    admin = make_client(make_account("root@example.com", admin=True)).get("/v1/locations")
    eu = next(loc for loc in admin.json()["data"] if loc["name"] == "eu-west")
    assert [(p["host"], p["status"]) for p in eu["pollers"]] == [("h2", "stale"), ("h1", "live")]
    assert eu["pollers"][0]["stopped_at"] is not None and eu["pollers"][1]["stopped_at"] is None

    assert make_client().get("/v1/locations").status_code == 401
    scraped = make_client().get("/metrics").text
    assert 'statuschecker_location_live{location="eu-west"} 1.0' in scraped
    assert 'statuschecker_location_live{location="ap-south"} 0.0' in scraped
    assert 'statuschecker_location_pollers{location="us-east"} 1.0' in scraped


def test_a_poller_reports_its_location_while_it_runs_and_when_it_stops(
    db: Engine, make_runtime: Callable[..., Runtime], account: Account
) -> None:
    runtime = make_runtime(with_poller=True, location="eu-west")
    runtime.start()

    def listed() -> list[Any]:
        return runtime.locations.shown_to(account.caller)

    wait_until(lambda: [loc.name for loc in listed()] == ["eu-west"], timeout=10)
    (live,) = listed()
    assert live.status == "live" and len(live.live_owners) == 1
    runtime.close()
    (stopped,) = listed()
    assert stopped.status == "stale" and not stopped.live_owners


@pytest.mark.parametrize("name", ["EU", "-eu", "eu_west", "e" * 41, ""])
def test_the_poller_command_refuses_a_location_that_is_not_a_name(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "statuschecker.cli", "poller", f"--location={name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not a location name" in done.stderr


def test_each_tick_records_where_it_was_checked_from(
    db: Engine, client: Any, make_runtime: Callable[..., Runtime]
) -> None:
    """The API shows each tick's location; the default one is stored as NULL."""
    with Target("up") as target:
        body = {"name": "web", "url": target.url, "interval_seconds": 1}
        service_id = client.post("/v1/services", json=body).json()["id"]
        for location in ("eu-west", "default"):
            poller = make_runtime(with_poller=True, location=location)
            poller.start()

            def checked_from(where: str = location) -> bool:
                ticks = client.get(f"/v1/services/{service_id}/ticks").json()["data"]
                return any(tick["location"] == where for tick in ticks)

            wait_until(checked_from, timeout=10)
            poller.close()
    ticks = client.get(f"/v1/services/{service_id}/ticks").json()["data"]
    assert {tick["location"] for tick in ticks} == {"eu-west", "default"}
    for location in ("eu-west", "default"):
        only = client.get(f"/v1/services/{service_id}/ticks?location={location}").json()["data"]
        assert only and {tick["location"] for tick in only} == {location}
    assert client.get(f"/v1/services/{service_id}/ticks?location=EU").status_code == 400
    with db.connect() as conn:
        stored = conn.execute(text("SELECT DISTINCT location FROM service_ticks")).scalars()
        assert set(stored) == {"eu-west", None}


def slots_of(db: Engine, service_id: int) -> list[str]:
    query = text("SELECT location FROM service_locations WHERE service_id = :id ORDER BY 1")
    with db.connect() as conn:
        return list(conn.execute(query, {"id": service_id}).scalars())


def test_a_service_names_its_locations_and_quorum_and_gets_a_slot_in_each(
    db: Engine, client: Any
) -> None:
    body = {"name": "web", "url": "http://127.0.0.1:1/", "locations": ["eu", "us", "ap"]}
    made = client.post("/v1/services", json={**body, "quorum": 2}).json()
    assert (made["locations"], made["quorum"]) == (["eu", "us", "ap"], 2)
    assert slots_of(db, made["id"]) == ["ap", "eu", "us"]
    changed = client.patch(f"/v1/services/{made['id']}", json={"locations": ["eu", "sa"]})
    assert changed.status_code == 200, changed.text
    assert slots_of(db, made["id"]) == ["eu", "sa"]
    cleared = client.patch(f"/v1/services/{made['id']}", json={"locations": [], "quorum": None})
    assert cleared.json()["locations"] == [] and slots_of(db, made["id"]) == []
    plain = client.post("/v1/services", json={"name": "plain", "url": "http://127.0.0.1:1/"})
    assert (plain.json()["locations"], plain.json()["quorum"]) == ([], None)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"locations": ["eu", "us"], "quorum": 3}, 400, "quorum 3 is more than the 2 locations"),
        ({"quorum": 1}, 400, "quorum needs locations"),
        ({"locations": ["eu", "eu"]}, 400, ""),
        ({"locations": ["EU"]}, 400, ""),
        ({"locations": [f"l{n}" for n in range(17)]}, 400, ""),
        ({"locations": ["eu"], "quorum": 0}, 400, ""),
    ],
)
def test_locations_and_quorum_that_cannot_be_are_refused(
    client: Any, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = client.post("/v1/services", json={"name": "web", "url": "http://127.0.0.1:1/", **body})
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


def test_a_heartbeat_has_no_locations(
    client: Any, make_runtime: Callable[..., Runtime], account: Account
) -> None:
    body = {"name": "job", "heartbeat": {"interval_seconds": 60}, "locations": ["eu"]}
    answer = client.post("/v1/services", json=body)
    assert answer.status_code == 400 and "`locations` or `quorum`" in answer.json()["detail"]
    with pytest.raises(InvalidInput, match=r"a heartbeat .* has no locations or quorum"):
        make_runtime().services.register(
            account.caller, "job", heartbeat={"interval_seconds": 60}, quorum=1
        )


def test_pollers_check_a_service_only_from_the_locations_it_names(
    db: Engine, client: Any, make_runtime: Callable[..., Runtime]
) -> None:
    """A poller of a named location checks it there; one of another location does not."""
    with Target("up") as target:
        named = {"url": target.url, "interval_seconds": 1, "locations": ["eu-west"]}
        service_id = client.post("/v1/services", json={"name": "named", **named}).json()["id"]
        other = make_runtime(with_poller=True, location="us-east")
        other.start()
        here = make_runtime(with_poller=True, location="eu-west")
        here.start()

        def checked() -> bool:
            return bool(client.get(f"/v1/services/{service_id}/ticks").json()["data"])

        wait_until(checked, timeout=15)
        time.sleep(1.5)
        other.close()
        here.close()
    ticks = client.get(f"/v1/services/{service_id}/ticks").json()["data"]
    assert {tick["location"] for tick in ticks} == {"eu-west"}


STALE_SECONDS = 10  # the least STATUSCHECKER_LOCATION_STALE_SECONDS may be


@pytest.fixture
def start_role(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Role]]:
    """Starts `statuschecker` roles on the test database; kills what is left of them at the
    end, also when the test fails."""
    with started_roles(database_url, tmp_path) as start:
        yield start


def test_a_service_checked_from_three_locations_is_decided_by_quorum(
    db: Engine, account: Account, make_runtime: Callable[..., Runtime], start_role: Callable
) -> None:
    """Three `statuschecker poller --location` processes, each checking from a source address
    of its own, against one target, alerting a webhook receiver: refused from one, the service
    is degraded naming it and nothing is delivered; refused from two, it is down, with one
    alert naming both delivered; the poller of one of them SIGKILLed, its location is stale
    within the stale bound, counts for neither side, and the quorum follows the live ones."""
    api = make_runtime(listen=True, signup_policy="closed", location_stale_seconds=STALE_SECONDS)
    app = create_app(api, validate_responses=True)
    with (
        Receiver() as receiver,
        Target("up") as target,
        app.test_client(headers=account.headers) as client,
    ):
        body = {
            "name": "shop",
            "url": target.url,
            "interval_seconds": 1,
            "locations": ["a", "b", "c"],
            "confirm_down_after": 1,
        }
        sid = client.post("/v1/services", json=body).json()["id"]
        ports = {name: free_port() for name in ("a", "b", "c")}
        pollers_ = {
            name: start_role(
                "poller",
                "--location",
                name,
                "--processes",
                "1",
                "--metrics-port",
                str(ports[name]),
                STATUSCHECKER_SOURCE_ADDRESS=address,
                STATUSCHECKER_LOCATION_STALE_SECONDS=str(STALE_SECONDS),
                STATUSCHECKER_WEBHOOK_URLS=receiver.url,
                STATUSCHECKER_NOTIFY_POLL_SECONDS="0.2",
            )
            for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4"))
        }

        running = dict(pollers_)

        def service() -> dict[str, Any]:
            for poller in running.values():
                poller.alive()  # fails with its output if it exited
            return dict(client.get(f"/v1/services/{sid}").json())

        def delivered() -> list[dict[str, Any]]:
            return [request.json()["alert"] for request in receiver.requests]

        wait_until(lambda: service()["status"] == "up", timeout=60)
        target.refused_peers.add("127.0.0.2")
        wait_until(lambda: service()["failing_locations"] == ["a"], timeout=15)
        assert service()["status"] == "degraded"
        scraped = client.get("/metrics").text
        for location, value in (("a", 0.0), ("b", 1.0)):
            labels = f'location="{location}",service_id="{sid}",service_name="shop"'
            assert f"statuschecker_service_location_up{{{labels}}} {value}" in scraped
        labels = f'service_id="{sid}",service_name="shop",status="degraded"'
        assert f"statuschecker_service_status{{{labels}}} 1.0" in scraped
        checked = scrape(f"http://127.0.0.1:{ports['c']}/metrics")
        assert checked[("statuschecker_checks_total", (("location", "c"), ("result", "up")))] > 0
        time.sleep(2)  # more checks from everywhere: still degraded, nothing delivered
        assert service()["status"] == "degraded" and receiver.requests == []

        target.refused_peers.add("127.0.0.3")
        wait_until(lambda: service()["status"] == "down", timeout=15)
        assert (service()["failing_locations"], service()["stale_locations"]) == (["a", "b"], [])
        (down,) = wait_until(delivered, timeout=15)
        assert down["kind"] == "down" and "down from a, b" in down["message"]
        assert "down from a, b" in service()["latest_event"]["reason"]

        running.pop("b").kill()  # no goodbye: b goes stale when its reports stop counting
        killed = time.monotonic()

        def b_stale() -> bool:
            listed = client.get("/v1/locations").json()["data"]
            found = {loc["name"]: loc["status"] for loc in listed}
            return found["b"] == "stale"

        wait_until(b_stale, timeout=STALE_SECONDS + 5, every=0.2)
        assert time.monotonic() - killed <= STALE_SECONDS + 1
        # a down of a and c live is no quorum of the two: degraded, and recovered is delivered
        wait_until(lambda: service()["status"] == "degraded", timeout=15)
        assert (service()["failing_locations"], service()["stale_locations"]) == (["a"], ["b"])
        results = {r["location"]: r for r in service()["location_results"]}
        assert [(r["live"], r["confirmed"]) for r in results.values()] == [
            (True, "down"), (False, "down"), (True, "up")
        ]  # fmt: skip
        assert "503" in results["a"]["error"] and results["c"]["up"] is True
        wait_until(lambda: len(delivered()) == 2, timeout=15)
        assert [a["kind"] for a in delivered()] == ["down", "recovered"]


def test_two_pollers_of_one_location_never_check_one_slot_twice(
    db: Engine, client: Any, make_runtime: Callable[..., Runtime]
) -> None:
    """Each slot is leased to one poller of its location at a time: two pollers of `a` check
    each service about as often from `a` as the one poller of `b` does from `b` (twice as
    often, were they both to check each due slot)."""
    body = {"url": "", "interval_seconds": 1, "locations": ["a", "b"]}
    with Target("up") as target:
        ids = [
            client.post("/v1/services", json={**body, "name": f"s{n}", "url": target.url}).json()[
                "id"
            ]
            for n in range(20)
        ]
        started = [make_runtime(with_poller=True, location=loc) for loc in ("a", "a", "b")]
        for runtime in started:
            runtime.start()
        time.sleep(5)
        for runtime in started:
            runtime.close()
    query = text("SELECT service_id, location, count(*) AS n FROM service_ticks GROUP BY 1, 2")
    with db.connect() as conn:
        counts = {(row.service_id, row.location): row.n for row in conn.execute(query)}
    assert {sid for sid, _ in counts} == set(ids)
    for sid in ids:
        assert counts[(sid, "a")] <= counts[(sid, "b")] + 2, counts


def test_a_slot_claimed_by_one_poller_is_not_claimed_by_another_of_its_location(
    db: Engine, client: Any
) -> None:
    for n in range(5):
        body = {"name": f"s{n}", "url": "http://127.0.0.1:1/", "locations": ["a", "b"]}
        client.post("/v1/services", json=body)
    limits = CheckLimits()
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        first, _ = schedule.claim_slots(conn, "one", "a", 100, 10.0, limits)
        second, _ = schedule.claim_slots(conn, "two", "a", 100, 10.0, limits)
        elsewhere, _ = schedule.claim_slots(conn, "three", "b", 100, 10.0, limits)
        anywhere, _ = schedule.claim_due(conn, "four", 100, 10.0, limits)
    assert len(first) == 5 and second == []
    assert len(elsewhere) == 5  # b's slots are b's own
    assert anywhere == []  # a service checked from named locations is not checked from anywhere
