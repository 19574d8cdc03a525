"""Graceful shutdown of `statuschecker run` on its embedded PostgreSQL.

Requirement: SIGTERM finishes or abandons in-flight checks within a deadline, writes the
pending batch, releases leases, and stops the embedded database; a second start is clean.

Some services answer at once, others hang far longer than the shutdown deadline, so checks
are in flight at SIGTERM. The recorder flushes seldom, so a batch of finished checks is pending
at SIGTERM too: the test sends it a few seconds after a flush, when the next is seconds away.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from accounts import PASSWORD
from roles import STOP_SECONDS, Role, scrape, started_roles, wait_healthy
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from targets import Target, free_port
from waiting import wait_until

from statuschecker.system.embedded_db import EmbeddedPostgres, running_url

SHUTDOWN_SECONDS = 2.0  # poller_shutdown_seconds, as Role sets it
SHUTDOWN_MARGIN = 10.0  # uvicorn, the last batch, stopping PostgreSQL, on a slow machine
HEALTHY, HANGING = 5, 3
INTERVAL, TIMEOUT = 1, 0.5  # of the healthy services
# A lease ends when its result is written, so with a slow flush a service is checked every
# timeout + grace at best: a short grace keeps the healthy services near their interval.
LEASE_GRACE_SECONDS = 0.5
FLUSH_SECONDS = 6.0  # the recorder's period: finished checks wait that long to be written
SIGTERM_AFTER_FLUSH = 3.0  # seconds: the next flush is as far again away
START_SECONDS = 90  # a first start makes the database (initdb) on a slow machine
# What PostgreSQL logs when it starts on data a crash or a killed server left behind.
RECOVERY_LINES = ("not properly shut down", "automatic recovery", "was interrupted")


@pytest.fixture
def start_role(pg_dir: Path) -> Iterator[Callable[..., Role]]:
    """Starts `statuschecker` roles on their embedded database in `pg_dir`; afterwards kills
    whatever is left of them and stops that database, whatever happened."""
    try:
        with started_roles(None, pg_dir) as start:
            yield start
    finally:
        EmbeddedPostgres(pg_dir / "var" / "postgres").stop()


@pytest.fixture
def healthy() -> Iterator[Target]:
    """A target that answers at once, for the whole test (both starts)."""
    with Target("up") as target:
        yield target


@pytest.fixture
def hanging() -> Iterator[Target]:
    """A target that never answers (until the test ends)."""
    with Target("hang") as target:
        yield target


def test_sigterm_writes_the_pending_batch_and_stops_the_database(
    start_role: Callable[..., Role],
    pg_dir: Path,
    healthy: Target,
    hanging: Target,
    fault_report: Callable[..., None],
) -> None:
    pgdata = pg_dir / "var" / "postgres"
    settings = {
        "STATUSCHECKER_RECORDER_FLUSH_SECONDS": str(FLUSH_SECONDS),
        "STATUSCHECKER_RECORDER_BATCH_SIZE": "10000",
        "STATUSCHECKER_LEASE_GRACE_SECONDS": str(LEASE_GRACE_SECONDS),
        # One poller, whose pending batch and abandoned checks this test counts.
        "STATUSCHECKER_SINGLE_PROCESS": "true",
    }
    port = free_port()
    first = start_role("run", STATUSCHECKER_PORT=str(port), **settings)
    base = wait_healthy(first, port, START_SECONDS)
    auth = sign_up(base)
    healthy_ids = [
        register(base, auth, f"healthy-{i}", f"{healthy.url}{i}", INTERVAL, TIMEOUT)
        for i in range(HEALTHY)
    ]
    hanging_ids = [
        register(base, auth, f"hanging-{i}", f"{hanging.url}{i}", 60, timeout=30)
        for i in range(HANGING)
    ]
    url = running_url(pgdata)
    assert url is not None
    engine = create_engine(url, poolclass=NullPool)
    try:

        def flushed() -> bool:
            with engine.connect() as conn:
                return len(last_ticks(conn, healthy_ids)) == HEALTHY

        wait_until(lambda: first.alive() and flushed(), timeout=30, every=0.1)
        flushed_at = time.monotonic()
        wait_until(lambda: hanging.hits >= HANGING, timeout=15)  # all of them in flight
        time.sleep(max(flushed_at + SIGTERM_AFTER_FLUSH - time.monotonic(), 0))
        with engine.connect() as conn:
            ticks_before = tick_count(conn)
            last_before = last_ticks(conn, healthy_ids)
    finally:
        engine.dispose()
    pending = scrape(f"http://127.0.0.1:{port}/metrics")[
        ("statuschecker_poller_pending_results", ())
    ]
    assert pending >= HEALTHY  # finished checks wait for the next flush

    sigterm_at = datetime.now(UTC)
    started = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=STOP_SECONDS) == 0, first.log_file.read_text()
    shutdown_seconds = time.monotonic() - started

    assert shutdown_seconds < SHUTDOWN_SECONDS + SHUTDOWN_MARGIN
    events = [entry["event"] for entry in first.logs()]
    (abandoned,) = first.events("poller.abandoned_checks")
    assert abandoned["count"] == HANGING
    assert "poller.unwritten_results" not in events
    assert events.index("poller.stopped") < events.index("embedded_db.stopped")
    assert first.events("statuschecker.stopped")[0]["reason"] == "SIGTERM"
    assert postgres_gone(pgdata)

    # What the first run left, seen on the database started alone.
    log_seen = pg_log_size(pgdata)
    with EmbeddedPostgres(pgdata) as server:
        engine = create_engine(server.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                ticks_after = tick_count(conn)
                last = last_ticks(conn, healthy_ids)
                hanging_ticks = conn.execute(
                    text("SELECT count(*) FROM service_ticks WHERE service_id = ANY(:ids)"),
                    {"ids": hanging_ids},
                ).scalar_one()
                leased = dict(
                    conn.execute(
                        text("SELECT id, lease_owner FROM services WHERE lease_owner IS NOT NULL")
                    )
                    .tuples()
                    .all()
                )
        finally:
            engine.dispose()
    assert postgres_gone(pgdata)
    assert_clean_start(pgdata, log_seen)

    # The pending batch was written: each healthy service has checks newer than the last
    # flush before SIGTERM, the last from about the time of SIGTERM.
    assert ticks_after - ticks_before >= pending
    assert all(last[i] > last_before[i] for i in healthy_ids), (last_before, last)
    oldest_last = min(last.values())
    assert oldest_last >= sigterm_at - timedelta(seconds=INTERVAL + 1.0), (sigterm_at, last)
    assert hanging_ticks == 0  # an abandoned check is no result
    assert not set(leased) & set(healthy_ids)  # the batch written released its leases

    # A second start is clean: no stale pid file, no server to adopt, no recovery.
    log_seen = pg_log_size(pgdata)
    started = time.monotonic()
    second = start_role("run", STATUSCHECKER_PORT=str(port), **settings)
    wait_healthy(second, port, START_SECONDS)
    second_start_seconds = time.monotonic() - started
    listed = httpx.get(f"{base}/services", headers=auth, timeout=10)  # signing key kept
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["data"]) == HEALTHY + HANGING
    startup = second.logs()
    assert second.stop() == 0
    assert postgres_gone(pgdata)
    assert_clean_start(pgdata, log_seen)
    startup_events = [entry["event"] for entry in startup]
    assert "embedded_db.started" in startup_events
    assert not {"embedded_db.adopted", "embedded_db.stale_pid_removed"} & set(startup_events)
    # With the default open sign-up, the advice that per-service series are withheld is due.
    advice = {"metrics.service_series_withheld"}
    troubles = [
        e
        for e in startup
        if e.get("level") in ("warning", "error", "critical") and e["event"] not in advice
    ]
    assert troubles == []
    # The second start logs what the first did on a fresh data directory, nothing more and
    # nothing less (threads log in either order, so each start is looked for in the other run).
    assert started_up(startup) <= logged(first.logs())
    assert started_up(first.logs()) <= logged(startup)

    fault_report(
        "SIGTERM with checks in flight (statuschecker run, embedded database)",
        shutdown_seconds=shutdown_seconds,
        deadline_seconds=SHUTDOWN_SECONDS,
        checks_abandoned=abandoned["count"],
        results_pending=int(pending),
        results_written_at_shutdown=ticks_after - ticks_before,
        last_check_before_sigterm_seconds=(sigterm_at - oldest_last).total_seconds(),
        leases_left=len(leased),
        second_start_seconds=second_start_seconds,
    )
    # The abandoned (hanging) checks' leases too: the poller releases them as it stops.
    assert leased == {}


def test_a_request_stuck_at_sigterm_does_not_hold_the_stop(
    start_role: Callable[..., Role], pg_dir: Path, fault_report: Callable[..., None]
) -> None:
    """Guards a bug: a request waiting on a database lock at SIGTERM kept `statuschecker run`
    from stopping until the lock went (the poller claiming on, the embedded server running)."""
    pgdata = pg_dir / "var" / "postgres"
    port = free_port()
    run = start_role("run", STATUSCHECKER_PORT=str(port))
    base = wait_healthy(run, port, START_SECONDS)
    auth = sign_up(base)
    url = running_url(pgdata)
    assert url is not None
    engine = create_engine(url, poolclass=NullPool)
    answers: list[int | str] = []

    def ask() -> None:
        try:
            answers.append(httpx.get(f"{base}/users/me", headers=auth, timeout=60).status_code)
        except httpx.TransportError as exc:
            answers.append(type(exc).__name__)

    asking = threading.Thread(target=ask, daemon=True)
    locker = engine.connect()
    try:
        locker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        asking.start()
        wait_until(lambda: waiting_on_locks(engine) > 0, timeout=15)
        started = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=STOP_SECONDS) == 0, run.log_file.read_text()
        shutdown_seconds = time.monotonic() - started
    finally:
        with contextlib.suppress(SQLAlchemyError):  # the server it talked to is gone
            locker.close()
        engine.dispose()
    asking.join(timeout=30)

    # The request's deadline, then the poller's, then the last batch and the database.
    assert shutdown_seconds < 2 * SHUTDOWN_SECONDS + SHUTDOWN_MARGIN
    assert answers and answers != [200]  # given up, not answered late
    events = [entry["event"] for entry in run.logs()]
    assert any("timeout graceful shutdown exceeded" in event for event in events)
    assert "poller.stopped" in events and "embedded_db.stopped" in events
    assert postgres_gone(pgdata)
    fault_report(
        "SIGTERM with a request stuck on a database lock",
        shutdown_seconds=shutdown_seconds,
        request_answer=answers[0],
    )


def waiting_on_locks(engine: Engine) -> int:
    """Backends of statuschecker waiting for a lock."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'statuschecker' "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar_one()


def sign_up(base: str) -> dict[str, str]:
    """Sign up and log in through the API; the Authorization header."""
    credentials = {"email": "shutdown@example.com", "password": PASSWORD}
    assert httpx.post(f"{base}/users", json=credentials, timeout=10).status_code == 201
    token = httpx.post(f"{base}/auth/token", json=credentials, timeout=10).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def register(
    base: str, auth: dict[str, str], name: str, url: str, interval: int, timeout: float
) -> int:
    body = {"name": name, "url": url, "interval_seconds": interval, "timeout_seconds": timeout}
    created = httpx.post(f"{base}/services", json=body, headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def tick_count(conn: Connection) -> int:
    return conn.execute(text("SELECT count(*) FROM service_ticks")).scalar_one()


def last_ticks(conn: Connection, service_ids: list[int]) -> dict[int, datetime]:
    """The time of each service's last stored check (services without one are left out)."""
    return dict(
        conn.execute(
            text(
                "SELECT service_id, max(checked_at) FROM service_ticks "
                "WHERE service_id = ANY(:ids) GROUP BY service_id"
            ),
            {"ids": service_ids},
        )
        .tuples()
        .all()
    )


def postgres_gone(pgdata: Path) -> bool:
    """No postmaster for `pgdata` runs, no process of the server is left, and it removed its
    pid file, as a clean stop does."""
    left = [
        proc.pid
        for proc in psutil.process_iter(["name", "cmdline", "status"])
        if proc.info["name"] == "postgres"
        and proc.info["status"] != psutil.STATUS_ZOMBIE
        and str(pgdata.resolve()) in (proc.info["cmdline"] or [])
    ]
    running = EmbeddedPostgres(pgdata).is_running()
    return not running and not left and not (pgdata / "postmaster.pid").exists()


def logged(logs: list[dict]) -> set[str]:
    """The events of a log, numbers (pids, ports) blanked out."""
    return {re.sub(r"\d+", "N", entry["event"]) for entry in logs}


def started_up(logs: list[dict]) -> set[str]:
    """The events of a log until the server said it runs, numbers blanked out."""
    events = [entry["event"] for entry in logs]
    up = next(i for i, event in enumerate(events) if event.startswith("Uvicorn running on"))
    return logged(logs[: up + 1])


def pg_log_size(pgdata: Path) -> int:
    """Where the server's log ends now (pg_ctl appends to `<pgdata>/log`)."""
    path = pgdata / "log"
    return path.stat().st_size if path.exists() else 0


def assert_clean_start(pgdata: Path, since: int) -> None:
    """The server's log, from `since`, shows it started on data a clean stop left."""
    with (pgdata / "log").open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace")
    assert "database system was shut down at" in lines, lines
    assert not [line for line in lines.splitlines() if any(r in line for r in RECOVERY_LINES)]
