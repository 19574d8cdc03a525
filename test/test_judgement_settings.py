"""A service's judgement settings through the API (confirmation, tags, group, dependencies),
the filters by status and tag, the retry of an unconfirmed failure, and the status as SQL
and as the rule agree."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from accounts import ALL, Account
from sqlalchemy import Engine, text
from targets import Target
from test_api_services import assert_problem, register
from waiting import wait_until

from statuschecker.model import STATUSES, ServiceFilter
from statuschecker.runtime import Runtime
from statuschecker.store import services as store
from statuschecker.system.config import Settings


def test_confirmation_shows_the_values_in_effect_and_goes_back_to_the_defaults(
    client: Any,
) -> None:
    service = register(client)
    assert (
        service["confirm_down_after"],
        service["confirm_up_after"],
        service["retry_interval_seconds"],
    ) == (2, 1, 20)
    path = f"/v1/services/{service['id']}"
    changed = client.patch(path, json={"confirm_down_after": 4, "retry_interval_seconds": 5})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["confirm_down_after"], changed.json()["retry_interval_seconds"]) == (
        4,
        5,
    )
    reset = client.patch(path, json={"confirm_down_after": None})
    assert reset.json()["confirm_down_after"] == 2
    assert reset.json()["retry_interval_seconds"] == 5
    assert_problem(client.patch(path, json={"confirm_up_after": 11}), 400, "confirm_up_after")
    assert_problem(client.patch(path, json={"confirm_down_after": 0}), 400, "confirm_down_after")


def test_tags_and_group_select_services_and_status_entries(client: Any) -> None:
    web = register(client, name="web", tags=["edge", "eu"], group="Shop")
    register(client, name="db", tags=["eu"])
    register(client, name="mail")
    assert (web["tags"], web["group"]) == (["edge", "eu"], "Shop")

    def names(path: str) -> list[str]:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return [s["name"] for s in answer.json()["data"]]

    assert names("/v1/services?tag=eu") == ["web", "db"]
    assert names("/v1/services?tag=edge") == ["web"]
    assert names("/v1/services?tag=none") == []
    assert names("/v1/status?tag=eu") == ["web", "db"]
    entry = client.get("/v1/status?tag=edge").json()["data"][0]
    assert (entry["group"], entry["tags"]) == ("Shop", ["edge", "eu"])

    ungrouped = client.patch(f"/v1/services/{web['id']}", json={"group": None, "tags": []})
    assert (ungrouped.json()["group"], ungrouped.json()["tags"]) == (None, [])
    for bad in (["x" * 33], ["has space"], ["-leading"], ["a"] * 21, ["a", "a"]):
        assert_problem(
            client.post("/v1/services", json={"name": "t", "url": "http://a.test/", "tags": bad}),
            400,
            "tags",
        )
    assert_problem(
        client.post("/v1/services", json={"name": "g", "url": "http://a.test/", "group": "  "}),
        400,
        "group",
    )


def test_dependencies_must_be_known_own_and_free_of_loops(
    client: Any, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    a = register(client, name="a")
    b = register(client, name="b", depends_on=[a["id"]])
    c = register(client, name="c", depends_on=[b["id"]])
    assert c["depends_on"] == [b["id"]]
    other = make_client(make_account("other@example.com"))
    theirs = register(other, name="theirs")

    unknown = client.post(
        "/v1/services",
        json={"name": "d", "url": "http://a.test/", "depends_on": [a["id"], theirs["id"], 999]},
    )
    assert_problem(unknown, 400, f"no service of yours with id {theirs['id']}, 999")
    loop = client.patch(f"/v1/services/{a['id']}", json={"depends_on": [c["id"]]})
    assert_problem(loop, 400, f"loop: {a['id']} -> {c['id']} -> {b['id']} -> {a['id']}")
    itself = client.patch(f"/v1/services/{a['id']}", json={"depends_on": [a["id"]]})
    assert_problem(itself, 400, "cannot depend on itself")

    assert client.delete(f"/v1/services/{b['id']}").status_code == 204
    assert client.get(f"/v1/services/{c['id']}").json()["depends_on"] == []


def test_an_unconfirmed_failure_is_checked_again_after_the_retry_interval(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    runtime = make_runtime(with_poller=True)
    runtime.start()
    with Target("up") as target:
        service = runtime.services.register(
            account.caller,
            "slowly-checked",
            target.url,
            interval_seconds=60,
            timeout_seconds=1,
            retry_interval_seconds=1,
        )
        wait_until(lambda: target.hits >= 1)
        assert runtime.services.get(service.id, ALL).status in ("up", "unknown")
        # The next check is a minute away; force it now, failing, and time the retry.
        target.set_mode("down")
        runtime.services.update(service.id, {"timeout_seconds": 2}, ALL)  # due at once
        wait_until(lambda: runtime.services.get(service.id, ALL).status == "pending", 10)
        started = time.monotonic()
        down = wait_until(
            lambda: (s := runtime.services.get(service.id, ALL)).status == "down" and s, 10
        )
        assert time.monotonic() - started < 5  # retried after 1 s, not the 60 s interval
    assert down.latest_event is not None and down.latest_event.reason


def test_the_status_filter_in_sql_agrees_with_the_rule(
    db: Engine, make_runtime: Callable[..., Runtime], account: Account
) -> None:
    """Every combination of what the status depends on, stored, then listed by each status:
    each service is found under exactly the status the rule gives it."""
    runtime = make_runtime()
    combos = list(
        itertools.product((False, True), (None, "uptime", "downtime"), *[(False, True)] * 3)
    )
    with db.begin() as conn:
        for n, (paused, confirmed, failing, maintenance, degraded) in enumerate(combos):
            sid = runtime.services.register(account.caller, f"s{n}", "http://a.test/").id
            conn.execute(
                text(
                    "UPDATE services SET paused = :p, run_kind = :r, in_maintenance = :m, "
                    "degraded = :d WHERE id = :id"
                ),
                {
                    "p": paused,
                    "r": "downtime" if failing else None,
                    "m": maintenance,
                    "d": degraded,
                    "id": sid,
                },
            )
            if confirmed:
                conn.execute(
                    text(
                        "INSERT INTO service_events (service_id, event, date_started) "
                        "VALUES (:id, :e, now())"
                    ),
                    {"id": sid, "e": confirmed},
                )
    with db.connect() as conn:
        every = {s.id: s.status for s in store.list_page(conn, limit=1000).items}
        listed = {
            status: {
                s.id
                for s in store.list_page(conn, limit=1000, kept=ServiceFilter(status=status)).items
            }
            for status in STATUSES
        }
    assert len(every) == len(combos)
    for status in STATUSES:
        assert listed[status] == {sid for sid, s in every.items() if s == status}, status
    assert set(every.values()) == set(STATUSES)


def test_prometheus_shows_each_service_status_as_a_gauge(
    make_runtime: Callable[..., Runtime], settings: Settings, account: Account
) -> None:
    runtime = make_runtime(signup_policy="first-only")  # the per-service series are served
    service = runtime.services.register(account.caller, "gauged", "http://a.test/")
    runtime.services.update(service.id, {"paused": True}, ALL)
    labels = {"service_id": str(service.id), "service_name": "gauged"}
    values = {
        status: runtime.registry.get_sample_value(
            "statuschecker_service_status", {**labels, "status": status}
        )
        for status in STATUSES
    }
    assert values == {s: 1.0 if s == "paused" else 0.0 for s in STATUSES}


@pytest.fixture
def client(make_client: Callable[..., Any], account: Account) -> Any:
    return make_client(account)
