"""`statuschecker` as a person runs it: a real process on an embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from accounts import PASSWORD
from prometheus_client.parser import text_string_to_metric_families
from targets import Target, closed_port_url, free_port
from waiting import wait_until

from statuschecker.system.embedded_db import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(pg_dir: Path) -> Iterator[Path]:
    """A data dir whose `statuschecker run` processes are killed and whose embedded server is
    stopped after the test, whatever happened (a failed assertion once left both running)."""
    yield pg_dir / "var"
    for process in _started.pop(pg_dir / "var", []):
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    EmbeddedPostgres(pg_dir / "var" / "postgres").stop()
    EmbeddedPostgres(pg_dir / "var" / "postgres-dev").stop()


def environment(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")}
    env.update(
        STATUSCHECKER_DATA_DIR=str(data_dir),
        STATUSCHECKER_PORT=str(port),
        STATUSCHECKER_LOG_FORMAT="json",
        **settings,
    )
    return env


_started: dict[Path, list[subprocess.Popen]] = {}


def start(data_dir: Path, port: int, **settings: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "statuschecker.cli", "run"],
        cwd=data_dir.parent,
        env=environment(data_dir, port, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _started.setdefault(data_dir, []).append(process)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"statuschecker exited early:\n{process.stdout.read()}")  # type: ignore[union-attr]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout=30, every=0.2)
    return process


def stop(process: subprocess.Popen, signum: int) -> list[dict]:
    process.send_signal(signum)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def sign_up_and_log_in(api: str) -> dict[str, str]:
    """Sign up through the process's API and log in; the Authorization header to send."""
    credentials = {"email": "cli@example.com", "password": PASSWORD}
    signed_up = httpx.post(f"{api}/users", json=credentials)
    assert signed_up.status_code == 201, signed_up.text
    logged_in = httpx.post(f"{api}/auth/token", json=credentials)
    assert logged_in.status_code == 200, logged_in.text
    return {"Authorization": f"Bearer {logged_in.json()['access_token']}"}


def watch_one_come_up(api: str, name: str) -> None:
    """Sign up through the API, register a service `name` checked every second against a
    local target, and wait until the pollers find it up."""
    auth = sign_up_and_log_in(api)
    with Target("up") as target:
        created = httpx.post(
            f"{api}/services",
            json={"name": name, "url": target.url, "interval_seconds": 1},
            headers=auth,
        )
        assert created.status_code == 201
        service_url = f"{api}/services/{created.json()['id']}"
        wait_until(lambda: httpx.get(service_url, headers=auth).json()["status"] == "up")


def test_run_serves_polls_and_stops_its_database_on_sigterm(data_dir: Path) -> None:
    port = free_port()
    # Sign-up for the first account only: /metrics serves the per-service series.
    process = start(
        data_dir, port, STATUSCHECKER_SIGNUP_POLICY="first-only", STATUSCHECKER_POLLER_PROCESSES="2"
    )
    watch_one_come_up(f"http://127.0.0.1:{port}/v1", "cli")
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'statuschecker_service_up{service_id="1",service_name="cli"} 1.0' in metrics
    # The pollers are two worker processes; their work sits on the API's /metrics, and each
    # family once (a worker's unused ping metrics are not served beside the API's own).
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    assert families["statuschecker_poller_processes"].samples[0].value == 2
    checks = families["statuschecker_checks"].samples
    up_here = {"result": "up", "location": "default"}
    assert sum(s.value for s in checks if s.labels == up_here) >= 1
    assert metrics.count("# TYPE statuschecker_ping_wait_seconds ") == 1
    logs = stop(process, signal.SIGTERM)

    events = [entry["event"] for entry in logs]
    assert "embedded_db.started" in events and "embedded_db.stopped" in events
    assert events.count("poller.process_started") == 2
    assert events.count("poller.stopped") == 2  # each worker wrote what it held
    assert "poller.process_died" not in events
    assert events.index("poller.processes_stopped") < events.index("embedded_db.stopped")
    assert "account.created" in events and "account.logged_in" in events
    state = next(e for e in logs if e["event"] == "service.state_changed")
    assert state["service_id"] == 1 and state["current"] == "uptime" and state["level"] == "info"
    assert not EmbeddedPostgres(data_dir / "postgres").is_running()


def test_run_in_one_process_polls_from_a_thread_and_stops_on_sigint(data_dir: Path) -> None:
    port = free_port()
    process = start(data_dir, port, STATUSCHECKER_SINGLE_PROCESS="true")
    watch_one_come_up(f"http://127.0.0.1:{port}/v1", "one")
    logs = stop(process, signal.SIGINT)

    events = [entry["event"] for entry in logs]
    assert "poller.process_started" not in events  # no worker process: the API's poller
    assert events.count("poller.started") == events.count("poller.stopped") == 1
    assert "embedded_db.stopped" in events


def test_a_later_start_recovers_the_server_a_killed_process_left(data_dir: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/v1"
    first = start(data_dir, port)
    auth = sign_up_and_log_in(api)
    kept = {"name": "kept", "url": closed_port_url()}
    assert httpx.post(f"{api}/services", json=kept, headers=auth).status_code == 201
    first.kill()
    first.communicate(timeout=10)
    server = EmbeddedPostgres(data_dir / "postgres")
    assert server.is_running()  # SIGKILL leaves the embedded server behind

    second = start(data_dir, port)
    listed = httpx.get(f"{api}/services", headers=auth)  # the signing key outlived the process
    assert listed.status_code == 200, listed.text
    assert [s["name"] for s in listed.json()["data"]] == ["kept"]
    logs = stop(second, signal.SIGINT)
    assert "embedded_db.adopted" in [entry["event"] for entry in logs]
    assert not server.is_running()


def test_db_commands_manage_a_development_server(data_dir: Path) -> None:
    env = environment(data_dir, 0)
    command = [sys.executable, "-m", "statuschecker.cli", "db"]
    dev = EmbeddedPostgres(data_dir / "postgres-dev")
    try:
        started = subprocess.run([*command, "start"], env=env, capture_output=True, text=True)
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("STATUSCHECKER_DATABASE_URL='postgresql+psycopg://")
        url = subprocess.run([*command, "url"], env=env, capture_output=True, text=True).stdout
        assert url.strip() in started.stdout
        migrated = subprocess.run(
            [sys.executable, "-m", "statuschecker.cli", "migrate"],
            env={**env, "STATUSCHECKER_DATABASE_URL": url.strip()},
            capture_output=True,
            text=True,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert "db.migrated" in migrated.stderr
        subprocess.run([*command, "stop"], env=env, check=True, capture_output=True)
        assert not dev.is_running()
    finally:
        dev.stop()


def test_a_server_whose_migrations_fail_exits_with_1_and_says_so(data_dir: Path) -> None:
    url = f"postgresql://statuschecker:hunter2@127.0.0.1:{free_port()}/statuschecker"
    done = subprocess.run(
        [sys.executable, "-m", "statuschecker.cli", "api"],
        env=environment(data_dir, 0, STATUSCHECKER_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.endswith("statuschecker: the migrations failed (exit status 1)\n")
    assert "Connection refused" in done.stderr  # the migrating process said why
    assert "hunter2" not in done.stderr


def test_poller_owns_the_embedded_database_and_shares_it_with_its_workers(
    data_dir: Path, tmp_path: Path
) -> None:
    """... and runs them `poller_nice` steps below its own CPU priority."""
    output = tmp_path / "poller.log"
    env = environment(
        data_dir, 0, STATUSCHECKER_POLLER_METRICS_PORT="0", STATUSCHECKER_POLLER_NICE="7"
    )
    with output.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "statuschecker.cli", "poller", "--processes", "1"],
            cwd=data_dir.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def entries() -> list[dict]:
            lines = output.read_text().splitlines()
            return [json.loads(line) for line in lines if line.startswith("{")]

        def events() -> list[str]:
            return [entry["event"] for entry in entries()]

        def worker_polling() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"exited early:\n{output.read_text()}")
            return "poller.started" in events()

        wait_until(worker_polling, timeout=30, every=0.2)
        assert EmbeddedPostgres(data_dir / "postgres").is_running()
        (worker,) = [e["pid"] for e in entries() if e["event"] == "poller.process_started"]
        parent_nice = os.getpriority(os.PRIO_PROCESS, process.pid)
        assert os.getpriority(os.PRIO_PROCESS, worker) == min(parent_nice + 7, 19)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, output.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    seen = events()
    assert seen.count("embedded_db.started") == 1  # the parent's; the worker connects to it
    assert "poller.metrics_listening" in seen and "poller.stopped" in seen
    assert seen.index("poller.stopped") < seen.index("embedded_db.stopped")
    assert not EmbeddedPostgres(data_dir / "postgres").is_running()
