"""The judgement rules end to end, against real local targets and a real webhook receiver that
counts exactly the notifications each behaviour should produce: confirmation, maintenance
windows, dependencies, flapping and degraded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts import Account
from receivers import Receiver
from targets import Target
from waiting import wait_until

from statuschecker.runtime import Runtime
from web.app import create_app

# Every check counts in the availability rule's window; two results are enough to decide.
EAGER = {"window_seconds": 5, "min_checks": 1, "availability_threshold_percent": 99}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def client(
    make_runtime: Callable[..., Runtime], receiver: Receiver, account: Account
) -> Iterator[Any]:
    """The API with poller and notifier running, sending every alert to the receiver."""
    runtime = make_runtime(with_poller=True, webhook_urls=[receiver.url], notify_poll_seconds=0.1)
    with create_app(runtime, validate_responses=True).test_client(
        headers=account.headers
    ) as test_client:
        yield test_client


def register(client: Any, name: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "url": url, "interval_seconds": 1, "timeout_seconds": 0.8, **fields}
    body.setdefault("alert_policy", EAGER)
    created = client.post("/v1/services", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def service(client: Any, service_id: int) -> dict[str, Any]:
    return client.get(f"/v1/services/{service_id}").json()


def reaches(client: Any, service_id: int, status: str) -> None:
    """Wait until the service shows `status`."""
    wait_until(lambda: service(client, service_id)["status"] == status, timeout=20)


def alerts(client: Any, service_id: int) -> list[dict[str, Any]]:
    """The service's alerts, oldest first."""
    return client.get(f"/v1/services/{service_id}/alerts?limit=100").json()["data"][::-1]


def kinds(received: list[Any]) -> list[tuple[str, int]]:
    return [(r.json()["alert"]["kind"], r.json()["service"]["id"]) for r in received]


def checked(client: Any, service_id: int, count: int) -> dict[str, Any]:
    """The service once it has `count` checks recorded."""
    return wait_until(
        lambda: (s := service(client, service_id))["metric"]["tick_count"] >= count and s,
        timeout=20,
    )


def test_failures_below_confirmation_raise_nothing_and_above_it_one_incident(
    client: Any, receiver: Receiver
) -> None:
    with Target("up") as target:
        created = register(
            client, "confirmed", target.url, confirm_down_after=3, retry_interval_seconds=1
        )
        sid = created["id"]
        assert (created["confirm_down_after"], created["confirm_up_after"]) == (3, 1)
        before = checked(client, sid, 2)["metric"]["tick_count"]
        assert service(client, sid)["status"] == "up"

        target.play(["down", "down"])
        seen: set[str] = set()

        def four_more_checks() -> bool:
            now = service(client, sid)
            seen.add(now["status"])
            return bool(now["metric"]["tick_count"] >= before + 4)

        wait_until(four_more_checks, timeout=20)
        now = service(client, sid)
        assert now["status"] == "up"
        assert "pending" in seen, seen
        assert now["metric"]["down_count"] == 2  # every check is stored as it was
        events = client.get(f"/v1/services/{sid}/events").json()["data"]
        assert [e["event"] for e in events] == ["uptime"]
        assert alerts(client, sid) == []

        target.set_mode("down")
        down = wait_until(lambda: (s := service(client, sid))["status"] == "down" and s, 20)
        (delivered,) = receiver.wait_for(1, timeout=10)
        time.sleep(2)  # more failed checks: still one incident, one alert
        ticks = client.get(f"/v1/services/{sid}/ticks?limit=100").json()["data"]
    run = []  # the failing ticks at the newest end (ticks come newest first)
    for tick in ticks:
        if tick["up"]:
            break
        run.append(tick["checked_at"])
    incident = down["latest_event"]
    assert incident["event"] == "downtime"
    assert incident["date_started"] == run[-1]  # the first failure of the run
    assert incident["reason"] == "status 503 not in 200-299"
    assert [a["kind"] for a in alerts(client, sid)] == ["down"]
    assert kinds(receiver.requests) == [("down", sid)] == kinds([delivered])


def test_a_maintenance_window_holds_incidents_and_alerts_until_it_ends(
    client: Any, receiver: Receiver
) -> None:
    with Target("up") as target:
        sid = register(client, "maintained", target.url, confirm_down_after=1)["id"]
        checked(client, sid, 3)
        now = datetime.now(UTC)
        ends = now + timedelta(seconds=5)
        window = client.post(
            "/v1/maintenances",
            json={
                "title": "upgrade",
                "service_ids": [sid],
                "starts_at": now.isoformat(),
                "ends_at": ends.isoformat(),
            },
        )
        assert window.status_code == 201, window.text
        assert window.json()["active"] is True
        target.set_mode("down")
        wait_until(lambda: service(client, sid)["status"] == "maintenance", timeout=10)
        stats = client.get(f"/v1/services/{sid}/stats?window_seconds=60").json()
        assert stats["failed"] >= 1
        assert stats["availability_percent"] < 100
        assert stats["sla"]["availability_percent"] == 100
        assert 0 < stats["sla"]["excluded_seconds"] <= 60
        assert client.get(f"/v1/services/{sid}/events").json()["data"][0]["event"] == "uptime"
        assert receiver.requests == []

        down = wait_until(lambda: (s := service(client, sid))["status"] == "down" and s, 15)
        assert datetime.fromisoformat(down["latest_event"]["date_started"]) >= ends
        (delivered,) = receiver.wait_for(1, timeout=10)
    assert kinds([delivered]) == [("down", sid)]
    ticks = client.get(f"/v1/services/{sid}/ticks?limit=100").json()["data"]
    marked = [t for t in ticks if t["in_maintenance"]]
    assert marked and not any(t["up"] for t in marked)  # stored as they were, and marked
    assert all(datetime.fromisoformat(t["checked_at"]) < ends for t in marked)


def test_a_failing_parent_alone_is_notified_for_its_children(
    client: Any, receiver: Receiver
) -> None:
    with Target("up") as parent_target, Target("up") as child_target:
        parent = register(client, "host", parent_target.url, confirm_down_after=1)["id"]
        children = [
            register(
                client,
                f"app-{n}",
                child_target.url,
                depends_on=[parent],
                confirm_down_after=3,
                retry_interval_seconds=1,
            )["id"]
            for n in (1, 2)
        ]
        for sid in (parent, *children):
            checked(client, sid, 2)

        child_target.set_mode("down")
        parent_target.set_mode("down")
        for sid in children:
            reaches(client, sid, "down")
        (down,) = receiver.wait_for(1, timeout=10)
        assert kinds([down]) == [("down", parent)]
        status = client.get("/v1/status").json()["data"]
        causes = {entry["id"]: entry["caused_by"] for entry in status}
        assert causes[children[0]] == causes[children[1]] == {"id": parent, "name": "host"}
        assert causes[parent] is None

        parent_target.set_mode("up")
        child_target.set_mode("up")
        for sid in (parent, *children):
            reaches(client, sid, "up")
        received = receiver.wait_for(2, timeout=10)
        time.sleep(1.5)
    assert kinds(received) == [("down", parent), ("recovered", parent)]
    assert len(receiver.requests) == 2
    for sid in children:
        raised = alerts(client, sid)
        assert [(a["kind"], a["suppressed_by"]) for a in raised] == [
            ("down", parent),
            ("recovered", parent),
        ]
        assert all(a["delivery_status"] == "none" for a in raised)
        (incident,) = client.get(
            f"/v1/status/service/app-{children.index(sid) + 1}/incidents"
        ).json()["data"]
        assert incident["caused_by"] == parent


def test_a_child_still_down_once_its_parent_recovers_is_notified_then(
    client: Any, receiver: Receiver
) -> None:
    with Target("up") as parent_target, Target("up") as child_target:
        parent = register(client, "router", parent_target.url, confirm_down_after=1)["id"]
        child = register(
            client, "api", child_target.url, depends_on=[parent], confirm_down_after=3
        )["id"]
        checked(client, child, 2)
        child_target.set_mode("down")
        parent_target.set_mode("down")
        wait_until(lambda: service(client, child)["status"] == "down", timeout=20)
        parent_target.set_mode("up")
        received = receiver.wait_for(3, timeout=20)
        time.sleep(1.5)
    expected = [("down", parent), ("recovered", parent), ("down", child)]
    assert sorted(kinds(received)) == sorted(expected)
    assert len(receiver.requests) == 3
    suppressed, delivered = alerts(client, child)
    assert suppressed["suppressed_by"] == parent and delivered["suppressed_by"] is None
    assert "still down after service" in delivered["message"]


def test_a_service_that_flips_every_check_flaps_once_and_settles_once(
    client: Any, receiver: Receiver
) -> None:
    with Target("up") as target:
        sid = register(
            client,
            "flappy",
            target.url,
            confirm_down_after=1,
            confirm_up_after=1,
            alert_policy={**EAGER, "flap_changes": 3, "flap_window_seconds": 10},
        )["id"]
        checked(client, sid, 1)
        target.play(["down", "up"] * 6)
        wait_until(lambda: service(client, sid)["flapping"], timeout=20)
        wait_until(lambda: target.hits >= 14, timeout=20)  # the flips are over: up from now
        wait_until(lambda: not service(client, sid)["flapping"], timeout=25)
        time.sleep(1)
    raised = alerts(client, sid)
    flapping = [a for a in raised if a["kind"] == "flapping"]
    stable = [a for a in raised if a["kind"] == "stable"]
    assert len(flapping) == len(stable) == 1
    assert "it is up" in stable[0]["message"]
    after = [a for a in raised if a["id"] > flapping[0]["id"] and a["id"] < stable[0]["id"]]
    assert after and all(a["held"] and a["delivery_status"] == "none" for a in after)
    sent = [kind for kind, _ in kinds(receiver.requests)]
    assert sent.count("flapping") == sent.count("stable") == 1
    assert sent[-1] == "stable"
    assert sent.index("flapping") == len(sent) - 2  # nothing but the stable after it


def test_slow_but_answering_is_degraded_not_down(client: Any, receiver: Receiver) -> None:
    with Target("slow", slow_seconds=0.3) as target:
        sid = register(
            client,
            "sluggish",
            target.url,
            alert_policy={
                **EAGER,
                "response_time_ms_above": 150,
                "response_time_statistic": "avg",
                "response_time_window_seconds": 10,
            },
        )["id"]
        wait_until(lambda: service(client, sid)["status"] == "degraded", timeout=20)
        (degraded,) = receiver.wait_for(1, timeout=10)
        target.set_mode("up")
        wait_until(lambda: service(client, sid)["status"] == "up", timeout=25)
        received = receiver.wait_for(2, timeout=10)
    assert kinds(received) == [("degraded", sid), ("recovered", sid)]
    assert [(a["kind"], a["rule"]) for a in alerts(client, sid)] == [
        ("degraded", "response_time"),
        ("recovered", "response_time"),
    ]
    assert "above 150 ms" in degraded.json()["alert"]["message"]
