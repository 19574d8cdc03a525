"""The PostgreSQL check, against a real PostgreSQL 16 (pgserver's binaries) that listens on
127.0.0.1 and asks for a password (scram-sha-256), with a user, a database and a table."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from peers import Peer, run, silent
from pgserver._commands import POSTGRES_BIN_PATH
from registered import checked_up
from targets import free_port

from statuschecker.checks import postgresql, run_check, validate_options
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

TIMEOUT = 3.0
PASSWORD = "s3cret-pw"


def _as_server_user() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: there, it runs as pgserver's own OS user."""
    if os.geteuid() != 0:
        return {}
    if subprocess.run(["id", "pgserver"], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "pgserver"], check=True)
    return {"user": "pgserver"}


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A server on 127.0.0.1:<port>: user `checker` (password PASSWORD) owns database `shop`
    with a table `orders` of one row."""
    data = Path(tempfile.mkdtemp(prefix="statuschecker-test-pgtcp-"))
    owner = _as_server_user()
    if owner:
        shutil.chown(data, owner["user"])
    bin_dir, listen = POSTGRES_BIN_PATH, free_port()
    (data / "pw").write_text("postgres-pw\n")
    if owner:
        shutil.chown(data / "pw", owner["user"])
    subprocess.run(
        [bin_dir / "initdb", "-D", data / "db", "-U", "postgres", "--pwfile", data / "pw",
         "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
        check=True, capture_output=True, **owner,
    )  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {listen} -k {data} -c fsync=off"
    # The server inherits pg_ctl's output: a pipe would keep pg_ctl's reader waiting.
    subprocess.run(
        [bin_dir / "pg_ctl", "-D", data / "db", "-o", options, "-l", data / "log", "-w", "-t",
         "20", "start"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **owner,
    )  # fmt: skip
    try:
        with psycopg.connect(host=str(data), port=listen, user="postgres", autocommit=True) as c:
            c.execute(f"CREATE ROLE checker LOGIN PASSWORD '{PASSWORD}'")
            c.execute("CREATE DATABASE shop OWNER checker")
        with psycopg.connect(host=str(data), port=listen, user="checker", dbname="shop") as c:
            c.execute("CREATE TABLE orders (id int)")
            c.execute("INSERT INTO orders VALUES (7)")
        yield listen
    finally:
        subprocess.run(
            [bin_dir / "pg_ctl", "-D", data / "db", "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **owner,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def url(port: int, password: str = PASSWORD, database: str = "shop", query: str = "") -> str:
    return f"postgresql://checker:{password}@127.0.0.1:{port}/{database}{query}"


def check(target: str, limits: CheckLimits | None = None, **options: Any) -> CheckResult:
    spec = CheckSpec(target, TIMEOUT, limits or CheckLimits(), options)
    return run(postgresql.check, spec)[0]


def test_up_with_the_trivial_query_and_what_it_records(port: int) -> None:
    result = check(url(port))
    assert (result.up, result.error) == (True, None), result
    phases = (result.dns_ms, result.connect_ms, result.ttfb_ms, result.response_time_ms)
    assert all(ms is not None and ms > 0 for ms in phases), result
    assert result.ttfb_ms <= result.response_time_ms  # type: ignore[operator]


@pytest.mark.parametrize(
    ("query", "expected", "error"),
    [
        ("SELECT count(*) FROM orders", "1", None),
        ("SELECT id FROM orders", "7", None),
        ("SELECT id FROM orders", "8", "expected '8', got '7'"),
        ("SELECT NULL", "NULL", None),
        ("SELECT 1 WHERE false", "1", "expected '1', got 'NULL'"),
        ("SELECT true", "true", None),
    ],
)
def test_the_first_value_is_compared_as_text(
    port: int, query: str, expected: str, error: str | None
) -> None:
    result = check(url(port), query=query, expected_value=expected)
    assert (result.up, result.error) == (error is None, error), result


@pytest.mark.parametrize(
    ("target", "query", "error"),
    [
        ("wrong", None, "authentication failed"),
        ("nodb", None, "database 'nowhere' does not exist"),
        ("ok", "SELEC 1", 'query failed: syntax error at or near "SELEC"'),
        ("ok", "SELECT 1; SELECT 2", "query failed: cannot insert multiple commands into a"),
        ("ok", "SELECT pg_sleep(10)", "timeout (query)"),
    ],
)
def test_failures_are_named(port: int, target: str, query: str | None, error: str) -> None:
    given = {
        "wrong": url(port, password="not-it"),
        "nodb": url(port, database="nowhere"),
        "ok": url(port),
    }[target]
    result = check(given, None, **({"query": query} if query else {}))
    assert not result.up and str(result.error).startswith(error), result
    assert "not-it" not in str(result.error) and PASSWORD not in str(result.error)


def test_the_session_is_read_only(port: int) -> None:
    result = check(url(port), query="INSERT INTO orders VALUES (8)")
    assert result.error == "query failed: cannot execute INSERT in a read-only transaction"
    assert check(url(port), query="SELECT count(*) FROM orders", expected_value="1").up


def test_sslmode_is_libpqs(port: int) -> None:
    assert check(url(port, query="?sslmode=disable")).up
    refused = check(url(port, query="?sslmode=require"))
    assert not refused.up and "SSL" in str(refused.error), refused


def test_nothing_listening_a_silent_peer_and_the_policy(port: int) -> None:
    assert check(url(free_port())).error == "connection refused"
    with Peer(silent) as peer:  # accepts, never answers the startup message
        quiet, elapsed = run(run_check, CheckSpec(url(peer.port), 0.5))
    assert quiet.error == "timeout (connect)" and elapsed < 1.5, quiet
    refused = check(url(port), CheckLimits(allow_private_targets=False))
    assert refused.error == "refused by target policy: 127.0.0.1 is a loopback address"


@pytest.mark.parametrize(
    ("given", "raw", "message"),
    [
        ("postgresql://", {}, "url: a postgresql:// URL needs a host"),
        ("postgresql://db?application_name=x", {}, "url: a postgresql:// URL takes only sslmode"),
        ("postgresql://db?sslmode=maybe", {}, "url: sslmode must be one of"),
        ("postgres://db#x", {}, "url: a postgres:// URL takes no fragment"),
        ("postgresql://db", {"query": " "}, "query must be one SQL statement"),
        ("postgresql://db", {"expected_value": ""}, "expected_value must be a non-empty"),
    ],
)
def test_what_does_not_fit_is_refused(given: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        postgresql.options(given, raw)


def test_postgresql_urls_are_routed_here() -> None:
    given = {"query": "SELECT 1", "expected_value": "1"}
    assert validate_options("postgres://u:p@db:5433/app?sslmode=require", given) == given


def test_a_database_is_registered_checked_and_its_password_kept_secret(
    make_runtime: Callable[..., Any], account: Any, port: int
) -> None:
    body = {"name": "db", "url": url(port), "query": "SELECT 1", "expected_value": "1"}
    created, (tick, *_) = checked_up(make_runtime, account, body)
    assert created["kind"] == "postgresql" and "checker:********@" in created["url"]
    assert PASSWORD not in str(created) and tick["ttfb_ms"] is not None
