"""The MySQL check, against a real MariaDB server (test/mariadb.py) on 127.0.0.1 that speaks TLS
with a certificate of the tests' own CA, and against peers that greet as no real server does."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
import uvloop
from localserver import POLL_SECONDS
from mariadb import MariaDB, mariadb
from peers import SLACK, Peer, run, silent
from pymysql.constants import CLIENT
from registered import checked_up
from targets import free_port
from waiting import wait_until

from statuschecker.checks import mysql
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

TIMEOUT = 3.0
USER, PASSWORD = "checker", "pä ss:w@rd/1"  # percent-encoded in URLs; sent as UTF-8
ITEMS = "SELECT COUNT(*) FROM shop.items"
SETUP = (
    "CREATE DATABASE shop",
    "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40))",
    "INSERT INTO shop.items VALUES (1, 'apple'), (2, 'pear')",
    f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'",
    f"GRANT SELECT, INSERT, CREATE, DROP ON shop.* TO '{USER}'@'%'",  # refused only read-only
)
TLS_VERSION = (
    "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
    " WHERE VARIABLE_NAME = 'Ssl_version'"
)


@pytest.fixture(scope="module")
def server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """MariaDB with TLS (a certificate for 127.0.0.1), user USER and its database `shop`,
    whose table `items` holds two rows."""
    directory = tmp_path_factory.mktemp("mariadb-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    issued = ca.issue_cert("127.0.0.1")
    issued.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    with mariadb(f"--ssl-cert={cert}", f"--ssl-key={key}") as db:
        for statement in SETUP:
            db.execute(statement)
        yield db


def url(
    port: int, user: str = USER, password: str = PASSWORD, path: str = "/shop", host: str = ""
) -> str:
    """A mysql:// URL of 127.0.0.1 (or `host`) with the user and password percent-encoded."""
    return f"mysql://{quote(user)}:{quote(password, safe='')}@{host or '127.0.0.1'}:{port}{path}"


def check(target: str, limits: CheckLimits | None = None, **options: Any) -> CheckResult:
    return run(mysql.check, CheckSpec(target, TIMEOUT, limits or CheckLimits(), options))[0]


def test_up_with_the_default_query_and_what_it_records(server: MariaDB) -> None:
    result = check(url(server.port))
    assert (result.up, result.error) == (True, None), result
    phases = (result.dns_ms, result.connect_ms, result.ttfb_ms, result.response_time_ms)
    dns, connect, ttfb, total = (ms or 0.0 for ms in phases)
    assert None not in phases and 0 < dns + connect < ttfb <= total, result
    assert (result.tls_ms, result.cert_expires_at, result.status_code) == (None, None, None)


@pytest.mark.parametrize(
    ("query", "expected", "error"),
    [
        ("SELECT name FROM items ORDER BY id DESC", "pear", None),
        (ITEMS, "2", None),
        ("SELECT 1", "2", "expected '2', got '1'"),
        ("SELECT name FROM items WHERE id = 9", "NULL", None),
        ("SELECT NULL", "apple", "expected 'apple', got 'NULL'"),
        ("SELECT SUBSTRING_INDEX(USER(), '@', 1)", USER, None),
    ],
)
def test_the_first_value_is_compared_as_text(
    server: MariaDB, query: str, expected: str, error: str | None
) -> None:
    result = check(url(server.port), query=query, expected_value=expected)
    assert (result.up, result.error) == (error is None, error), result


@pytest.mark.parametrize(
    ("target", "query", "error"),
    [
        ({"password": "not-it"}, None, "authentication failed"),
        ({"user": "nobody"}, None, "authentication failed"),
        ({"user": "root", "password": "", "path": "/nowhere"}, None, "database 'nowhere' does"),
        ({"path": "/nowhere"}, None, "access denied to database 'nowhere'"),
        ({}, "SELEC 1", "query failed: You have an error in your SQL syntax"),
        ({}, "SELECT * FROM nope", "query failed: Table 'shop.nope' doesn't exist"),
    ],
)
def test_failures_are_named_without_the_password(
    server: MariaDB, target: dict[str, str], query: str | None, error: str
) -> None:
    result = check(url(server.port, **target), query=query)
    assert not result.up and str(result.error).startswith(error), result
    assert "not-it" not in str(result.error) and PASSWORD not in str(result.error)
    assert result.response_time_ms is None and result.connect_ms is not None


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO items VALUES (3, 'plum')",
        "DROP TABLE items",
        "SELECT 1; INSERT INTO items VALUES (3, 'plum')",  # one statement only
    ],
)
def test_the_session_never_writes(server: MariaDB, query: str) -> None:
    result = check(url(server.port), query=query)
    assert str(result.error).startswith("query failed: "), result
    assert server.execute(ITEMS) == [(2,)]


def test_a_statement_without_rows_reads_as_null(server: MariaDB) -> None:
    assert check(url(server.port), query="DO 1", expected_value="NULL").up


def test_only_the_first_row_is_read(server: MariaDB) -> None:
    many = "SELECT seq FROM seq_1_to_10000000"  # MariaDB's sequence engine: ten million rows
    result = check(url(server.port), query=many, expected_value="1")
    assert result.up and (result.response_time_ms or 0) < 1000, result


def test_the_connection_is_left_with_a_goodbye(server: MariaDB) -> None:
    aborted = "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
    aborted += " WHERE VARIABLE_NAME = 'ABORTED_CLIENTS'"  # left without COM_QUIT
    theirs = f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{USER}'"
    wait_until(lambda: server.execute(theirs) == [(0,)], timeout=5)  # earlier checks' ended
    before = server.execute(aborted)
    assert check(url(server.port), query="SELECT 1").up
    assert not check(url(server.port), query="SELEC 1").up
    wait_until(lambda: server.execute(theirs) == [(0,)], timeout=5)
    assert server.execute(aborted) == before


Runner = Callable[[Coroutine[Any, Any, CheckResult]], CheckResult]


@pytest.mark.parametrize("runner", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
@pytest.mark.parametrize(
    ("mode", "host", "bundle", "error"),
    [
        ("", "", False, None),  # PREFERRED: TLS, unverified
        ("?ssl-mode=required", "", False, None),
        ("?ssl-mode=VERIFY_CA", "localhost", True, None),  # the CA, not the name
        ("?ssl-mode=VERIFY_CA", "", False, "TLS error: certificate verify failed"),
        ("?ssl-mode=VERIFY_IDENTITY", "", True, None),
        ("?ssl-mode=VERIFY_IDENTITY", "localhost", True, "TLS error: certificate verify failed"),
    ],
)
def test_ssl_mode_is_the_mysql_clients(
    server: MariaDB,
    ca_bundle: str,
    runner: Runner,
    mode: str,
    host: str,
    bundle: bool,
    error: str | None,
) -> None:
    given = url(server.port, path=f"/shop{mode}", host=host)
    limits = CheckLimits(ca_bundle=ca_bundle if bundle else None)
    spec = CheckSpec(given, TIMEOUT, limits, {"query": TLS_VERSION, "expected_value": "TLSv1.3"})
    result = runner(mysql.check(spec))
    assert result.up == (error is None) and str(result.error).startswith(str(error)), result


def test_ssl_mode_disabled_speaks_plain(server: MariaDB) -> None:
    plain = TLS_VERSION.replace("SELECT VARIABLE_VALUE", "SELECT VARIABLE_VALUE = ''")
    given = url(server.port, path="/shop?ssl-mode=DISABLED")
    assert check(given, query=plain, expected_value="1").up


def test_the_source_address_and_the_target_policy_hold(server: MariaDB) -> None:
    host = "SELECT SUBSTRING_INDEX(USER(), '@', -1)"
    limits = CheckLimits(source_address="127.0.0.2")
    assert check(url(server.port), limits, query=host, expected_value="127.0.0.2").up
    refused = check(url(server.port), CheckLimits(allow_private_targets=False))
    assert refused.error == "refused by target policy: 127.0.0.1 is a loopback address"


def test_nothing_listening_a_name_that_does_not_resolve_and_a_slow_query(
    server: MariaDB, unresolvable: str
) -> None:
    assert check(url(free_port())).error == "connection refused"
    assert check(url(server.port, host=unresolvable)).error == f"DNS failure: {unresolvable}"
    spec = CheckSpec(url(server.port), 0.5, options={"query": "SELECT SLEEP(2)"})
    slow, elapsed = run(mysql.check, spec)
    assert slow.error == "timeout (query)" and elapsed < 0.5 + SLACK, slow


def test_a_silent_peer_and_one_that_hangs_up() -> None:
    with Peer(silent) as peer:  # accepts, never greets
        quiet, elapsed = run(mysql.check, CheckSpec(peer.url("mysql"), 0.5))
    assert quiet.error == "timeout (auth)" and elapsed < 0.5 + SLACK, quiet
    assert quiet.connect_ms is not None and quiet.response_time_ms is None
    with Peer(lambda conn, stop: None) as peer:  # accepts, closes at once
        gone, _ = run(mysql.check, CheckSpec(peer.url("mysql"), TIMEOUT))
    assert gone.error == "connection closed by the server (auth)", gone


def packet(body: bytes, sequence: int = 0) -> bytes:
    """A MySQL packet: three bytes of length, the sequence number, the body."""
    return struct.pack("<I", len(body))[:3] + bytes([sequence]) + body


def greeting(capabilities: int) -> bytes:
    """A protocol 10 greeting offering `capabilities`, asking for mysql_native_password."""
    salt = b"0123456789abcdefghij"
    return packet(
        b"\x0a10.11.0-fake\x00" + struct.pack("<I", 7) + salt[:8] + b"\x00"
        + struct.pack("<HBHHB", capabilities & 0xFFFF, 45, 2, capabilities >> 16, 21)
        + b"\x00" * 10 + salt[8:] + b"\x00" + b"mysql_native_password\x00"
    )  # fmt: skip


PLAIN = greeting(CLIENT.CAPABILITIES)  # no CLIENT.SSL
OK = b"\x00\x00\x00\x02\x00\x00\x00"  # no rows affected, autocommit, no warnings


class Greeter:
    """A peer's serve function: say `first`, then record what the client says until it
    closes (then `closed` is set), answering each thing it says with the next of `replies`."""

    def __init__(self, first: bytes, *replies: bytes) -> None:
        self.first = first
        self.replies = list(replies)
        self.heard = bytearray()
        self.closed = threading.Event()

    def __call__(self, conn: Any, stop: threading.Event) -> None:
        conn.sendall(self.first)
        conn.settimeout(POLL_SECONDS)  # lets the wait notice `stop`
        while not stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                self.closed.set()
                return
            self.heard += chunk
            if self.replies:
                conn.sendall(self.replies.pop(0))


def talked(greeter: Greeter, path: str = "/shop", timeout: float = 0.5) -> CheckResult:
    """The check of a peer serving `greeter`, which the check has left when this returns."""
    with Peer(greeter) as peer:
        result, _ = run(mysql.check, CheckSpec(url(peer.port, path=path), timeout))
        wait_until(greeter.closed.is_set, timeout=2)
    return result


@pytest.mark.parametrize(
    ("first", "error"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1\r\n", mysql.NOT_MYSQL),
        (packet(b"\x0a5"), mysql.NOT_MYSQL),  # too short
        (packet(b"\x09" + PLAIN[5:]), mysql.NOT_MYSQL),  # protocol 9
        (packet(b"\xff" + struct.pack("<H", 1040) + b"Too many connections"), "refused: Too many"),
    ],
)
def test_a_peer_that_is_no_usable_server_is_named(first: bytes, error: str) -> None:
    result = talked(Greeter(first))
    assert (result.up, str(result.error)[: len(error)]) == (False, error), result


def test_tls_required_but_not_offered_and_preferred_without_it() -> None:
    greeter = Greeter(PLAIN)
    assert talked(greeter, "/shop?ssl-mode=REQUIRED").error == "TLS not offered"
    assert USER.encode() not in greeter.heard
    greeter = Greeter(PLAIN)  # answered in plain, then the peer says nothing
    assert talked(greeter).error == "timeout (auth)" and USER.encode() in greeter.heard


def test_a_server_asking_for_a_local_file_gets_none(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not for the server")
    rogue = Greeter(
        PLAIN,
        packet(OK, 2),  # authenticated
        packet(OK, 1),  # read-only
        packet(b"\xfb" + str(secret).encode(), 1),  # LOAD DATA LOCAL INFILE, asked of the client
    )
    result = talked(rogue, timeout=TIMEOUT)
    assert result.error == "query failed: the server asked for a local file", result
    assert b"not for the server" not in rogue.heard


def test_a_cancelled_check_closes_its_connection() -> None:
    async def cancelled(peer: Peer) -> None:
        task = asyncio.create_task(mysql.check(CheckSpec(url(peer.port), TIMEOUT)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    greeter = Greeter(PLAIN)
    with Peer(greeter) as peer:
        asyncio.run(cancelled(peer))
        wait_until(greeter.closed.is_set, timeout=2)


@pytest.mark.parametrize(
    ("given", "options", "message"),
    [
        ("mysql:///shop", {}, "url: a mysql:// URL needs a host"),
        ("mysql://db.example/shop#x", {}, "url: a mysql:// URL takes no fragment"),
        ("mysql://db.example/shop/items", {}, "url: a mysql:// URL's path is one database"),
        ("mysql://db.example/shop?charset=utf8", {}, "url: a mysql:// URL takes only ssl-mode"),
        ("mysql://db.example/?ssl-mode=ON", {}, "url: ssl-mode must be one of DISABLED, "),
        ("mysql://db.example", {"query": " "}, "query must be an SQL statement of 1-4096"),
        ("mysql://db.example", {"expected_value": 1}, "expected_value must be a non-empty"),
    ],
)
def test_options_refuse_what_does_not_fit(
    given: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        mysql.options(given, options)


def test_options_keep_what_fits() -> None:
    given = {"query": "SELECT 2", "expected_value": "2", "max_response_time_ms": None}
    target = "mysql://u:p@db.example:3307/shop?ssl-mode=verify_identity"
    assert mysql.options(target, given) == {"query": "SELECT 2", "expected_value": "2"}
    assert mysql.options("mysql://db.example", {}) == {}


def test_a_mysql_database_is_registered_checked_and_its_password_kept_secret(
    make_runtime: Callable[..., Any], account: Any, server: MariaDB
) -> None:
    body = {"name": "shop", "url": url(server.port), "query": "SELECT COUNT(*) FROM items",
            "expected_value": "2"}  # fmt: skip
    created, (tick, *_) = checked_up(make_runtime, account, body)
    assert created["kind"] == "mysql" and ":********@" in created["url"]
    assert quote(PASSWORD, safe="") not in str(created) and tick["ttfb_ms"] is not None
