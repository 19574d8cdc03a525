"""The TCP check and its options, against real local peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from peers import ANSWERED, POLL_SECONDS, SLACK, TIMEOUT, Peer, Serve, run, silent
from targets import free_port

from statuschecker.checks import run_check, tcp, validate_options
from statuschecker.model import CheckResult, CheckSpec


def echo_into(received: bytearray) -> Serve:
    """Echo the first bytes received (and keep them in `received`), then wait for the close."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        data = conn.recv(65536)
        received.extend(data)
        conn.sendall(data)
        conn.recv(1)

    return serve


def banner(text: bytes, *, then_close: bool = False) -> Serve:
    """Send `text` first (as SMTP and SSH servers do), then close or wait for the client."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(text)
        if not then_close:
            conn.recv(1)

    return serve


def in_pieces(*pieces: bytes) -> Serve:
    """Send each piece on its own, a moment apart, then wait for the client."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        for piece in pieces:
            conn.sendall(piece)
            if stop.wait(POLL_SECONDS):
                return
        conn.recv(1)

    return serve


def endless(conn: socket.socket, stop: threading.Event) -> None:
    """Stream bytes without end until the client leaves."""
    chunk = b"x" * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def reset(conn: socket.socket, stop: threading.Event) -> None:
    """Read what the client sends, then abort: SO_LINGER 0 makes the close send RST, not FIN.

    Reading first makes the reset come after the client saw its connect succeed; a reset right
    after accepting may reach the client first and fail its connect instead."""
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@dataclass(frozen=True)
class Case:
    """One peer behaviour, the options of the check, and what the check must report."""

    name: str
    serve: Serve
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # None: up
    timeout: float = ANSWERED
    max_seconds: float = 2.0


CASES = [
    Case("open", silent),
    Case("echo", echo_into(bytearray()), {"body": "PING\r\n", "body_contains": "PING"}),
    Case("banner", banner(b"220 mail ESMTP ready\r\n"), {"body_contains": "ESMTP"}),
    Case("split", in_pieces(b"SSH-2", b".0-OpenSSH\r\n"), {"body_contains": "SSH-2.0"}),
    Case(
        "lacking",
        banner(b"220 mail ESMTP ready\r\n", then_close=True),
        {"body_contains": "SSH-2.0"},
        error="reply does not contain 'SSH-2.0'",
    ),
    Case(
        "silent",
        silent,
        {"body_contains": "OK"},
        error="timeout (read)",
        timeout=TIMEOUT,
        max_seconds=TIMEOUT + SLACK,
    ),
    # 5 s timeout: a reply read to the end would take far longer than the 1 s allowed, so the
    # answer proves the read stopped at MAX_REPLY_BYTES.
    Case(
        "endless",
        endless,
        {"body_contains": "OK"},
        error="reply does not contain 'OK'",
        timeout=5.0,
        max_seconds=1.0,
    ),
    Case("reset", reset, {"body": "PING\r\n", "body_contains": "OK"}, error="connection reset"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tcp_check_reports_what_the_peer_does(case: Case) -> None:
    with Peer(case.serve) as peer:
        result, elapsed = run(tcp.check, CheckSpec(peer.url(), case.timeout, options=case.options))

    assert result.error == case.error, result
    assert result.up is (case.error is None)
    assert elapsed < case.max_seconds
    assert result.dns_ms is not None and result.connect_ms is not None, result
    assert result.tls_ms is None and result.cert_expires_at is None
    if case.error is None or case.error.startswith("reply"):  # the peer answered in full
        assert result.response_time_ms is not None
        assert result.dns_ms + result.connect_ms <= result.response_time_ms < elapsed * 1000
    else:
        assert result.response_time_ms is None


def test_body_is_sent_as_utf8() -> None:
    received = bytearray()
    with Peer(echo_into(received)) as peer:
        options = {"body": "héllo\n", "body_contains": "llo"}
        result, _ = run(tcp.check, CheckSpec(peer.url(), ANSWERED, options=options))
    assert result.up, result
    assert bytes(received) == "héllo\n".encode()


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = run(tcp.check, CheckSpec(f"tcp://127.0.0.1:{free_port()}", ANSWERED))
    assert result == CheckResult(up=False, error="connection refused", dns_ms=result.dns_ms)


def test_a_full_accept_queue_is_a_connect_timeout() -> None:
    # A listener that never accepts, its queue filled by one connection: Linux drops later SYNs,
    # so the next connection attempt hangs until the deadline.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            result, elapsed = run(tcp.check, CheckSpec(f"tcp://127.0.0.1:{port}", TIMEOUT))
    assert result.error == "timeout (connect)", result
    assert elapsed < TIMEOUT + SLACK


def test_unresolvable_host_is_a_dns_failure(unresolvable: str) -> None:
    result, _ = run(tcp.check, CheckSpec(f"tcp://{unresolvable}:80", 2.0))
    assert result == CheckResult(up=False, error=f"DNS failure: {unresolvable}")


def test_cancellation_propagates() -> None:
    async def cancel_midway(url: str) -> None:
        task = asyncio.create_task(tcp.check(CheckSpec(url, 10.0, options={"body_contains": "x"})))
        await asyncio.sleep(0.2)
        task.cancel()
        await task

    with Peer(silent) as peer, pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_midway(peer.url()))


def test_run_check_runs_the_tcp_check() -> None:
    with Peer(silent) as peer:
        result, _ = run(run_check, CheckSpec(peer.url(), ANSWERED))
    assert result.up, result


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, {}),
        ({"body": "PING\r\n"}, {"body": "PING\r\n"}),
        ({"body": "x" * 65536, "body_contains": "y" * 4096}, None),
        ({"body_contains": "SSH-", "body": None}, {"body_contains": "SSH-"}),
    ],
)
def test_options_keep_what_is_given(raw: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert tcp.options("tcp://db.example:5432", raw) == (raw if expected is None else expected)


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("tcp://db.example", {}, "url: a tcp:// URL needs a port"),
        ("tcp://db.example:0", {}, "url: port 0"),
        ("tcp://db.example:5432/db", {}, "url: a tcp:// URL takes only a host and a port"),
        ("tcp://db.example:5432?ssl=1", {}, "url: a tcp:// URL takes only"),
        ("tcp://user@db.example:5432", {}, "url: a tcp:// URL takes only"),
        ("tcp://:5432", {}, "url: a tcp:// URL needs a host"),
        ("tcp://db.example:99999", {}, "url: Port out of range"),
        ("tcp://db.example:5432", {"body": 5}, "body must be a string"),
        ("tcp://db.example:5432", {"body": "x" * 65537}, "body must be a string of at most"),
        ("tcp://db.example:5432", {"body_contains": ""}, "body_contains must be a string"),
        ("tcp://db.example:5432", {"body_contains": ["OK"]}, "body_contains must be a string"),
    ],
)
def test_options_reject_what_does_not_fit(url: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        tcp.options(url, raw)


def test_validate_options_routes_tcp_urls_here() -> None:
    raw = {"body_contains": "OK", "max_response_time_ms": 50}
    assert validate_options("tcp://db.example:5432", raw) == raw
    with pytest.raises(ValueError, match=r"^a, b: no check kind takes such an option"):
        validate_options("tcp://db.example:5432", {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="needs a port"):
        validate_options("tcp://db.example", {})
