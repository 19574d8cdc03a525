"""The WebSocket check and its options, against a real WebSocket server (the `websockets`
library's) on 127.0.0.1, plain and over TLS with the tests' own CA."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
import trustme
from peers import ANSWERED, SLACK, TIMEOUT, run
from registered import checked_up
from targets import free_port
from websockets.asyncio.server import Request, Response, ServerConnection, serve

from statuschecker.checks import run_check, validate_options, ws
from statuschecker.model import CheckLimits, CheckResult, CheckSpec


async def handler(connection: ServerConnection) -> None:
    """/close closes at once (1008); otherwise each text but `quiet` is echoed as `echo:...`,
    `bytes` answered with a binary message."""
    if connection.request is not None and connection.request.path == "/close":
        await connection.close(1008, "go away")
        return
    async for message in connection:
        text = message if isinstance(message, str) else message.decode()
        if text == "quiet":
            continue
        await connection.send(b"binary echo" if text == "bytes" else f"echo:{text}")


def refuse(connection: ServerConnection, request: Request) -> Response | None:
    """/forbidden answers the upgrade with 403."""
    if request.path == "/forbidden":
        return connection.respond(HTTPStatus.FORBIDDEN, "no\n")
    return None


class Server:
    """The WebSocket server in a thread of its own, for the test's duration; who connected."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.peers: list[str] = []
        self.port = 0

    def __enter__(self) -> Server:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    async def _start(self) -> None:
        async def recorded(connection: ServerConnection) -> None:
            self.peers.append(connection.remote_address[0])
            await handler(connection)

        self._server = await serve(
            recorded, "127.0.0.1", 0, process_request=refuse, ssl=self._tls, logger=None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


@pytest.mark.parametrize(
    ("path", "options", "error"),
    [
        ("/", {}, None),
        ("/", {"body": "hi", "body_contains": "echo:hi"}, None),
        ("/", {"body": "bytes", "body_contains": "binary"}, None),
        ("/", {"body": "hi", "body_contains": "nope"}, "reply does not contain 'nope'"),
        ("/", {"body": "quiet", "body_contains": "x"}, "timeout (reply)"),
        ("/forbidden", {}, "handshake refused: 403"),
        ("/close", {"body_contains": "x"}, "closed by the peer (1008 go away)"),
    ],
)
def test_the_check_reports_what_the_server_does(
    server: Server, path: str, options: dict[str, Any], error: str | None
) -> None:
    waits = error is not None and error.startswith(("timeout", "reply does not contain"))
    deadline = TIMEOUT if waits else ANSWERED  # the two errors found at the deadline
    result, elapsed = run(ws.check, CheckSpec(server.url(path), deadline, options=options))
    assert (result.up, result.error) == (error is None, error), result
    assert elapsed < deadline + SLACK
    assert result.dns_ms is not None and result.connect_ms is not None
    if error is None:
        assert result.ttfb_ms is not None and result.tls_ms is None
        assert result.response_time_ms is not None and result.response_time_ms < elapsed * 1000


def test_a_server_that_is_not_a_websocket_is_named() -> None:
    from targets import Target

    with Target("up") as target:  # an HTTP server answering 200 to the upgrade
        url = target.url.replace("http://", "ws://")
        result, _ = run(ws.check, CheckSpec(url, ANSWERED))
    assert result.error == "handshake refused: 200", result


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = run(ws.check, CheckSpec(f"ws://127.0.0.1:{free_port()}/", ANSWERED))
    assert result == CheckResult(
        up=False, error="connection refused", dns_ms=result.dns_ms, connect_ms=None
    )


def test_wss_verifies_the_certificate_and_records_its_expiry(
    ca: trustme.CA, ca_bundle: str
) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    with Server(tls) as secure:
        url = secure.url("/", "wss")
        trusted = CheckLimits(ca_bundle=ca_bundle)
        result, _ = run(
            ws.check, CheckSpec(url, 2.0, trusted, {"body": "a", "body_contains": "echo:a"})
        )
        assert result.up, result
        assert result.tls_ms is not None and result.cert_expires_at is not None
        untrusted, _ = run(ws.check, CheckSpec(url, 2.0))
    assert not untrusted.up and "certificate" in str(untrusted.error), untrusted


def test_the_source_address_and_the_target_policy_hold(server: Server) -> None:
    before = len(server.peers)
    result, _ = run(
        ws.check, CheckSpec(server.url(), ANSWERED, CheckLimits(source_address="127.0.0.4"))
    )
    assert result.up, result
    assert server.peers[before:] == ["127.0.0.4"]
    refused, _ = run(
        ws.check, CheckSpec(server.url(), ANSWERED, CheckLimits(allow_private_targets=False))
    )
    assert refused.error == "refused by target policy: 127.0.0.1 is a loopback address"
    assert len(server.peers) == before + 1


def test_run_check_runs_the_ws_check_and_cancellation_propagates(server: Server) -> None:
    result, _ = run(run_check, CheckSpec(server.url(), ANSWERED, options={"body": "x"}))
    assert result.up, result

    async def cancel_midway() -> None:
        spec = CheckSpec(server.url(), 10.0, options={"body": "quiet", "body_contains": "x"})
        task = asyncio.create_task(ws.check(spec))
        await asyncio.sleep(0.2)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_midway())


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("ws://", {}, "url: a ws:// URL needs a host"),
        ("ws://a.example/", {"body": 5}, "body must be a string"),
        ("wss://a.example/", {"body_contains": ""}, "body_contains must be a string"),
    ],
)
def test_options_reject_what_does_not_fit(url: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        ws.options(url, raw)


def test_ws_urls_are_routed_here() -> None:
    options = {"body": "subscribe", "body_contains": "ok", "max_response_time_ms": 50}
    assert validate_options("wss://feed.example/stream?x=1", options) == options


def test_a_websocket_service_is_registered_and_checked_end_to_end(
    make_runtime: Callable[..., Any], account: Any, server: Server
) -> None:
    body = {"name": "feed", "url": server.url("/stream"), "body": "ping",
            "body_contains": "echo:ping", "timeout_seconds": 1}  # fmt: skip
    created, _ = checked_up(make_runtime, account, body)
    assert created["kind"] == "ws"
