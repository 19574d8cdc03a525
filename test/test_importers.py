"""`statuschecker import gatus|kuma`: Gatus's own configuration files (its repository's example
configs and every example of its README, in test/data/gatus) and an Uptime Kuma database made
from Uptime Kuma's own template and migrations (test/data/kuma/schema.sql), and its 1.x
backup, become configuration files that apply cleanly, with a report of what did not map."""

from __future__ import annotations

import json
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from localserver import ServingThread
from peers import run

from statuschecker.checks import run_check, validate_options
from statuschecker.cli import main
from statuschecker.config import gatus, kuma
from statuschecker.config.files import load
from statuschecker.model import CheckLimits, CheckSpec

DATA = Path(__file__).resolve().parent / "data"
GATUS = DATA / "gatus"


def gatus_configs() -> list[tuple[str, dict[str, Any]]]:
    readme = yaml.safe_load_all((GATUS / "readme-examples.yaml").read_text())
    files = [
        (p.name, yaml.safe_load(p.read_text()))
        for p in sorted(GATUS.glob("*.yaml"))
        if p.name != "readme-examples.yaml"
    ]
    return files + [(f"README example {i}", doc) for i, doc in enumerate(readme)]


def applied(client: Any, text: str, tmp_path: Path) -> dict[str, Any]:
    """Apply a configuration file's text (as `statuschecker apply` reads it); the plan."""
    path = tmp_path / "imported.yaml"
    path.write_text(text)
    answer = client.post("/v1/config:apply?prune=true", json=load([path]).document)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_every_gatus_example_applies_cleanly_and_reports_what_it_leaves(
    client: Any, tmp_path: Path
) -> None:
    services = reported = 0
    for source, config in gatus_configs():
        imported = gatus.convert(config)
        plan = applied(client, imported.yaml(source), tmp_path)
        declared = len(imported.document["services"])
        assert (
            plan["unchanged"]["services"]
            + sum(c["kind"] == "service" and c["action"] != "delete" for c in plan["changes"])
            == declared
        ), source
        services += declared
        reported += len(imported.report)
    assert services >= 100 and reported >= 100  # 88 files and examples, most of them mapped


def test_gatus_conditions_become_expectations(tmp_path: Path) -> None:
    imported = gatus.convert(yaml.safe_load((GATUS / "config.yaml").read_text()))
    services = {s["name"]: s for s in imported.document["services"]}
    assert services["front-end"] == {
        "name": "front-end",
        "url": "https://twin.sh/health",
        "group": "core",
        "interval_seconds": 300,
        "expected_status": [200],
        "json_field": "status",
        "json_value": "UP",
        "max_response_time_ms": 150,
    }
    assert services["example-dns-query"] == {
        "name": "example-dns-query",
        "url": "dns://example.com",
        "resolver": "8.8.8.8",
        "record_type": "A",
        "interval_seconds": 300,
    }
    assert imported.report == [
        "endpoints[1] (back-end): condition '[CERTIFICATE_EXPIRATION] > 48h'",
        "endpoints[4] (example-dns-query): condition '[BODY] == pat(*.*.*.*)'",
        "endpoints[6] (check-domain-expiration): condition '[DOMAIN_EXPIRATION] > 720h'",
    ]
    text = imported.yaml("config.yaml")
    assert text.startswith("# Imported from config.yaml by statuschecker.\n# Not carried over (3):")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("[STATUS] == any(200, 429)", {"expected_status": [200, 429]}),
        ("[STATUS] < 300", {"expected_status": ["100-299"]}),
        ("[STATUS] >= 400", {"expected_status": ["400-599"]}),
        ("[BODY].data[0].id == 1", {"json_field": "data.0.id", "json_value": 1}),
        ("[BODY] == pat(*<h1>Example Domain</h1>*)", {"body_contains": "<h1>Example Domain</h1>"}),
        ("[CONNECTED] == true", {}),
        ("[STATUS] != 500", None),
        ("len([BODY].data) < 5", None),
        ("[IP] == 127.0.0.1", None),
    ],
)
def test_each_gatus_condition_maps_or_is_reported(condition: str, expected: dict | None) -> None:
    config = {"endpoints": [{"name": "a", "url": "https://a.test/", "conditions": [condition]}]}
    imported = gatus.convert(config)
    (service,) = imported.document["services"]
    mapped = {k: v for k, v in service.items() if k not in ("name", "url", "interval_seconds")}
    if expected is None:
        assert imported.report == [f"endpoints[0] (a): condition {condition!r}"]
        assert mapped == {}
    else:
        assert (imported.report, mapped) == ([], expected)


class Items(BaseHTTPRequestHandler):
    """The README suite's API: POST /items → 201 {"id"}; PUT, GET (price 24.99 once put) and
    DELETE (204) /items/<id>."""

    price = 19.99

    def do_POST(self) -> None:
        self._answer(201, {"id": "7"}, "/items")

    def do_PUT(self) -> None:
        Items.price = 24.99
        self._answer(200, {})

    def do_GET(self) -> None:
        self._answer(200, {"price": Items.price})

    def do_DELETE(self) -> None:
        self._answer(204, None)

    def _answer(self, status: int, document: Any, path: str = "/items/7") -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != path:
            status, document = 404, {}
        data = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


def test_a_gatus_suite_becomes_a_journey_that_runs(client: Any, tmp_path: Path) -> None:
    """The README's suite: its endpoints become steps, `store` captures, `[CONTEXT].x` a
    `{{x}}` or the context's starting value; the journey applies, and runs against a local
    items API to its end."""
    (suite_doc,) = [d for _, d in gatus_configs() if isinstance(d, dict) and "suites" in d]
    imported = gatus.convert(suite_doc)
    (journey,) = [s for s in imported.document["services"] if "steps" in s]
    steps = {"steps": journey["steps"]}
    assert {k: v for k, v in journey.items() if k != "steps"} == {
        "name": "item-crud-workflow",
        "url": "journey+https://api.example.com",
        "group": "api-tests",
        "interval_seconds": 300,
        "timeout_seconds": 60.0,
    }
    assert [(s["name"], s["method"], s["url"]) for s in journey["steps"]] == [
        ("create-item", "POST", "/items"),
        ("update-item", "PUT", "/items/{{itemId}}"),
        ("get-item", "GET", "/items/{{itemId}}"),
        ("delete-item", "DELETE", "/items/{{itemId}}"),
    ]
    create, *_, read, _ = journey["steps"]
    assert create["body"] == '{"name": "Test Item", "price": "19.99"}'  # the context's value
    assert (create["captures"], create["expected_status"]) == ({"itemId": {"json": "id"}}, [201])
    assert (read["json_field"], read["json_value"]) == ("price", 24.99)
    assert [
        line for line in imported.report if "item-crud-workflow" in line and "slack" not in line
    ] == [
        "suites[0] (item-crud-workflow).endpoints[0]: condition '[BODY].price == [CONTEXT].price':"
        " it compares with the context",
        "suites[0] (item-crud-workflow).endpoints[0] (create-item): condition 'len([BODY].id) > 0'",
        "suites[0] (item-crud-workflow).endpoints[3]: always-run: a journey stops at its first"
        " failing step",
    ]
    plan = applied(client, imported.yaml("suite"), tmp_path)
    assert any(c["name"] == "item-crud-workflow" for c in plan["changes"])
    serving = ServingThread(ThreadingHTTPServer(("127.0.0.1", 0), Items), "items")
    try:
        local = f"journey+http://127.0.0.1:{serving.server.server_address[1]}"
        spec = CheckSpec(local, 5, CheckLimits(), validate_options(local, steps))
        result, _ = run(run_check, spec)
    finally:
        serving.close()
    assert (result.up, result.error) == (True, None), result
    assert [s["status_code"] for s in json.loads(result.steps or "[]")] == [201, 200, 200, 204]


def test_the_gatus_command_reads_a_folder_of_files_and_reports_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "services.yaml"
    status = main(["import", "gatus", str(GATUS / "multiple-config-files"), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 0
    names = [s["name"] for s in yaml.safe_load(out.read_text())["services"]]
    assert "check-if-api-is-healthy" in names and "check-if-website-is-pingable" in names
    assert "not carried over: ui: Gatus's own settings, not a service's" in err
    assert "# Not carried over" in out.read_text()


def kuma_database(path: Path) -> Path:
    """An Uptime Kuma database (its schema as its template and migrations make it) with the
    monitors, tags, notifications and maintenance an operator would have made in its UI."""
    db = sqlite3.connect(path)
    db.executescript((DATA / "kuma" / "schema.sql").read_text())
    db.execute("INSERT INTO user (id, username, password) VALUES (1, 'admin', 'x')")
    notifications = [
        (
            1,
            "Ops hook",
            {
                "type": "webhook",
                "webhookURL": "https://hooks.example.com/kuma",
                "webhookContentType": "json",
            },
        ),
        (
            2,
            "Team Slack",
            {"type": "slack", "slackwebhookURL": "https://hooks.slack.com/services/T/B/X"},
        ),
        (3, "SMS", {"type": "clicksendsms", "clicksendsmsLogin": "me"}),
        (4, "_Ops hook", {"type": "apprise", "appriseNotificationURL": "json://127.0.0.1:9/"}),
    ]
    for nid, name, config in notifications:
        db.execute(
            "INSERT INTO notification (id, name, active, user_id, config) VALUES (?, ?, 1, 1, ?)",
            (nid, name, json.dumps({"name": name, **config})),
        )
    monitors = [
        dict(id=1, name="Shop", type="group"),
        dict(
            id=2,
            name="Web",
            type="http",
            url="https://shop.example.com/",
            parent=1,
            maxretries=2,
            retry_interval=30,
            accepted_statuscodes_json='["200-299","304"]',
            timeout=24,
        ),
        dict(
            id=3,
            name="Login",
            type="keyword",
            url="https://shop.example.com/login",
            keyword="Sign in",
            method="POST",
            body='{"a":1}',
            headers='{"X-Test":"1"}',
            basic_auth_user="bob",
            basic_auth_pass="secret",
            parent=1,
        ),
        dict(
            id=4,
            name="API",
            type="json-query",
            url="https://api.example.com/health",
            json_path="$.status",
            expected_value="ok",
            maxredirects=0,
        ),
        dict(id=5, name="DB", type="port", hostname="db.example.com", port=5432, active=0),
        dict(id=6, name="Router", type="ping", hostname="192.0.2.1", interval=120),
        dict(
            id=7,
            name="MX",
            type="dns",
            hostname="example.com",
            dns_resolve_type="MX",
            dns_resolve_server="1.1.1.1",
            port=53,
        ),
        dict(id=8, name="Backup", type="push", push_token="abc123", interval=3600),
        dict(id=9, name="Cache", type="redis", database_connection_string="redis://cache:6379"),
        dict(
            id=10,
            name="Inverted",
            type="keyword",
            url="https://a.example.com/",
            keyword="error",
            invert_keyword=1,
            upside_down=1,
        ),
        dict(
            id=11,
            name="Orders",
            type="postgres",
            database_connection_string="postgres://app:pw@db.example.com:5432/orders",
            database_query="SELECT count(*) > 0 FROM orders",
        ),
        dict(id=12, name="Mongo", type="mongodb", database_connection_string="mongodb://m:27017"),
    ]
    for monitor in monitors:
        row = {"interval": 60, "active": 1, "user_id": 1, "maxretries": 0, **monitor}
        columns = ", ".join(row)
        db.execute(
            f"INSERT INTO monitor ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    db.execute(
        "INSERT INTO tag (id, name, color) VALUES (1, 'env', '#000'), (2, 'critical path', '#f00')"
    )
    db.execute(
        "INSERT INTO monitor_tag (monitor_id, tag_id, value) VALUES (2, 1, 'prod'), (2, 2, ''),"
        " (4, 1, 'prod')"
    )
    db.execute(
        "INSERT INTO monitor_notification (id, monitor_id, notification_id) VALUES"
        " (1, 2, 1), (2, 2, 2), (3, 4, 3)"
    )
    db.execute(
        "INSERT INTO maintenance (id, title, description, user_id, active, strategy, start_time,"
        " end_time, weekdays, timezone) VALUES (1, 'Sunday patching', '', 1, 1,"
        " 'recurring-weekday', '02:00', '03:30', '[7]', 'Europe/Berlin')"
    )
    db.execute(
        "INSERT INTO maintenance (id, title, description, user_id, active, strategy, start_date,"
        " end_date) VALUES (2, 'Migration', 'moving racks', 1, 1, 'single',"
        " '2030-01-01 22:00:00', '2030-01-02 02:00:00')"
    )
    db.execute(
        "INSERT INTO maintenance (id, title, description, strategy) VALUES (3, 'Now', '', 'manual')"
    )
    db.execute(
        "INSERT INTO monitor_maintenance (monitor_id, maintenance_id) VALUES (5, 1), (2, 2), (5, 3)"
    )
    db.commit()
    db.close()
    return path


def test_an_uptime_kuma_database_becomes_a_configuration_that_applies(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = kuma_database(tmp_path / "kuma.db")
    out = tmp_path / "kuma.yaml"
    assert main(["import", "kuma", str(database), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    document = yaml.safe_load(out.read_text())
    services = {s["name"]: s for s in document["services"]}
    assert list(services) == [
        "Web", "Login", "API", "DB", "Router", "MX", "Backup", "Cache", "Inverted", "Orders"
    ]  # fmt: skip
    assert services["Web"] == {
        "name": "Web",
        "url": "https://shop.example.com/",
        "expected_status": ["200-299", 304],
        "group": "Shop",
        "interval_seconds": 60,
        "timeout_seconds": 24.0,
        "confirm_down_after": 3,
        "retry_interval_seconds": 30,
        "tags": ["critical-path", "env:prod"],
        "receivers": ["ops-hook", "team-slack"],
    }
    login = services["Login"]
    assert (login["method"], login["body"], login["body_contains"]) == (
        "POST",
        '{"a":1}',
        "Sign in",
    )
    assert login["headers"] == {"X-Test": "1", "Authorization": "Basic Ym9iOnNlY3JldA=="}
    assert (services["API"]["json_field"], services["API"]["json_value"]) == ("status", "ok")
    assert services["API"]["follow_redirects"] is False
    assert (services["DB"]["url"], services["DB"]["paused"]) == ("tcp://db.example.com:5432", True)
    assert services["MX"] == {
        "name": "MX",
        "url": "dns://example.com",
        "record_type": "MX",
        "resolver": "1.1.1.1",
        "interval_seconds": 60,
    }
    assert services["Backup"]["heartbeat"] == {"interval_seconds": 3600}
    assert services["Cache"]["url"] == "redis://cache:6379"
    assert (services["Orders"]["url"], services["Orders"]["query"]) == (
        "postgresql://app:pw@db.example.com:5432/orders",
        "SELECT count(*) > 0 FROM orders",
    )
    assert document["receivers"]["ops-hook-2"] == {"apprise_urls": ["json://127.0.0.1:9/"]}
    assert document["receivers"]["ops-hook"] == {
        "webhooks": [{"url": "https://hooks.example.com/kuma"}]
    }
    windows = {w["title"]: w for w in document["maintenances"]}
    assert windows["Sunday patching"] == {
        "title": "Sunday patching",
        "services": ["DB"],
        "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0",
        "duration_seconds": 5400,
        "timezone": "Europe/Berlin",
    }
    assert windows["Migration"]["starts_at"] == "2030-01-01T22:00:00Z"
    for line in (
        "monitor 12 (Mongo): the whole monitor: statuschecker does not check 'mongodb'",
        "monitor 10 (Inverted): an inverted keyword ('error' must be absent)",
        "monitor 10 (Inverted): upside-down mode",
        "monitor 8 (Backup): its push token: statuschecker gives the heartbeat a ping URL",
        "notification 3 (SMS): a clicksendsms notification: no receiver of statuschecker's "
        "takes it",
        "maintenance 3 (Now): a manual window",
        "maintenance 2 (Migration): description",
    ):
        assert f"not carried over: {line}" in err
    plan = applied(client, out.read_text(), tmp_path)
    assert [c["name"] for c in plan["changes"]] == [*services, "Sunday patching", "Migration"]


def test_an_uptime_kuma_1_backup_becomes_a_configuration_that_applies(
    client: Any, tmp_path: Path
) -> None:
    backup = {
        "version": "1.23.16",
        "notificationList": [
            {
                "id": 1,
                "name": "Hook",
                "config": json.dumps({"type": "webhook", "webhookURL": "https://h.example.com/"}),
                "active": 1,
                "userId": 1,
                "isDefault": False,
            },
        ],
        "monitorList": [
            {
                "id": 1,
                "name": "Site",
                "type": "http",
                "url": "https://site.example.com/",
                "method": "GET",
                "interval": 60,
                "retryInterval": 60,
                "maxretries": 0,
                "active": True,
                "ignoreTls": False,
                "upsideDown": False,
                "maxredirects": 10,
                "accepted_statuscodes": ["200-299"],
                "notificationIDList": {"1": True},
                "tags": [{"name": "team", "value": "web", "color": "#fff"}],
                "pushToken": None,
                "description": None,
                "forceInactive": False,
                "childrenIDs": [],
                "pathName": "Site",
                "parent": None,
                "weight": 2000,
                "timeout": 48,
                "expiryNotification": False,
            },
            {
                "id": 2,
                "name": "Sync",
                "type": "push",
                "interval": 300,
                "pushToken": "t0k3n",
                "active": True,
                "accepted_statuscodes": ["200-299"],
                "notificationIDList": {},
                "tags": [],
            },
        ],
    }
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(backup))
    imported = kuma.convert(kuma.read(path))
    services = {s["name"]: s for s in imported.document["services"]}
    assert services["Site"]["receivers"] == ["hook"] and services["Site"]["tags"] == ["team:web"]
    assert services["Sync"]["heartbeat"] == {"interval_seconds": 300}
    plan = applied(client, imported.yaml(str(path)), tmp_path)
    assert [c["action"] for c in plan["changes"]] == ["create", "create"]


def test_what_is_not_an_uptime_kuma_file_is_refused_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"monitors": []}')
    assert main(["import", "kuma", str(path)]) == 1
    assert "not an Uptime Kuma backup (it has no monitorList)" in capsys.readouterr().err
