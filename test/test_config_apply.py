"""Configuration as code through the API: `POST /v1/config:apply` makes an account what a
document declares, all or nothing, by name and in place; `GET /v1/config` writes it out so
that applying it back changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from accounts import Account
from sqlalchemy import Engine, text

DOCUMENT: dict[str, Any] = {
    "defaults": {"interval_seconds": 60, "tags": ["shop"], "method": "HEAD"},
    "receivers": {
        "ops": {
            "webhooks": [{"url": "http://127.0.0.1:9/hook?token=t0k3n", "secret": "s3cret"}],
            "apprise_urls": ["json://127.0.0.1:9/apprise"],
        }
    },
    "services": [
        {"name": "db", "url": "tcp://127.0.0.1:5432"},
        {
            "name": "web",
            "url": "http://user:pa55@127.0.0.1:8080/health?api_key=abc",
            "headers": {"Authorization": "Bearer x", "Accept": "text/plain"},
            "depends_on": ["db"],
            "receivers": ["ops"],
            "alert_policy": {"window_seconds": 300},
        },
        {
            "name": "resolver",
            "url": "dns://example.com",
            "resolver": "127.0.0.1:53",
            "record_type": "MX",
        },
        {"name": "cert", "url": "tls://127.0.0.1:443", "min_cert_days": 20, "group": "Edge"},
        {"name": "gateway", "url": "icmp://127.0.0.1", "locations": ["a", "b"], "quorum": 2},
        {"name": "backup", "heartbeat": {"cron": "0 3 * * *", "grace_seconds": 1800}},
    ],
    "maintenances": [
        {
            "title": "sunday backups",
            "services": ["db"],
            "tags": ["nightly"],
            "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
            "duration_seconds": 3600,
            "timezone": "Europe/Berlin",
        }
    ],
}


def apply(client: Any, document: dict[str, Any], status: int = 200, **query: Any) -> dict:
    params = {k: str(v).lower() for k, v in query.items()}
    answer = client.post("/v1/config:apply", json=document, params=params)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def actions(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["action"], c["kind"], c["name"]) for c in plan["changes"]]


def services_of(client: Any) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in client.get("/v1/services?limit=500").json()["data"]}


def test_a_document_is_created_then_left_as_it_is(client: Any) -> None:
    plan = apply(client, DOCUMENT)
    assert plan["applied"] is True
    assert actions(plan) == [
        *(("create", "service", s["name"]) for s in DOCUMENT["services"]),
        ("create", "maintenance", "sunday backups"),
    ]
    assert [c["pointer"] for c in plan["changes"]] == [
        *(f"/services/{i}" for i in range(6)),
        "/maintenances/0",
    ]
    stored = services_of(client)
    assert all(s["managed"] for s in stored.values())
    web, db = stored["web"], stored["db"]
    assert web["depends_on"] == [db["id"]]
    assert web["tags"] == ["shop"] and web["check_options"]["method"] == "HEAD"
    assert "method" not in db["check_options"]  # a default option applies where the kind has it
    assert stored["backup"]["kind"] == "heartbeat"
    assert stored["backup"]["heartbeat"]["cron"] == "0 3 * * *"
    assert web["alert_policy"]["window_seconds"] == 300
    assert [h["has_secret"] for h in web["alert_policy"]["webhooks"]] == [True]
    assert web["alert_policy"]["apprise_urls"] == ["json://127.0.0.1:9"]
    assert (stored["gateway"]["locations"], stored["gateway"]["quorum"]) == (["a", "b"], 2)
    (window,) = client.get("/v1/maintenances").json()["data"]
    assert window["service_ids"] == [db["id"]] and window["managed"] is True

    again = apply(client, DOCUMENT)
    assert (again["applied"], again["changes"]) == (False, [])
    assert again["unchanged"] == {"services": 6, "maintenances": 1}


def test_changes_are_made_in_place_field_by_field_and_prune_deletes(
    client: Any, db: Engine
) -> None:
    apply(client, DOCUMENT)
    ids = {name: s["id"] for name, s in services_of(client).items()}
    with db.begin() as conn:  # a check of `web` to keep
        conn.execute(
            text("UPDATE service_metrics SET tick_count = 7 WHERE service_id = :id"),
            {"id": ids["web"]},
        )
    changed = copy.deepcopy(DOCUMENT)
    services = {s["name"]: s for s in changed["services"]}
    services["web"]["alert_policy"]["window_seconds"] = 600
    services["db"]["url"] = "tcp://127.0.0.1:5433"
    services["backup"]["heartbeat"]["grace_seconds"] = 600
    changed["services"] = [s for s in changed["services"] if s["name"] != "cert"]

    dry = apply(client, changed, dry_run=True, prune=True)
    assert dry["applied"] is False
    plan = apply(client, changed, prune=True)
    assert (
        actions(plan)
        == actions(dry)
        == [
            ("change", "service", "db"),
            ("change", "service", "web"),
            ("change", "service", "backup"),
            ("delete", "service", "cert"),
        ]
    )
    fields = {c["name"]: c["fields"] for c in plan["changes"]}
    assert fields["db"] == [
        {"field": "url", "before": "tcp://127.0.0.1:5432", "after": "tcp://127.0.0.1:5433"}
    ]
    (policy,) = fields["web"]
    assert policy["field"] == "alert_policy"
    assert (policy["before"]["window_seconds"], policy["after"]["window_seconds"]) == (300, 600)
    assert "s3cret" not in str(plan) and "t0k3n" not in str(plan)  # secrets stay masked
    assert plan["unchanged"] == {"services": 2, "maintenances": 1}
    stored = services_of(client)
    assert "cert" not in stored
    assert {name: s["id"] for name, s in stored.items()} == {
        name: i for name, i in ids.items() if name != "cert"
    }  # changed in place: the same services, their history kept
    assert stored["web"]["metric"]["tick_count"] == 7
    assert stored["db"]["url"] == "tcp://127.0.0.1:5433"
    assert apply(client, changed, prune=True)["changes"] == []


def test_an_export_applied_back_changes_nothing_secrets_included(client: Any) -> None:
    apply(client, DOCUMENT)
    exported = client.get("/v1/config").json()
    shown = str(exported)
    assert "pa55" not in shown and "s3cret" not in shown and "Bearer x" not in shown
    web = next(s for s in exported["services"] if s["name"] == "web")
    assert web["url"] == "http://user:********@127.0.0.1:8080/health?api_key=********"
    assert web["alert_policy"]["webhooks"] == [
        {"url": "http://127.0.0.1:9/hook?token=********", "secret": "********"}
    ]
    plan = apply(client, exported)
    assert plan["changes"] == []
    assert plan["unchanged"] == {"services": 6, "maintenances": 1}
    # And the secrets are still what they were.
    client.post("/v1/config:apply", json=DOCUMENT)
    assert apply(client, DOCUMENT)["changes"] == []


def test_services_made_by_hand_are_adopted_by_name_and_never_pruned(client: Any) -> None:
    for name in ("db", "legacy"):
        body = {"name": name, "url": "tcp://127.0.0.1:5432", "interval_seconds": 60}
        assert client.post("/v1/services", json=body).status_code == 201
    document = {"defaults": DOCUMENT["defaults"], "services": [DOCUMENT["services"][0]]}
    plan = apply(client, document, prune=True)
    (change,) = plan["changes"]
    assert (change["action"], change["name"], change["adopted"]) == ("change", "db", True)
    assert [f["field"] for f in change["fields"]] == ["tags"]
    stored = services_of(client)
    assert (stored["db"]["managed"], stored["legacy"]["managed"]) == (True, False)
    assert apply(client, {"services": []}, prune=True)["changes"] == [
        {
            "action": "delete",
            "kind": "service",
            "name": "db",
            "id": stored["db"]["id"],
            "pointer": None,
            "adopted": False,
            "fields": [],
        }
    ]
    assert list(services_of(client)) == ["legacy"]


@pytest.mark.parametrize(
    ("change", "status", "pointer", "detail"),
    [
        (
            {"services": [{"name": "a", "url": "gopher://127.0.0.1/"}]},
            400,
            "/services/0/url",
            "is not of the form",
        ),
        (
            {"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "quorum": 2}]},
            400,
            "/services/0",
            "quorum needs locations",
        ),
        (
            {"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "depends_on": ["ghost"]}]},
            400,
            "/services/0",
            "depends_on names 'ghost', which is neither declared nor stored",
        ),
        (
            {"services": [{"name": "a", "url": "tcp://127.0.0.1:1", "receivers": ["nobody"]}]},
            400,
            "/services/0",
            "no receiver named 'nobody'",
        ),
        (
            {
                "services": [
                    {"name": "a", "url": "tcp://127.0.0.1:1"},
                    {"name": "a", "url": "tcp://127.0.0.1:2"},
                ]
            },
            409,
            "/services/1",
            "item 0 declares the service 'a' too",
        ),
        (
            {
                "maintenances": [
                    {"title": "m", "services": ["ghost"], "ends_at": "2030-01-01T00:00:00Z"}
                ]
            },
            400,
            "/maintenances/0",
            "services names 'ghost'",
        ),
    ],
)
def test_a_faulty_item_refuses_the_document_and_points_at_itself(
    client: Any, change: dict[str, Any], status: int, pointer: str, detail: str
) -> None:
    problem = apply(
        client, {"services": [{"name": "ok", "url": "tcp://127.0.0.1:1"}]} | change, status
    )
    (error,) = problem["errors"]
    assert error["pointer"] == pointer and detail in error["detail"], problem
    assert services_of(client) == {}  # nothing written, not even the good item


def test_a_loop_of_dependencies_refuses_the_document(client: Any) -> None:
    loop = {
        "services": [
            {"name": "a", "url": "tcp://127.0.0.1:1", "depends_on": ["b"]},
            {"name": "b", "url": "tcp://127.0.0.1:2", "depends_on": ["a"]},
        ]
    }
    problem = apply(client, loop, 400)
    assert "depends_on would make a loop: a -> b -> a" in problem["detail"]
    assert services_of(client) == {}


def test_a_stored_service_cannot_change_between_checked_and_heartbeat(client: Any) -> None:
    apply(client, {"services": [{"name": "job", "url": "tcp://127.0.0.1:1"}]})
    problem = apply(
        client, {"services": [{"name": "job", "heartbeat": {"interval_seconds": 60}}]}, 409
    )
    assert problem["errors"][0]["pointer"] == "/services/0"
    assert "rename it, or delete the stored one first" in problem["detail"]


def test_each_account_applies_its_own(
    client: Any, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    apply(client, DOCUMENT)
    other = make_client(make_account("other@example.com"))
    assert actions(apply(other, {"services": [DOCUMENT["services"][0]]}, prune=True)) == [
        ("create", "service", "db")
    ]
    assert len(services_of(client)) == 6
    assert other.get("/v1/config").json() == {
        "services": [{"name": "db", "url": "tcp://127.0.0.1:5432"}]
    }
    assert make_client().post("/v1/config:apply", json=DOCUMENT).status_code == 401
