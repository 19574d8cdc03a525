"""The Redis check, against a real redis-server on 127.0.0.1: a password for the default user,
a read-only ACL user, a key to read, and a TLS port serving a certificate of the tests' CA."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import installed
import pytest
import trustme
from peers import Peer, run, silent
from registered import checked_up
from targets import free_port

from statuschecker.checks import redis, run_check, validate_options
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

TIMEOUT = 2.0
PASSWORD = "redis-s3cret"
READER = "reader:read-only-pw"


def _waited(port: int, log: Path) -> None:
    """Until the server accepts connections on `port`; its log when it does not in 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def ports(ca: trustme.CA) -> Iterator[tuple[int, int]]:
    """(plain port, TLS port) of one server; `feature` is `on`, `list` holds `a b`."""
    binary = installed.binary("redis-server", "redis-server")
    work = Path(tempfile.mkdtemp(prefix="statuschecker-test-redis-"))
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(work / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(work / "cert.pem"))
    ca.cert_pem.write_to_path(str(work / "ca.pem"))
    plain, tls = free_port(), free_port()
    name, password = READER.split(":")
    (work / "users.acl").write_text(
        f"user default on >{PASSWORD} ~* &* +@all\n"
        f"user {name} on >{password} ~* +@read +ping +hello +client\n"
    )
    server = subprocess.Popen(
        [binary, "--port", str(plain), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(work), "--aclfile", str(work / "users.acl"),
         "--tls-port", str(tls), "--tls-cert-file", str(work / "cert.pem"),
         "--tls-key-file", str(work / "key.pem"), "--tls-ca-cert-file", str(work / "ca.pem"),
         "--tls-auth-clients", "no"],
        stdout=(work / "log").open("wb"),
    )  # fmt: skip
    try:
        _waited(plain, work / "log")
        feed = f"AUTH {PASSWORD}\r\nSET feature on\r\nRPUSH list a b\r\nQUIT\r\n"
        with socket.create_connection(("127.0.0.1", plain)) as conn:
            conn.sendall(feed.encode())
            while conn.recv(4096):
                pass
        yield plain, tls
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def check(target: str, limits: CheckLimits | None = None, **options: Any) -> CheckResult:
    return run(redis.check, CheckSpec(target, TIMEOUT, limits or CheckLimits(), options))[0]


def test_up_with_ping_and_what_it_records(ports: tuple[int, int]) -> None:
    result = check(f"redis://:{PASSWORD}@127.0.0.1:{ports[0]}")
    assert (result.up, result.error) == (True, None), result
    phases = (result.dns_ms, result.connect_ms, result.ttfb_ms, result.response_time_ms)
    assert all(ms is not None for ms in phases), result
    assert result.tls_ms is None and result.cert_expires_at is None


@pytest.mark.parametrize(
    ("query", "expected", "error"),
    [
        ("GET feature", "on", None),
        ("GET feature", "off", "expected 'off', got 'on'"),
        ("GET missing", "NULL", None),
        ("LRANGE list 0 -1", "a", None),
        ("EXISTS feature", "1", None),
        ('GET "no such key"', "NULL", None),
    ],
)
def test_the_reply_is_compared_as_text(
    ports: tuple[int, int], query: str, expected: str, error: str | None
) -> None:
    result = check(
        f"redis://:{PASSWORD}@127.0.0.1:{ports[0]}/0", query=query, expected_value=expected
    )
    assert (result.up, result.error) == (error is None, error), result


@pytest.mark.parametrize(
    ("credentials", "query", "error"),
    [
        (":wrong@", None, "authentication failed"),
        ("", None, "authentication failed"),
        ("reader:nope@", None, "authentication failed"),
        (f":{PASSWORD}@", "NOPE", "command failed: unknown command 'NOPE'"),
        (f"{READER}@", "SET a b", "command failed: this user has no permissions to run the 'set'"),
    ],
)
def test_failures_are_named(
    ports: tuple[int, int], credentials: str, query: str | None, error: str
) -> None:
    given = f"redis://{credentials}127.0.0.1:{ports[0]}"
    result = check(given, None, **({"query": query} if query else {}))
    assert not result.up and str(result.error).startswith(error), result
    assert "wrong" not in str(result.error) and PASSWORD not in str(result.error)


def test_an_acl_user_reads(ports: tuple[int, int]) -> None:
    assert check(f"redis://{READER}@127.0.0.1:{ports[0]}", query="GET feature").up


def test_tls_is_verified_and_its_expiry_recorded(ports: tuple[int, int], ca_bundle: str) -> None:
    target = f"rediss://:{PASSWORD}@localhost:{ports[1]}"
    result = check(target, CheckLimits(ca_bundle=ca_bundle))
    assert result.up and result.cert_expires_at is not None, result
    untrusted = check(target)
    assert not untrusted.up and "certificate verify failed" in str(untrusted.error), untrusted


def test_nothing_listening_a_silent_peer_the_source_and_the_policy(
    ports: tuple[int, int],
) -> None:
    assert check(f"redis://127.0.0.1:{free_port()}").error == "connection refused"
    with Peer(silent) as peer:  # accepts, never answers
        quiet, elapsed = run(run_check, CheckSpec(f"redis://127.0.0.1:{peer.port}", 0.5))
    assert quiet.error == "timeout (setup)" and elapsed < 1.5, quiet
    target = f"redis://:{PASSWORD}@127.0.0.1:{ports[0]}"
    assert check(target, CheckLimits(source_address="127.0.0.3")).up
    # The server's ACL log names the address a refused log-in came from.
    stranger = check(
        f"redis://:wrong@127.0.0.1:{ports[0]}", CheckLimits(source_address="127.0.0.5")
    )
    assert stranger.error == "authentication failed"
    assert "addr=127.0.0.5:" in _acl_log(ports[0])
    refused = check(target, CheckLimits(allow_private_targets=False))
    assert refused.error == "refused by target policy: 127.0.0.1 is a loopback address"


def _acl_log(port: int) -> str:
    """The server's ACL log, as its raw reply."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"AUTH {PASSWORD}\r\nACL LOG\r\nQUIT\r\n".encode())
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
    return received.decode()


@pytest.mark.parametrize(
    ("given", "raw", "message"),
    [
        ("redis://", {}, "url: a redis:// URL needs a host"),
        ("redis://cache/abc", {}, "url: the path of a redis:// URL is a database number"),
        ("rediss://cache?db=1", {}, "url: a rediss:// URL takes no query string"),
        ("redis://cache", {"query": 'GET "open'}, "query: No closing quotation"),
        ("redis://cache", {"query": ""}, "query must be a command"),
    ],
)
def test_what_does_not_fit_is_refused(given: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        redis.options(given, raw)


def test_redis_urls_are_routed_here() -> None:
    given = {"query": "GET flag", "expected_value": "on"}
    assert validate_options("rediss://:pw@cache:6380/2", given) == given


def test_a_cache_is_registered_checked_and_its_password_kept_secret(
    make_runtime: Callable[..., Any], account: Any, ports: tuple[int, int]
) -> None:
    body = {"name": "cache", "url": f"redis://:{PASSWORD}@127.0.0.1:{ports[0]}",
            "query": "GET feature", "expected_value": "on"}  # fmt: skip
    created, _ = checked_up(make_runtime, account, body)
    assert created["kind"] == "redis" and PASSWORD not in str(created)
