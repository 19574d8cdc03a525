"""Incidents written by people through the API (Connexion, response validation on): writing
them, their updates over time, changing and deleting them, what is refused and why, who sees
which; and the status pages' list of incidents, written and automatic together, newest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts import Account
from sqlalchemy import Engine, text

from statuschecker.services.incidents import MAX_UPDATES

PROBLEM = "application/problem+json"


def at(delta: timedelta = timedelta()) -> str:
    """Now plus `delta`, as the API writes times (whole seconds)."""
    moment = datetime.now(UTC).replace(microsecond=0) + delta
    return moment.isoformat().replace("+00:00", "Z")


def register(client: Any, name: str, public: bool = True) -> dict:
    body = {"name": name, "url": "http://127.0.0.1:1/", "public": public}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def write(client: Any, service_ids: list[int], **fields: Any) -> dict:
    body = {
        "title": "Logins failing",
        "impact": "major",
        "service_ids": service_ids,
        "message": "Looking into it.",
        **fields,
    }
    response = client.post("/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def downtime(db: Engine, service_id: int, started: timedelta, ended: timedelta | None) -> int:
    """A downtime of the service (as the checks open them), `started` and `ended` ago."""
    now = datetime.now(UTC).replace(microsecond=0)
    with db.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO service_events (service_id, event, date_started, date_ended, "
                    "reason) VALUES (:id, 'downtime', :start, :end, 'connection refused') "
                    "RETURNING id"
                ),
                {
                    "id": service_id,
                    "start": now - started,
                    "end": None if ended is None else now - ended,
                },
            ).scalar_one()
        )


def assert_problem(response: Any, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail_part in response.json()["detail"], response.json()


@pytest.fixture
def web(client: Any) -> dict:
    return register(client, "web")


def test_an_incident_is_written_with_its_first_update(client: Any, web: dict) -> None:
    response = client.post(
        "/v1/incidents",
        json={
            "title": "Logins failing",
            "impact": "major",
            "service_ids": [web["id"]],
            "message": "Some logins fail; looking into it.",
        },
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    assert response.headers["location"] == f"/v1/incidents/{incident['id']}"
    assert incident["title"] == "Logins failing"
    assert incident["impact"] == "major"
    assert incident["status"] == "investigating"
    assert incident["services"] == [{"id": web["id"], "name": "web"}]
    assert incident["resolved_at"] is None
    [first] = incident["updates"]
    assert (first["status"], first["message"]) == (
        "investigating",
        "Some logins fail; looking into it.",
    )
    assert first["created_at"] == incident["started_at"]
    assert client.get(f"/v1/incidents/{incident['id']}").json() == incident


def test_updates_move_the_status_and_resolved_resolves(client: Any, web: dict) -> None:
    incident = write(client, [web["id"]])
    path = f"/v1/incidents/{incident['id']}/updates"
    found = client.post(path, json={"status": "identified", "message": "A certificate expired."})
    assert found.status_code == 201, found.text
    assert found.json()["status"] == "identified"
    assert found.json()["resolved_at"] is None
    resolved = client.post(path, json={"status": "resolved", "message": "Renewed."}).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert [u["status"] for u in resolved["updates"]] == ["resolved", "identified", "investigating"]
    assert resolved["updates"][0]["message"] == "Renewed."
    # Reopened by a later update, and resolved again from then.
    reopened = client.post(path, json={"status": "monitoring", "message": "It came back."}).json()
    assert (reopened["status"], reopened["resolved_at"]) == ("monitoring", None)


def test_an_incident_can_be_written_resolved_and_backdated(client: Any, web: dict) -> None:
    incident = write(client, [web["id"]], status="resolved", started_at=at(-timedelta(hours=3)))
    assert incident["started_at"] == at(-timedelta(hours=3))
    assert incident["resolved_at"] == incident["started_at"]
    assert incident["updates"][0]["created_at"] == incident["started_at"]


def test_a_resolved_incident_cannot_start_after_it_ended(client: Any, web: dict) -> None:
    incident = write(client, [web["id"]], status="resolved", started_at=at(-timedelta(hours=3)))
    later = {"started_at": at(-timedelta(hours=1))}
    answer = client.patch(f"/v1/incidents/{incident['id']}", json=later)
    assert_problem(answer, 400, "started_at is after the incident was resolved")
    earlier = {"started_at": at(-timedelta(hours=4))}
    assert client.patch(f"/v1/incidents/{incident['id']}", json=earlier).status_code == 200


def test_change_and_delete(client: Any, web: dict) -> None:
    api = register(client, "api")
    incident = write(client, [web["id"]])
    path = f"/v1/incidents/{incident['id']}"
    changed = client.patch(
        path,
        json={"title": "Slow logins", "impact": "minor", "service_ids": [api["id"], web["id"]]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["impact"]) == ("Slow logins", "minor")
    assert body["services"] == [{"id": api["id"], "name": "api"}, {"id": web["id"], "name": "web"}]
    assert body["updates"] == incident["updates"]
    assert client.delete(path).status_code == 204
    assert_problem(client.get(path), 404, f"no incident with id {incident['id']}")
    assert_problem(client.delete(path), 404, "no incident")


def test_the_account_lists_its_incidents_newest_started_first_in_pages(
    client: Any, web: dict
) -> None:
    written = [
        write(client, [web["id"]], title=f"i{n}", started_at=at(-timedelta(hours=n)))
        for n in range(5)
    ]
    first = client.get("/v1/incidents", params={"limit": 2}).json()
    second = client.get("/v1/incidents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/v1/incidents", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    titles = [i["title"] for page in (first, second, third) for i in page["data"]]
    assert titles == [i["title"] for i in written]
    assert third["next_cursor"] is None


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"message": "   "}, 400, "message is blank"),
        ({"impact": "apocalyptic"}, 400, "impact"),
        ({"status": "fixed"}, 400, "status"),
        ({"title": " "}, 400, "title"),
        ({"service_ids": []}, 400, "service_ids"),
        ({"started_at": "yesterday"}, 400, "started_at"),
        ({"color": "red"}, 400, "color"),
    ],
)
def test_bad_incidents_are_refused_saying_why(
    client: Any, web: dict, fields: dict, status: int, detail: str
) -> None:
    body = {"title": "t", "impact": "minor", "service_ids": [web["id"]], "message": "m", **fields}
    assert_problem(client.post("/v1/incidents", json=body), status, detail)
    assert client.get("/v1/incidents").json()["data"] == []


def test_a_start_ahead_of_now_and_others_services_are_refused(
    client: Any, web: dict, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    ahead = {
        "title": "t",
        "impact": "minor",
        "service_ids": [web["id"]],
        "message": "m",
        "started_at": at(timedelta(hours=1)),
    }
    assert_problem(client.post("/v1/incidents", json=ahead), 400, "started_at is ahead of now")
    other = make_client(make_account("other@example.com"))
    theirs = register(other, "theirs")
    body = {**ahead, "started_at": at(), "service_ids": [theirs["id"]]}
    assert_problem(
        client.post("/v1/incidents", json=body), 400, f"no service with id {theirs['id']}"
    )
    mine = write(client, [web["id"]])
    assert_problem(other.get(f"/v1/incidents/{mine['id']}"), 404, "no incident")
    update = {"status": "resolved", "message": "not yours"}
    assert_problem(
        other.post(f"/v1/incidents/{mine['id']}/updates", json=update), 404, "no incident"
    )
    assert_problem(
        other.patch(f"/v1/incidents/{mine['id']}", json={"title": "x"}), 404, "no incident"
    )
    assert other.get("/v1/incidents").json()["data"] == []


def test_an_incident_takes_a_bounded_number_of_updates(client: Any, web: dict) -> None:
    incident = write(client, [web["id"]])
    path = f"/v1/incidents/{incident['id']}/updates"
    for n in range(MAX_UPDATES - 1):
        assert (
            client.post(path, json={"status": "monitoring", "message": f"{n}"}).status_code == 201
        )
    assert_problem(
        client.post(path, json={"status": "resolved", "message": "x"}),
        409,
        f"{MAX_UPDATES} updates",
    )
    assert len(client.get(f"/v1/incidents/{incident['id']}").json()["updates"]) == MAX_UPDATES


def test_the_status_pages_list_written_and_automatic_incidents_newest_first(
    client: Any, make_client: Callable[..., Any], db: Engine
) -> None:
    web, api = register(client, "web"), register(client, "api")
    hidden = register(client, "internal", public=False)
    old_outage = downtime(db, web["id"], timedelta(hours=5), timedelta(hours=4))
    ongoing = downtime(db, api["id"], timedelta(minutes=30), None)
    downtime(db, hidden["id"], timedelta(minutes=10), None)
    downtime(db, web["id"], timedelta(days=95), timedelta(days=94))  # older than 90 days
    written = write(client, [web["id"], hidden["id"]], started_at=at(-timedelta(hours=1)))
    anonymous = make_client()
    answer = anonymous.get("/v1/status/incidents")
    assert answer.status_code == 200, answer.text
    shown = answer.json()["data"]
    assert [(i["source"], i["id"]) for i in shown] == [
        ("automatic", ongoing),
        ("written", written["id"]),
        ("automatic", old_outage),
    ]
    auto, mine, old = shown
    assert auto["title"] == "api down"
    assert (auto["description"], auto["resolved_at"], auto["impact"], auto["status"]) == (
        "connection refused",
        None,
        None,
        None,
    )
    assert auto["services"] == [{"id": api["id"], "name": "api"}]
    assert mine["services"] == [{"id": web["id"], "name": "web"}]  # not the private one
    assert (mine["impact"], mine["status"], len(mine["updates"])) == ("major", "investigating", 1)
    assert old["resolved_at"] is not None
    # The owner sees its private service's downtime too.
    assert len(client.get("/v1/status/incidents").json()["data"]) == 4


def test_an_incident_about_private_services_only_is_not_public(
    client: Any, make_client: Callable[..., Any]
) -> None:
    hidden = register(client, "internal", public=False)
    write(client, [hidden["id"]])
    assert make_client().get("/v1/status/incidents").json()["data"] == []


def test_the_status_incidents_page_without_overlap_across_sources(
    client: Any, make_client: Callable[..., Any], db: Engine
) -> None:
    web = register(client, "web")
    moments = [timedelta(hours=n) for n in range(1, 8)]
    expected = []
    for n, ago in enumerate(moments):
        if n % 2:
            expected.append(("written", write(client, [web["id"]], started_at=at(-ago))["id"]))
        else:
            expected.append(("automatic", downtime(db, web["id"], ago, ago - timedelta(minutes=5))))
    # The same start for one of each: the written one comes first.
    same = timedelta(hours=10)
    tie_auto = downtime(db, web["id"], same, timedelta(hours=9))
    tie_written = write(client, [web["id"]], started_at=at(-same))["id"]
    expected += [("written", tie_written), ("automatic", tie_auto)]
    anonymous = make_client()
    seen, cursor = [], None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = anonymous.get("/v1/status/incidents", params=params).json()
        seen += [(i["source"], i["id"]) for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


def test_bad_status_incident_parameters_are_named(make_client: Callable[..., Any]) -> None:
    anonymous = make_client()
    assert_problem(anonymous.get("/v1/status/incidents", params={"cursor": "abc"}), 400, "cursor")
    assert_problem(anonymous.get("/v1/status/incidents", params={"limit": 201}), 400, "limit")
    assert_problem(
        anonymous.get("/v1/status/incidents", params={"page": "nope"}),
        404,
        "no status page at /status/nope",
    )
    assert_problem(anonymous.get("/v1/status/incidents", params={"page": "Bad Slug"}), 400, "page")


def test_metrics_count_the_incidents_going_on_by_impact(
    client: Any, make_client: Callable[..., Any], web: dict
) -> None:
    write(client, [web["id"]], impact="critical")
    write(client, [web["id"]], impact="critical")
    done = write(client, [web["id"]], impact="minor")
    resolved = {"status": "resolved", "message": "Fixed."}
    assert client.post(f"/v1/incidents/{done['id']}/updates", json=resolved).status_code == 201
    scraped = make_client().get("/metrics").text
    assert 'statuschecker_incidents_open{impact="critical"} 2.0' in scraped
    assert 'statuschecker_incidents_open{impact="minor"} 0.0' in scraped
    assert 'statuschecker_incidents_open{impact="major"} 0.0' in scraped
    assert 'statuschecker_page_deliveries{status="pending"} 0.0' in scraped
