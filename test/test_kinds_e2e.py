"""Every kind of check through the API and the real poller, against local peers: the poller,
recorder, statistics and status views work for all kinds alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from accounts import Account
from peers import Peer, dns_server, serving_tls
from targets import Target
from waiting import wait_until

from statuschecker.runtime import Runtime
from web.app import create_app

ZONE = "svc.example.test. 60 IN A 192.0.2.7\n"


def greet(conn: Any, stop: Any) -> None:
    """A banner protocol: say hello, then wait for the client to leave."""
    conn.sendall(b"hello from the peer\r\n")
    conn.recv(1)


@pytest.fixture
def ca_file(tmp_path: Path) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


@pytest.fixture
def client(make_runtime: Callable[..., Runtime], ca_file: tuple, account: Account) -> Iterator[Any]:
    runtime = make_runtime(with_poller=True, ca_bundle=ca_file[1])
    with create_app(runtime, validate_responses=True).test_client(
        headers=account.headers
    ) as test_client:
        yield test_client


def register(client: Any, name: str, url: str, **options: Any) -> dict:
    body = {"name": name, "url": url, "interval_seconds": 1, "timeout_seconds": 1, **options}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def latest_tick(client: Any, service_id: int) -> dict:
    return client.get(f"/v1/services/{service_id}/ticks?limit=1").json()["data"][0]


def test_every_kind_is_polled_recorded_and_reported(client: Any, ca_file: tuple) -> None:
    ca, _ = ca_file
    cert = ca.issue_cert("127.0.0.1", not_after=datetime.now(UTC) + timedelta(days=90))
    with (
        Target("up") as web,
        Peer(greet) as tcp_peer,
        Peer(serving_tls(cert)) as tls_peer,
        dns_server(ZONE) as resolver,
    ):
        services = {
            "http": register(client, "web", web.url, body_contains="ok", expected_status=[200]),
            "tcp": register(client, "tcp", tcp_peer.url(), body_contains="hello"),
            "icmp": register(client, "ping", "icmp://127.0.0.1", packet_count=1),
            "dns": register(
                client,
                "dns",
                "dns://svc.example.test",
                resolver=resolver,
                expected_value="192.0.2.7",
            ),
            "tls": register(client, "cert", tls_peer.url("tls"), min_cert_days=30),
        }
        assert {kind: s["kind"] for kind, s in services.items()} == {
            kind: kind for kind in services
        }
        assert services["dns"]["check_options"]["expected_value"] == "192.0.2.7"

        def all_up() -> bool:
            statuses = {s["name"]: s["status"] for s in client.get("/v1/status").json()["data"]}
            return set(statuses.values()) == {"up"}

        wait_until(all_up, timeout=15)
        ticks = {kind: latest_tick(client, s["id"]) for kind, s in services.items()}
    assert all(t["up"] and t["response_time_ms"] > 0 for t in ticks.values()), ticks
    assert ticks["http"]["status_code"] == 200 and ticks["http"]["connect_ms"] is not None
    assert ticks["icmp"]["packet_loss_percent"] == 0
    assert ticks["dns"]["dns_ms"] > 0
    assert 89 < ticks["tls"]["cert_days_remaining"] <= 90
    assert ticks["tls"]["tls_ms"] > 0

    http_stats = client.get(f"/v1/services/{services['http']['id']}/stats").json()
    assert http_stats["phases_ms"]["total"]["avg"] > 0
    assert http_stats["phases_ms"]["connect"]["p95"] is not None

    # The peers are gone now: each service goes down with its own reason.
    wait_until(
        lambda: (
            {s["name"] for s in client.get("/v1/status/down").json()["data"]}
            >= {"web", "tcp", "cert"}
        ),
        timeout=15,
    )
    incidents = client.get("/v1/status/service/tcp/incidents").json()["data"]
    assert incidents[0]["description"] == "connection refused"
    assert incidents[0]["up_detection"] is None


@pytest.mark.parametrize(
    ("url", "options", "detail"),
    [
        ("tcp://127.0.0.1", {}, "is not of the form"),
        ("dns://svc.example.test", {"resolver": "not a resolver"}, "resolver"),
        ("http://a.test/", {"max_response_time_ms": 0}, "max_response_time_ms"),
    ],
)
def test_options_that_do_not_fit_are_refused(
    client: Any, url: str, options: dict, detail: str
) -> None:
    response = client.post("/v1/services", json={"name": "x", "url": url, **options})
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert client.get("/v1/services").json()["data"] == []


@pytest.mark.parametrize(
    ("url", "options", "warning"),
    [
        ("dns://svc.example.test", {"record_type": "A", "expected_value": "x"}, "expected_value"),
        ("http://a.test/", {"body_regex": "(unclosed"}, "body_regex"),
        ("tcp://127.0.0.1:5432", {"record_type": "MX"}, "record_type is an option of dns://"),
        ("http://a.test/", {"min_cert_days": 3}, "min_cert_days is an option of tls://"),
    ],
)
def test_options_that_cannot_apply_are_kept_and_named(
    client: Any, url: str, options: dict, warning: str
) -> None:
    """They used to be refused: the contract allows them, so they are kept, and the service's
    warnings (in every answer about it) say why they cannot apply."""
    created = client.post("/v1/services", json={"name": "x", "url": url, **options})
    assert created.status_code == 201, created.text
    assert [w for w in created.json()["warnings"] if w.startswith(warning)], created.json()
    assert (
        client.get(f"/v1/services/{created.json()['id']}").json()["warnings"]
        == (created.json()["warnings"])
    )


def test_patch_changes_and_removes_options(client: Any) -> None:
    service = register(client, "opts", "http://a.test/", method="POST", body_contains="ok")
    path = f"/v1/services/{service['id']}"
    assert service["check_options"] == {"method": "POST", "body_contains": "ok"}
    changed = client.patch(path, json={"body_contains": None, "expected_status": ["200-399"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["check_options"] == {"method": "POST", "expected_status": ["200-399"]}
    # Moving to another kind keeps the options, unused until the URL is of their kind again.
    moved = client.patch(path, json={"url": "tcp://127.0.0.1:25"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["kind"] == "tcp"
    assert moved.json()["check_options"] == {"method": "POST", "expected_status": ["200-399"]}
    assert moved.json()["warnings"] == [
        "expected_status is an option of http(s):// checks: kept, but unused by this tcp:// "
        "service",
        "method is an option of http(s):// checks: kept, but unused by this tcp:// service",
    ]
    cleared = {"method": None, "expected_status": None}
    moved = client.patch(path, json=cleared)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["check_options"], moved.json()["warnings"]) == ({}, [])
    back = client.patch(path, json={"url": "http://a.test/", "method": "HEAD"}).json()
    assert (back["kind"], back["check_options"], back["warnings"]) == (
        "http",
        {"method": "HEAD"},
        [],
    )
