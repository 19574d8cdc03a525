"""The curl examples in test/scripts/ run against the real app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from targets import Target
from waiting import wait_until

SCRIPTS = Path(__file__).resolve().parent / "scripts"
EXPECTED = {
    "register.sh",
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

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None,
    reason="the curl examples need curl and bash on PATH (.ci/run installs curl)",
)


@pytest.fixture
def base_url(live_server: str) -> str:
    """The served app the scripts talk to."""
    return live_server


@pytest.fixture
def target() -> Iterator[Target]:
    """A local HTTP target that answers 200."""
    with Target("up") as running:
        yield running


def run(base_url: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one example script with BASE_URL set (and no proxy in the way)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env={**env, "BASE_URL": base_url},
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def ok(base_url: str, script: str, *args: str) -> str:
    """A script's output; fails the test with its stderr when it fails."""
    done = run(base_url, script, *args)
    assert done.returncode == 0, f"{script} {args} failed ({done.returncode}): {done.stderr}"
    return done.stdout


def ok_json(base_url: str, script: str, *args: str) -> Any:
    """A script's output parsed as JSON."""
    return json.loads(ok(base_url, script, *args))


def test_there_is_an_executable_example_per_endpoint() -> None:
    present = {p.name for p in SCRIPTS.glob("*.sh")}
    assert not EXPECTED - present, "missing examples"
    for name in EXPECTED:
        path = SCRIPTS / name
        assert os.access(path, os.X_OK), f"{name} is not executable"
        assert "set -euo pipefail" in path.read_text()


def test_the_examples_walk_through_every_endpoint(base_url: str, target: Target) -> None:
    created = ok_json(base_url, "register.sh", "curl-example", target.url + "health", "1")
    sid = str(created["id"])
    assert created["name"] == "curl-example"
    assert created["url"] == target.url + "health"
    assert created["interval_seconds"] == 1
    assert created["kind"] == "http"
    assert created["paused"] is False

    got = ok_json(base_url, "get.sh", sid)
    assert (got["id"], got["name"]) == (created["id"], "curl-example")

    listed = ok_json(base_url, "list.sh", "name=curl-example&limit=10")
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert listed["next_cursor"] is None

    updated = ok_json(base_url, "update.sh", sid, '{"interval_seconds": 2, "timeout_seconds": 1.5}')
    assert (updated["interval_seconds"], updated["timeout_seconds"]) == (2, 1.5)

    ticks = wait_until(lambda: ok_json(base_url, "ticks.sh", sid, "limit=5")["data"])
    assert ticks[0]["up"] is True
    assert ticks[0]["status_code"] == 200
    assert ticks[0]["error"] is None
    assert ticks[0]["response_time_ms"] > 0
    assert target.hits >= 1

    paused = ok_json(base_url, "pause.sh", sid)
    assert paused["paused"] is True
    assert paused["status"] == "up"
    assert paused["metric"]["tick_count"] >= 1
    assert paused["latest_event"]["event"] == "uptime"

    events = ok_json(base_url, "events.sh", sid)["data"]
    assert events[0]["event"] == "uptime"
    assert events[0]["date_ended"] is None
    assert events[0]["id"] == paused["latest_event"]["id"]

    assert ok_json(base_url, "pause.sh", sid, "false")["paused"] is False

    stats = ok_json(base_url, "stats.sh", sid, "window_seconds=3600")
    assert stats["checks"] >= 1 and stats["successful"] == stats["checks"]
    assert stats["availability_percent"] == 100.0
    assert stats["status_codes"] == {"200": stats["checks"]}
    assert stats["percentiles"] == "exact"
    summary = ok_json(base_url, "summary.sh", sid)["data"]
    assert [w["window"] for w in summary] == ["10m", "1h", "24h", "7d", "30d", "365d"]
    assert summary[-1]["checks"] >= stats["checks"]
    assert ok_json(base_url, "alerts.sh") == {"data": [], "next_cursor": None}
    assert ok_json(base_url, "alerts.sh", sid, "kind=down")["data"] == []

    health = ok_json(base_url, "health.sh")
    assert health == {"status": "ok", "database": "ok", "poller": "ok"}

    metrics = ok(base_url, "metrics.sh")
    assert "# TYPE statuschecker_schedule_lag_seconds histogram" in metrics
    assert 'statuschecker_checks_total{result="up"}' in metrics
    up_line = f'statuschecker_service_up{{service_id="{sid}",service_name="curl-example"}} 1.0'
    filtered = ok(base_url, "metrics.sh", "^statuschecker_service_up").splitlines()
    assert up_line in filtered
    assert all(line.startswith("statuschecker_service_up") for line in filtered)

    assert ok(base_url, "delete.sh", sid).strip() == f"deleted {sid} (HTTP 204)"
    gone = run(base_url, "get.sh", sid)
    assert gone.returncode == 22  # curl -f: HTTP error
    assert "404" in gone.stderr
    assert f'service_id="{sid}"' not in ok(base_url, "metrics.sh")


def test_the_examples_fail_loudly_on_bad_input(base_url: str) -> None:
    bad_url = run(base_url, "register.sh", "bad", "ftp://example.com/", "30")
    assert bad_url.returncode == 22
    assert "400" in bad_url.stderr
    assert run(base_url, "get.sh").returncode != 0  # the id is required
    assert run(base_url, "pause.sh", "1", "maybe").returncode == 2
    assert ok_json(base_url, "list.sh") == {"data": [], "next_cursor": None}
