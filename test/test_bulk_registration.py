"""POST /v1/services:batch through Connexion (response validation on) on the real database:
many registrations in one request, each meeting every rule one registration meets, stored all
together in one transaction or not at all, with every faulty item named by its index."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts import Account
from sqlalchemy import Engine, event, func, select, text
from test_api_services import PROBLEM, assert_problem
from test_curl_examples import Shell

from statuschecker.runtime import Runtime
from statuschecker.store.tables import service_metrics, services
from web.app import create_app

BATCH = "/v1/services:batch"
MAX_ITEMS = 1000
PUBLIC_IP = "93.184.215.14"  # a global address: the target policy lets it through
EITHER_URL_OR_HEARTBEAT = "A service is either checked (give `url`"


def item(name: str, **fields: Any) -> dict[str, Any]:
    """A registration that is valid unless `fields` make it otherwise."""
    return {"name": name, "url": f"http://127.0.0.1:1/{name}", **fields}


def batch(client: Any, *items: dict[str, Any]) -> Any:
    return client.post(BATCH, json={"services": list(items)})


def registered(client: Any, *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = batch(client, *items)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["services"]


def stored(db: Engine) -> tuple[int, int]:
    """How many services and metrics rows there are."""
    with db.connect() as conn:
        count = conn.execute(select(func.count()).select_from(services)).scalar_one()
        metrics = conn.execute(select(func.count()).select_from(service_metrics)).scalar_one()
    return count, metrics


def refused(response: Any, status: int, detail_part: str = "") -> list[dict[str, Any]]:
    """The `errors` of a batch refused with `status`, whose detail holds `detail_part`."""
    assert_problem(response, status, detail_part)
    return response.json().get("errors", [])


def as_alone(detail: str, index: int) -> str:
    """A batch item's schema fault as the same registration sent alone is told it."""
    detail = detail.removesuffix(f" - 'services.{index}'")  # jsonschema's path, at the item
    return detail.replace(f"'services.{index}'", "the body").replace(f"services.{index}.", "")


@pytest.fixture
def make_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Any]]:
    """Makes API apps with settings of their own; each call gives a test client of one."""
    with contextlib.ExitStack() as clients:

        def make(account: Account | None = None, **settings: Any) -> Any:
            app = create_app(make_runtime(**settings), validate_responses=True)
            headers = account.headers if account else {}
            return clients.enter_context(app.test_client(headers=headers))

        yield make


# ---------------------------------------------------------------------------------------------
# A valid batch


def test_a_batch_is_registered_in_order_as_each_alone_would_be(client: Any, db: Engine) -> None:
    created = registered(
        client,
        item("web", interval_seconds=5),
        {"name": "db", "url": "tcp://127.0.0.1:5432", "tags": ["backend"], "public": True},
        {"name": "nightly", "heartbeat": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}},
        {"name": "cert", "url": "tls://127.0.0.1:8443", "min_cert_days": 7, "group": "edge"},
    )
    assert [s["name"] for s in created] == ["web", "db", "nightly", "cert"]
    assert [s["kind"] for s in created] == ["http", "tcp", "heartbeat", "tls"]
    ids = [s["id"] for s in created]
    assert ids == sorted(ids)
    web, tcp, heartbeat, cert = created
    assert (web["interval_seconds"], web["timeout_seconds"]) == (5, 5)  # shortened, as alone
    assert (tcp["interval_seconds"], tcp["timeout_seconds"]) == (30, 10)
    assert (tcp["tags"], tcp["public"], cert["group"]) == (["backend"], True, "edge")
    assert cert["check_options"] == {"min_cert_days": 7}
    assert all(s["status"] == "unknown" and s["metric"]["tick_count"] == 0 for s in created)
    assert heartbeat["url"] is None and "/ping/" in heartbeat["ping_url"]
    assert "*" not in heartbeat["ping_url"]  # whole to its own account, as a registration shows it
    for shown in created:
        assert client.get(f"/v1/services/{shown['id']}").json() == shown
    listed = client.get("/v1/services").json()["data"]
    assert [s["id"] for s in listed] == ids
    assert stored(db) == (4, 4)


def test_each_registration_gets_what_a_single_one_gets(client: Any) -> None:
    """Same fields, same answer but for id, times and ping key: one code path."""
    fields = [
        item("alone-web", expected_status=[200, "300-399"], alert_policy={"max_failures": 2}),
        {"name": "alone-hb", "heartbeat": {"interval_seconds": 60}, "method": "HEAD"},
    ]
    alone = [client.post("/v1/services", json=f).json() for f in fields]
    together = registered(client, *[{**f, "name": f["name"][6:]} for f in fields])
    varying = {"id", "name", "created_at", "updated_at", "ping_url", "heartbeat"}
    for one, many in zip(alone, together, strict=True):
        assert {k: v for k, v in one.items() if k not in varying} == {
            k: v for k, v in many.items() if k not in varying
        }
    assert together[1]["warnings"] == [
        "method is an option of checked services: kept, but unused by this heartbeat"
    ]
    keys = {s["ping_url"] for s in (alone[1], together[1])}
    assert len(keys) == 2  # each heartbeat its own key


def test_a_batch_is_stored_by_set_based_inserts_in_one_transaction(
    client: Any, db: Engine, account: Account, make_runtime: Callable[..., Runtime]
) -> None:
    statements: list[str] = []
    runtime = make_runtime()

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    app = create_app(runtime, validate_responses=True)
    with app.test_client(headers=account.headers) as own:
        registered(own, *[item(f"s{i:03d}") for i in range(300)])
    inserts = [s for s in statements if s.startswith("INSERT INTO services ")]
    metrics = [s for s in statements if s.startswith("INSERT INTO service_metrics ")]
    assert len(inserts) == 1 and len(metrics) == 1, inserts + metrics
    assert sum(1 for s in statements if s in ("BEGIN", "COMMIT")) <= 2
    assert stored(db) == (300, 300)


def test_a_batch_of_the_most_items_registers_in_one_request(
    client: Any, db: Engine, account: Account
) -> None:
    began = time.perf_counter()
    created = registered(client, *[item(f"svc-{i:04d}") for i in range(MAX_ITEMS)])
    took = time.perf_counter() - began
    assert [s["name"] for s in created] == [f"svc-{i:04d}" for i in range(MAX_ITEMS)]
    assert stored(db) == (MAX_ITEMS, MAX_ITEMS)
    assert took < 30, f"{took:.1f} s for {MAX_ITEMS} registrations"  # seconds, not minutes
    # The account is now at the default limit (1,000): one more is one too many.
    errors = refused(batch(client, item("one-more")), 403, "at most 1000 services")
    assert errors == []


def test_a_batch_that_grows_the_table_by_a_tenth_has_it_analysed(client: Any, db: Engine) -> None:
    """The planner counts a large batch at once, not at autovacuum's next round: pages of an
    account that just registered thousands are read in index order, not sorted whole."""

    def counted() -> float:
        with db.connect() as conn:
            query = "SELECT reltuples FROM pg_class WHERE oid = 'services'::regclass"
            return float(conn.execute(text(query)).scalar_one())

    registered(client, *[item(f"a{i:03d}") for i in range(300)])
    assert counted() == 300
    registered(client, *[item(f"b{i:03d}") for i in range(41)])  # 341: not 50 + a tenth more
    assert counted() == 300
    registered(client, *[item(f"c{i:03d}") for i in range(50)])  # 391: more than 380
    assert counted() == 391


# ---------------------------------------------------------------------------------------------
# Invalid items: each named by its index, the batch refused, nothing stored


def beat(**schedule: Any) -> dict[str, Any]:
    """A heartbeat registration with this schedule."""
    return {"name": "bad", "heartbeat": schedule}


@pytest.mark.parametrize(
    ("bad", "status", "detail"),
    [
        # What the contract refuses
        (item("bad", url="ftp://a.test/"), 400, "'url' is not of the form: Absolute URL"),
        (item("bad", url="http://a.test:99999/"), 400, "a port is 1-65535"),
        (item(""), 400, "name"),
        (item("x" * 101), 400, "is too long"),
        (item("bad", interval_seconds=0), 400, "less than the minimum"),
        (item("bad", timeout_seconds=61), 400, "greater than the maximum"),
        (item("bad", colour="red"), 400, "Additional properties"),
        (item("bad", heartbeat={"interval_seconds": 60}), 400, EITHER_URL_OR_HEARTBEAT),
        (item("bad", tags=["a", "a"]), 400, "non-unique elements"),
        (item("bad", alert_policy={"min_checks": 0}), 400, "less than the minimum"),
        # What the registration rules refuse
        (beat(cron="61 * * * *"), 400, "heartbeat: invalid cron expression '61 * * * *'"),
        (beat(cron="0 3 * * *", timezone="Mars/Olympus"), 400, "unknown time zone"),
        (beat(cron="0 3 * * *", interval_seconds=60), 400, "either interval_seconds or cron"),
        (item("bad", depends_on=[424242]), 400, "names no service of yours with id 424242"),
    ],
)
def test_an_invalid_item_refuses_the_batch_naming_its_index_as_alone(
    client: Any, db: Engine, bad: dict[str, Any], status: int, detail: str
) -> None:
    alone = client.post("/v1/services", json=bad)
    assert_problem(alone, status, detail)
    errors = refused(batch(client, item("first"), bad, item("last")), status)
    assert len(errors) == 1
    assert (errors[0]["index"], errors[0]["status"]) == (1, status)
    assert as_alone(errors[0]["detail"], 1) == alone.json()["detail"]
    assert stored(db) == (0, 0)


def test_every_faulty_item_is_listed_in_order_with_its_own_status(client: Any, db: Engine) -> None:
    registered(client, item("taken"))
    response = batch(
        client,
        item("ok-0"),
        item("taken"),  # 409 against what is stored
        {"name": "bad-cron", "heartbeat": {"cron": "61 * * * *"}},  # 400 by the rules
        item("ok-3"),
        item("ok-0"),  # 409 within the batch
        item("parent", depends_on=[999]),  # 400 by the rules
    )
    errors = refused(response, 400, "4 of the 6 services cannot be registered, so none was")
    assert [(e["index"], e["status"]) for e in errors] == [(1, 409), (2, 400), (4, 409), (5, 400)]
    assert errors[0]["detail"] == "you already have a service named 'taken'"
    assert (
        errors[2]["detail"]
        == "item 0 of the batch is named 'ok-0' too; names are unique per account"
    )
    assert response.json()["detail"].endswith("item 1: you already have a service named 'taken'")
    assert stored(db) == (1, 1)


def test_the_contracts_faults_are_listed_by_item_too(client: Any, db: Engine) -> None:
    response = batch(
        client,
        item("a"),
        item("b", interval_seconds=0),
        item("c", url="gopher://a.test/"),
        {"url": "http://a.test/"},
    )
    errors = refused(response, 400)
    assert [e["index"] for e in errors] == [1, 2, 3]
    pointers = ["/services/1/interval_seconds", "/services/2/url", "/services/3"]
    assert [e["pointer"] for e in errors] == pointers
    assert errors[0]["detail"] == "0 is less than the minimum of 1 - 'services.1.interval_seconds'"
    assert errors[1]["detail"].startswith("'services.2.url' is not of the form: Absolute URL")
    assert errors[2]["detail"] == "'name' is a required property - 'services.3'"
    assert all(e["status"] == 400 for e in errors)
    assert stored(db) == (0, 0)


def test_text_no_database_can_store_is_refused_by_item(client: Any, db: Engine) -> None:
    """A free-form option (json_value) is kept storable, as for one registration; other text
    with a NUL is refused, naming its item."""
    created = registered(client, item("free", json_field="a", json_value="x\x00y"))
    assert created[0]["check_options"]["json_value"] == "x\ufffdy"
    errors = refused(batch(client, item("a"), item("b", body="x\x00y")), 400)
    assert [e["index"] for e in errors] == [1]
    assert stored(db) == (1, 1)


# ---------------------------------------------------------------------------------------------
# Names, dependencies, the limit, the target policy


def test_names_are_unique_within_the_batch_and_against_stored_ones(
    client: Any, db: Engine, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    errors = refused(batch(client, item("twin"), item("other"), item("twin")), 409)
    assert errors == [
        {
            "index": 2,
            "pointer": "/services/2",
            "status": 409,
            "detail": "item 0 of the batch is named 'twin' too; names are unique per account",
        }
    ]
    registered(client, item("twin"))
    errors = refused(batch(client, item("new"), item("twin")), 409, "item 1")
    assert errors == [
        {
            "index": 1,
            "pointer": "/services/1",
            "status": 409,
            "detail": "you already have a service named 'twin'",
        }
    ]
    # Another account's names are its own.
    other = make_client(make_account("other@example.com"))
    assert [s["name"] for s in registered(other, item("twin"), item("new"))] == ["twin", "new"]
    assert stored(db) == (3, 3)


def test_depends_on_names_stored_services_of_the_account_only(
    client: Any, db: Engine, make_client: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    (parent,) = registered(client, item("parent"))
    other = make_client(make_account("other@example.com"))
    (theirs,) = registered(other, item("theirs"))
    children = registered(client, item("a", depends_on=[parent["id"]]), item("b"))
    assert children[0]["depends_on"] == [parent["id"]]
    # Another account's service, and an item of the same batch (its id is not known yet).
    next_id = children[1]["id"] + 1
    errors = refused(
        batch(
            client,
            item("c"),
            item("d", depends_on=[theirs["id"]]),
            item("e", depends_on=[next_id]),
        ),
        400,
    )
    assert [(e["index"], e["detail"]) for e in errors] == [
        (1, f"depends_on names no service of yours with id {theirs['id']}"),
        (2, f"depends_on names no service of yours with id {next_id}"),
    ]
    assert stored(db) == (4, 4)


def test_the_per_account_limit_counts_the_whole_batch(
    make_api: Callable[..., Any], account: Account, db: Engine
) -> None:
    client = make_api(account, max_services_per_user=5)
    registered(client, item("a"), item("b"))
    response = batch(client, item("c"), item("d"), item("e"), item("f"))
    assert refused(response, 403) == []
    assert response.json()["detail"] == (
        "an account may have at most 5 services: it has 2, and 4 more would make 6; "
        "register at most 3"
    )
    assert stored(db) == (2, 2)
    registered(client, item("c"), item("d"), item("e"))
    assert_problem(batch(client, item("f")), 403, "at most 5 services; delete one first")
    assert stored(db) == (5, 5)


def test_the_target_policy_refuses_items_by_index(
    make_api: Callable[..., Any], account: Account, db: Engine
) -> None:
    client = make_api(account, allow_private_targets=False)
    response = batch(
        client,
        item("public", url=f"http://{PUBLIC_IP}/"),
        item("loopback", url="http://127.0.0.1:8080/"),
        item(
            "hook",
            url=f"http://{PUBLIC_IP}/",
            alert_policy={"webhooks": [{"url": "http://10.0.0.1/"}]},
        ),
    )
    errors = refused(response, 403)
    assert [(e["index"], e["status"]) for e in errors] == [(1, 403), (2, 403)]
    assert "127.0.0.1" in errors[0]["detail"] and "10.0.0.1" in errors[1]["detail"]
    # An invalid item besides: the batch is refused as invalid, each item with its own status.
    response = batch(
        client, item("loopback", url="http://127.0.0.1:8080/"), item("x", interval_seconds=0)
    )
    assert [e["status"] for e in refused(response, 400)] == [400]  # the contract's check first
    response = batch(
        client,
        item("loopback", url="http://127.0.0.1:8080/"),
        item("y", url=f"http://{PUBLIC_IP}/", depends_on=[77]),
    )
    assert [e["status"] for e in refused(response, 400)] == [403, 400]
    assert stored(db) == (0, 0)


# ---------------------------------------------------------------------------------------------
# Who may, and how much


def test_a_batch_needs_a_token_that_may_write(
    make_client: Callable[..., Any], client: Any, db: Engine
) -> None:
    anonymous = make_client()
    response = batch(anonymous, item("a"))
    assert_problem(response, 401, "")
    assert response.headers["www-authenticate"] == "Bearer"
    secret = client.post("/v1/tokens", json={"name": "ro", "read_only": True}).json()["token"]
    reader = make_client()
    response = reader.post(
        BATCH, json={"services": [item("a")]}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert_problem(response, 403, "read-only")
    writer = client.post("/v1/tokens", json={"name": "rw"}).json()["token"]
    response = reader.post(
        BATCH, json={"services": [item("a")]}, headers={"Authorization": f"Bearer {writer}"}
    )
    assert response.status_code == 201, response.text
    assert stored(db) == (1, 1)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"services": []}, "should be non-empty"),
        (
            {"services": [item(f"s{i}") for i in range(MAX_ITEMS + 1)]},
            "it breaks the rule max items 1000",
        ),
        ({}, "'services' is a required property"),
        ({"services": [item("a")], "dry_run": True}, "Additional properties"),
        ({"services": item("a")}, "is not of type 'array'"),
        ([item("a")], "is not of type 'object'"),
    ],
)
def test_a_batch_out_of_bounds_is_refused_as_a_whole(
    client: Any, db: Engine, body: Any, detail: str
) -> None:
    response = client.post(BATCH, json=body)
    assert refused(response, 400, detail) == []  # no item to blame
    assert stored(db) == (0, 0)


def test_a_batch_beyond_the_request_size_limit_is_413(client: Any, db: Engine) -> None:
    big = [item(f"s{i}", body="x" * 300) for i in range(MAX_ITEMS)]  # over 256 KiB
    response = client.post(BATCH, json={"services": big})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert stored(db) == (0, 0)


def test_only_post_is_served_at_the_batch_path(client: Any) -> None:
    response = client.get(BATCH)
    assert_problem(response, 405, "it serves POST")
    assert response.headers["allow"] == "POST"


# ---------------------------------------------------------------------------------------------
# Through the generated client


def test_the_generated_client_registers_a_batch(live_server: str, account: Account) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))
    generated = pytest.importorskip("statuschecker_client", reason="generate it: `make client`")
    from statuschecker_client.api.services import register_batch
    from statuschecker_client.models import (
        BatchProblem,
        ServiceBatch,
        ServiceBatchCreate,
        ServiceCreate,
    )

    client = generated.AuthenticatedClient(base_url=f"{live_server}/v1", token=account.token)
    body = ServiceBatchCreate(
        services=[ServiceCreate(name=f"gen-{i}", url="http://127.0.0.1:1/") for i in range(3)]
    )
    created = register_batch.sync(client=client, body=body)
    assert isinstance(created, ServiceBatch)
    assert [s.name for s in created.services] == ["gen-0", "gen-1", "gen-2"]
    again = register_batch.sync_detailed(client=client, body=body)
    assert again.status_code == 409
    assert isinstance(again.parsed, BatchProblem)
    assert [e.index for e in again.parsed.errors] == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# The curl example


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl examples need curl")
def test_the_curl_example_registers_a_batch_or_names_its_faults(
    live_server: str, account: Account, tmp_path: Path
) -> None:
    shell = Shell(live_server)
    assert shell.run("register-batch.sh", "a=http://127.0.0.1:1/").returncode == 1  # no TOKEN
    shell.export(TOKEN=account.token)
    created = shell.json("register-batch.sh", "web=http://127.0.0.1:1/", "db=tcp://127.0.0.1:5")
    assert [(s["name"], s["kind"]) for s in created["services"]] == [("web", "http"), ("db", "tcp")]

    refused = shell.run("register-batch.sh", "new=http://127.0.0.1:1/", "web=http://127.0.0.1:1/")
    assert refused.returncode == 22, refused.stderr
    problem = json.loads(refused.stdout)
    assert (problem["status"], problem["errors"]) == (
        409,
        [
            {
                "index": 1,
                "pointer": "/services/1",
                "status": 409,
                "detail": "you already have a service named 'web'",
            }
        ],
    )

    body = tmp_path / "batch.json"
    body.write_text(
        json.dumps({"services": [{"name": "hb", "heartbeat": {"interval_seconds": 60}}]})
    )
    (beat,) = shell.json("register-batch.sh", "-f", str(body))["services"]
    assert beat["kind"] == "heartbeat" and "*" not in beat["ping_url"]
    assert shell.run("register-batch.sh", "no-equals-sign").returncode == 2
    names = [s["name"] for s in shell.json("list.sh")["data"]]
    assert names == ["web", "db", "hb"]
