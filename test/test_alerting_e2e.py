"""Alerting end to end: a real target goes down and comes back; a real webhook receiver gets
exactly one signed down and one signed recovery notification; the alerts API shows both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from accounts import Account
from receivers import Receiver
from targets import Target
from waiting import wait_until

from statuschecker.notify.webhook import signature
from statuschecker.runtime import Runtime
from web.app import create_app

SECRET = "s3cret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def client(
    make_runtime: Callable[..., Runtime], receiver: Receiver, account: Account
) -> Iterator[Any]:
    """The API with poller and notifier running, sending every alert to the receiver."""
    runtime = make_runtime(
        with_poller=True,
        webhook_urls=[f"{receiver.url}/global?token=abc"],
        webhook_secret=SECRET,
        notify_poll_seconds=0.2,
    )
    with create_app(runtime, validate_responses=True).test_client(
        headers=account.headers
    ) as test_client:
        yield test_client


def test_down_and_recovery_are_each_notified_once(client: Any, receiver: Receiver) -> None:
    with Target("up") as target:
        created = client.post(
            "/v1/services",
            json={
                "name": "checkout",
                "url": target.url,
                "interval_seconds": 1,
                "timeout_seconds": 0.5,
                "alert_policy": {
                    "window_seconds": 3,
                    "min_checks": 2,
                    "availability_threshold_percent": 50,
                },
            },
        )
        assert created.status_code == 201, created.text
        service = created.json()
        assert service["alert_policy"]["window_seconds"] == 3
        assert service["alert_state"] == "ok"
        path = f"/v1/services/{service['id']}"
        wait_until(lambda: client.get(path).json()["metric"]["up_count"] >= 2)

        target.set_mode("down")
        (down,) = receiver.wait_for(1, timeout=15)
        assert client.get(path).json()["alert_state"] == "alerting"
        target.set_mode("up")
        down, recovered = receiver.wait_for(2, timeout=15)
        time.sleep(3)  # three more checks while up: nothing further may arrive
    assert len(receiver.requests) == 2

    for request, kind in ((down, "down"), (recovered, "recovered")):
        assert request.path == "/global?token=abc"
        assert request.headers["x-statuschecker-signature"] == signature(SECRET, request.body)
        assert request.headers["x-statuschecker-event"] == f"alert.{kind}"
        body = request.json()
        assert body["alert"]["kind"] == kind
        assert body["service"] == {"id": service["id"], "name": "checkout", "url": service["url"]}
    assert down.json()["alert"]["message"].startswith("Service checkout is down. availability=")
    assert "recovered. availability=" in recovered.json()["alert"]["message"]
    assert ", downtime=" in recovered.json()["alert"]["message"]

    alerts = wait_until(
        lambda: (
            (body := client.get("/v1/alerts").json())["data"]
            and all(a["delivery_status"] == "delivered" for a in body["data"])
            and body["data"]
        )
    )
    assert [a["kind"] for a in alerts] == ["recovered", "down"]
    assert alerts[0]["downtime_seconds"] > 0
    assert alerts[0]["message"] == recovered.json()["alert"]["message"]
    (delivery,) = alerts[1]["deliveries"]
    assert delivery["channel"] == "webhook" and delivery["status"] == "delivered"
    assert delivery["target"] == f"http://127.0.0.1:{receiver.port}"  # no path, no token
    assert delivery["attempts"] == 1
    own = client.get(f"/v1/services/{service['id']}/alerts?kind=down").json()["data"]
    assert [a["id"] for a in own] == [alerts[1]["id"]]
    assert client.get(f"/v1/services/{service['id']}").json()["alert_state"] == "ok"


def test_alert_policy_is_validated_and_its_secrets_stay_hidden(client: Any) -> None:
    body = {
        "name": "hooked",
        "url": "http://127.0.0.1:1/",
        "alert_policy": {
            "max_failures": 3,
            "webhooks": [{"url": "https://hooks.example.test/x", "secret": "hidden"}],
            "apprise_urls": ["json://127.0.0.1:9/path/with-token"],
        },
    }
    created = client.post("/v1/services", json=body)
    assert created.status_code == 201, created.text
    policy = created.json()["alert_policy"]
    assert policy["webhooks"] == [{"url": "https://hooks.example.test/x", "has_secret": True}]
    assert policy["apprise_urls"] == ["json://127.0.0.1:9"]
    assert "hidden" not in created.text and "with-token" not in created.text
    assert (policy["max_failures"], policy["window_seconds"], policy["min_checks"]) == (3, 120, 2)

    path = f"/v1/services/{created.json()['id']}"
    patched = client.patch(path, json={"alert_policy": {"window_seconds": 600}}).json()
    assert patched["alert_policy"]["window_seconds"] == 600
    assert patched["alert_policy"]["max_failures"] == 3  # untouched fields keep their values
    assert patched["alert_policy"]["webhooks"][0]["has_secret"] is True

    kept = client.patch(path, json={"alert_policy": {"apprise_urls": ["nonsense://x"]}}).json()
    assert kept["alert_policy"]["apprise_urls"] == ["nonsense://"]  # shown as receivers are
    assert kept["warnings"] == [
        "apprise URL nonsense:// is not one apprise can send to: its alerts will fail"
    ]
    for bad, detail in [
        ({"webhooks": [{"url": "ftp://x.test/"}]}, "webhooks.0.url' is not of the form"),
        ({"availability_threshold_percent": 101}, "greater than the maximum"),
        ({"window_seconds": 0}, "less than the minimum"),
        ({"colour": "red"}, "Additional properties"),
    ]:
        response = client.patch(path, json={"alert_policy": bad})
        assert response.status_code == 400, (bad, response.text)
        assert detail in response.json()["detail"]


def test_alert_lists_validate_their_filters(client: Any) -> None:
    assert client.get("/v1/alerts").json() == {"data": [], "next_cursor": None}
    assert client.get("/v1/alerts?kind=sideways").status_code == 400
    inverted = client.get("/v1/alerts?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
    assert inverted.json() == {"data": [], "next_cursor": None}  # an empty range, not an error
    assert client.get("/v1/services/999/alerts").status_code == 404
