"""The curl examples in test/scripts/ run against the real app served by uvicorn on 127.0.0.1,
the way a person runs them: sign up, `export TOKEN=$(login.sh ...)`, then everything else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts import PASSWORD, Account
from pydantic import SecretStr
from targets import Target
from waiting import wait_until

from statuschecker.system.config import Settings

SCRIPTS = Path(__file__).resolve().parent / "scripts"
EXPECTED = {
    "signup.sh",
    "login.sh",
    "me.sh",
    "token.sh",
    "tokens.sh",
    "revoke.sh",
    "register.sh",
    "register-batch.sh",
    "list.sh",
    "get.sh",
    "update.sh",
    "pause.sh",
    "delete.sh",
    "events.sh",
    "ticks.sh",
    "stats.sh",
    "summary.sh",
    "alerts.sh",
    "health.sh",
    "metrics.sh",
}
PUBLIC = {"signup.sh", "login.sh", "health.sh", "metrics.sh"}
"""The examples that work without TOKEN (metrics.sh takes METRICS_TOKEN instead)."""
METRICS_TOKEN = "a scrape token for the curl examples"
EMAIL = "me@example.com"

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None,
    reason="the curl examples need curl and bash on PATH (.ci/run installs curl)",
)


class Shell:
    """A person's shell running the examples: BASE_URL set, TOKEN and the like exported as the
    session goes on, no proxy in the way."""

    def __init__(self, base_url: str) -> None:
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.lower().endswith("_proxy") and name not in {"TOKEN", "METRICS_TOKEN"}
        }
        self.env["BASE_URL"] = base_url

    def export(self, **variables: str) -> None:
        """`export NAME=value` for the scripts run after."""
        self.env.update(variables)

    def run(self, script: str, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        """Run one example script, with `variables` set for this run only (`TOKEN=... list.sh`)."""
        return subprocess.run(
            [str(SCRIPTS / script), *args],
            env={**self.env, **variables},
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )

    def ok(self, script: str, *args: str, **variables: str) -> str:
        """A script's output; fails the test with its stderr when it fails."""
        done = self.run(script, *args, **variables)
        assert done.returncode == 0, f"{script} {args} failed ({done.returncode}): {done.stderr}"
        return done.stdout

    def json(self, script: str, *args: str, **variables: str) -> Any:
        """A script's output parsed as JSON."""
        return json.loads(self.ok(script, *args, **variables))

    def http_error(self, status: int, script: str, *args: str, **variables: str) -> str:
        """Run a script that the server must refuse with `status`: curl -f exits with 22 and
        names the status; the script prints nothing. Its stderr."""
        done = self.run(script, *args, **variables)
        assert done.returncode == 22, f"{script} {args}: {done.returncode} {done.stderr}"
        assert f"error: {status}" in done.stderr
        assert done.stdout.strip() == ""
        return done.stderr


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with /metrics behind a token, as an operator would run it."""
    return settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})


@pytest.fixture
def shell(live_server: str) -> Shell:
    """A shell whose BASE_URL is the served app."""
    return Shell(live_server)


@pytest.fixture
def target() -> Iterator[Target]:
    """A local HTTP target that answers 200."""
    with Target("up") as running:
        yield running


def test_there_is_an_executable_example_per_endpoint() -> None:
    present = {p.name for p in SCRIPTS.glob("*.sh")}
    assert not EXPECTED - present, "missing examples"
    for name in EXPECTED:
        path = SCRIPTS / name
        text = path.read_text()
        assert os.access(path, os.X_OK), f"{name} is not executable"
        assert "set -euo pipefail" in text
        if name not in PUBLIC:
            assert '-H "Authorization: Bearer $TOKEN"' in text, f"{name} sends no token"


def test_the_examples_walk_through_every_endpoint(shell: Shell, target: Target) -> None:
    me = shell.json("signup.sh", EMAIL, PASSWORD)
    assert (me["email"], me["is_admin"]) == (EMAIL, True)  # the first account is admin
    login = shell.ok("login.sh", EMAIL, PASSWORD)
    token = login.removesuffix("\n")
    assert login == f"{token}\n" and token.count(".") == 2  # the JWT alone, for $(login.sh ...)
    shell.export(TOKEN=token)
    assert shell.json("me.sh") == me

    created = shell.json("register.sh", "curl-example", target.url + "health", "1")
    sid = str(created["id"])
    assert created["name"] == "curl-example"
    assert created["url"] == target.url + "health"
    assert created["interval_seconds"] == 1
    assert created["kind"] == "http"
    assert created["paused"] is False
    assert (created["owner_id"], created["public"]) == (me["id"], False)

    got = shell.json("get.sh", sid)
    assert (got["id"], got["name"]) == (created["id"], "curl-example")

    listed = shell.json("list.sh", "name=curl-example&limit=10")
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert listed["next_cursor"] is None

    updated = shell.json("update.sh", sid, '{"interval_seconds": 2, "timeout_seconds": 1.5}')
    assert (updated["interval_seconds"], updated["timeout_seconds"]) == (2, 1.5)
    assert shell.json("update.sh", sid, '{"public": true}')["public"] is True

    ticks = wait_until(lambda: shell.json("ticks.sh", sid, "limit=5")["data"])
    assert ticks[0]["up"] is True
    assert ticks[0]["status_code"] == 200
    assert ticks[0]["error"] is None
    assert ticks[0]["response_time_ms"] > 0
    assert target.hits >= 1

    paused = shell.json("pause.sh", sid)
    assert paused["paused"] is True
    assert paused["status"] == "paused"
    assert paused["metric"]["tick_count"] >= 1
    assert paused["latest_event"]["event"] == "uptime"

    events = shell.json("events.sh", sid)["data"]
    assert events[0]["event"] == "uptime"
    assert events[0]["date_ended"] is None
    assert events[0]["id"] == paused["latest_event"]["id"]

    assert shell.json("pause.sh", sid, "false")["paused"] is False

    stats = shell.json("stats.sh", sid, "window_seconds=3600")
    assert stats["checks"] >= 1 and stats["successful"] == stats["checks"]
    assert stats["availability_percent"] == 100.0
    assert stats["status_codes"] == {"200": stats["checks"]}
    assert stats["percentiles"] == "exact"
    summary = shell.json("summary.sh", sid)["data"]
    assert [w["window"] for w in summary] == ["10m", "1h", "24h", "7d", "30d", "365d"]
    assert summary[-1]["checks"] >= stats["checks"]
    assert shell.json("alerts.sh") == {"data": [], "next_cursor": None}
    assert shell.json("alerts.sh", sid, "kind=down")["data"] == []

    # An API token for a dashboard: it reads, it cannot change anything, and revoked it is refused.
    reader = shell.json("token.sh", "dashboard", "read-only")
    assert (reader["name"], reader["read_only"], reader["expires_at"]) == ("dashboard", True, None)
    assert reader["token"].startswith("sc_")
    shown_once = {name: value for name, value in reader.items() if name != "token"}
    assert shell.json("tokens.sh") == {"data": [shown_once], "next_cursor": None}
    as_reader = {"TOKEN": reader["token"]}
    assert [s["id"] for s in shell.json("list.sh", **as_reader)["data"]] == [created["id"]]
    assert shell.json("me.sh", **as_reader) == me
    shell.http_error(403, "pause.sh", sid, **as_reader)
    shell.http_error(403, "token.sh", "escalate", **as_reader)
    assert shell.json("get.sh", sid)["paused"] is False  # the refused change did not happen
    revoked = shell.ok("revoke.sh", str(reader["id"]))
    assert revoked == f"revoked {reader['id']} (HTTP 204)\n"
    shell.http_error(401, "list.sh", **as_reader)
    shell.http_error(404, "revoke.sh", str(reader["id"]))
    assert shell.json("tokens.sh") == {"data": [], "next_cursor": None}

    health = shell.json("health.sh", TOKEN="")  # no token needed
    assert health == {"status": "ok", "database": "ok", "poller": "ok", "buffered_results": 0}

    shell.http_error(401, "metrics.sh")  # this server asks for its metrics token
    shell.export(METRICS_TOKEN=METRICS_TOKEN)
    metrics = shell.ok("metrics.sh")
    assert "# TYPE statuschecker_schedule_lag_seconds histogram" in metrics
    assert 'statuschecker_checks_total{location="default",result="up"}' in metrics
    up_line = f'statuschecker_service_up{{service_id="{sid}",service_name="curl-example"}} 1.0'
    filtered = shell.ok("metrics.sh", "^statuschecker_service_up").splitlines()
    assert up_line in filtered
    assert all(line.startswith("statuschecker_service_up") for line in filtered)

    assert shell.ok("delete.sh", sid) == f"deleted {sid} (HTTP 204)\n"
    shell.http_error(404, "get.sh", sid)
    assert f'service_id="{sid}"' not in shell.ok("metrics.sh")


def test_the_examples_fail_loudly_on_bad_input(shell: Shell, account: Account) -> None:
    for script in sorted(EXPECTED - PUBLIC):  # no TOKEN: a hint, and no request at all
        done = shell.run(script, "1")
        assert done.returncode == 1, script
        assert "TOKEN: log in first: export TOKEN=$(test/scripts/login.sh" in done.stderr, script
        assert done.stdout == "", script
    shell.http_error(401, "list.sh", TOKEN="not-a-token")
    shell.http_error(401, "login.sh", account.user.email, "a wrong password")
    shell.http_error(409, "signup.sh", account.user.email, PASSWORD)
    shell.http_error(400, "signup.sh", "short@example.com", "too short")

    shell.export(TOKEN=account.token)
    assert shell.json("me.sh")["email"] == account.user.email
    shell.http_error(400, "register.sh", "bad", "ftp://example.com/", "30")
    shell.http_error(404, "get.sh", "999")
    shell.http_error(404, "revoke.sh", "999")
    assert shell.run("get.sh").returncode == 1  # the id is required
    assert "usage: get.sh SERVICE_ID" in shell.run("get.sh").stderr
    assert shell.run("pause.sh", "1", "maybe").returncode == 2
    assert shell.run("token.sh", "ci", "read-write").returncode == 2
    assert shell.json("list.sh") == {"data": [], "next_cursor": None}
    assert shell.json("tokens.sh") == {"data": [], "next_cursor": None}
