"""The gRPC check, against real grpcio servers on 127.0.0.1 serving the standard health service
(plaintext, and TLS with the tests' own CA), one without it, and peers that are no gRPC server."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, NamedTuple

import grpc
import pytest
import trustme
from grpc_health.v1.health import HealthServicer
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpc_health.v1.health_pb2_grpc import add_HealthServicer_to_server
from peers import ANSWERED, SLACK, TIMEOUT, Peer, run, silent
from registered import checked_up
from targets import Target, free_port

from statuschecker.checks import grpc as grpc_check
from statuschecker.checks import grpc_probe
from statuschecker.model import CheckLimits, CheckResult, CheckSpec


class Health(HealthServicer):
    """The reference health service; `svc.Slow` answers only once `released` is set."""

    def __init__(self, released: threading.Event) -> None:
        super().__init__()
        self.released = released

    def Check(self, request: HealthCheckRequest, context: grpc.ServicerContext) -> Any:
        if request.service == "svc.Slow":
            self.released.wait(5)
        return super().Check(request, context)


class Served(NamedTuple):
    server: grpc.Server
    port: int


def serve(
    released: threading.Event | None, credentials: grpc.ServerCredentials | None = None
) -> Served:
    """A started server on 127.0.0.1 with the health service: the server SERVING, `svc.Up`
    SERVING, `svc.Down` NOT_SERVING, `svc.Odd` UNKNOWN, `svc.Slow` SERVING once `released`;
    without `released`, a server without it."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    if released is not None:
        servicer = Health(released)
        servicer.set("svc.Up", HealthCheckResponse.SERVING)
        servicer.set("svc.Down", HealthCheckResponse.NOT_SERVING)
        servicer.set("svc.Odd", HealthCheckResponse.UNKNOWN)
        servicer.set("svc.Slow", HealthCheckResponse.SERVING)
        add_HealthServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return Served(server, port)


@pytest.fixture(scope="module")
def servers(ca: trustme.CA) -> Iterator[dict[str, Served]]:
    """plain (the health service), bare (none), tls (the health service, a certificate for
    `localhost` only)."""
    leaf = ca.issue_cert("localhost")
    pair = (leaf.private_key_pem.bytes(), leaf.cert_chain_pems[0].bytes())
    released = threading.Event()
    started = {
        "plain": serve(released),
        "bare": serve(None),
        "tls": serve(released, grpc.ssl_server_credentials([pair])),
    }
    yield started
    released.set()
    for served in started.values():
        served.server.stop(None)


def url(server: Served, path: str = "", scheme: str = "grpc", host: str = "127.0.0.1") -> str:
    return f"{scheme}://{host}:{server.port}{path}"


@pytest.mark.parametrize(
    ("server", "path", "error"),
    [
        ("plain", "", None),
        ("plain", "/", None),
        ("plain", "/svc.Up", None),
        ("plain", "/svc.Down", "NOT_SERVING"),
        ("plain", "/svc.Odd", "UNKNOWN"),
        ("plain", "/svc.Nope", "SERVICE_UNKNOWN: no such service 'svc.Nope'"),
        ("bare", "", "health checking not served (UNIMPLEMENTED)"),
    ],
)
def test_the_check_reports_what_the_server_answers(
    servers: dict[str, Served], server: str, path: str, error: str | None
) -> None:
    result, elapsed = run(grpc_check.check, CheckSpec(url(servers[server], path), ANSWERED))
    assert (result.up, result.error) == (error is None, error), result
    assert result.dns_ms is not None and result.connect_ms is not None and result.tls_ms is None
    assert result.ttfb_ms is not None and result.response_time_ms is not None
    assert result.ttfb_ms <= result.response_time_ms < elapsed * 1000


def test_grpcs_verifies_the_url_host_with_the_ca_bundle(
    servers: dict[str, Served], ca_bundle: str
) -> None:
    trusted = CheckLimits(ca_bundle=ca_bundle)
    named = url(servers["tls"], "/svc.Up", "grpcs", "localhost")  # dialled at 127.0.0.1
    result, _ = run(grpc_check.check, CheckSpec(named, ANSWERED, trusted))
    assert result.up, result
    assert None not in (result.dns_ms, result.connect_ms, result.ttfb_ms, result.response_time_ms)
    untrusted, _ = run(grpc_check.check, CheckSpec(named, ANSWERED))
    # grpcio 1.85 adds ": unable to get local issuer certificate", 1.60 nothing
    assert str(untrusted.error).startswith("TLS error: certificate verify failed"), untrusted
    other_name, _ = run(
        grpc_check.check, CheckSpec(url(servers["tls"], scheme="grpcs"), ANSWERED, trusted)
    )
    assert other_name.error == "TLS error: certificate verify failed: hostname mismatch"


@pytest.mark.parametrize(
    ("scheme", "server", "error"),
    [
        ("grpcs", "plain", "TLS error: wrong version number"),
        ("grpc", "tls", "UNAVAILABLE: Socket closed"),  # as grpc says it
    ],
)
def test_a_tls_mismatch_is_down_in_words(
    servers: dict[str, Served], scheme: str, server: str, error: str
) -> None:
    result, _ = run(grpc_check.check, CheckSpec(url(servers[server], scheme=scheme), ANSWERED))
    assert (result.up, result.error, result.connect_ms) == (False, error, None), result


def test_a_slow_answer_times_out_within_the_deadline(servers: dict[str, Served]) -> None:
    result, elapsed = run(grpc_check.check, CheckSpec(url(servers["plain"], "/svc.Slow"), TIMEOUT))
    assert result.error == "timeout (reply)" and elapsed < TIMEOUT + SLACK, (result, elapsed)
    assert result.connect_ms is not None and result.ttfb_ms is None


def test_a_server_that_is_not_grpc_is_down_in_grpc_words() -> None:
    with Target("up") as target:  # HTTP/1.1
        result, _ = run(grpc_check.check, CheckSpec(f"grpc://127.0.0.1:{target.port}", ANSWERED))
    assert not result.up and str(result.error).startswith("UNAVAILABLE: "), result


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = run(grpc_check.check, CheckSpec(f"grpc://127.0.0.1:{free_port()}", ANSWERED))
    assert result == CheckResult(up=False, error="connection refused", dns_ms=result.dns_ms)


def test_a_silent_peer_times_out_within_the_deadline() -> None:
    with Peer(silent) as peer:  # accepts, never speaks HTTP/2
        result, elapsed = run(grpc_check.check, CheckSpec(peer.url("grpc"), TIMEOUT))
    assert result.error == "timeout (connect)" and elapsed < TIMEOUT + SLACK, (result, elapsed)


def test_a_cancelled_check_leaves_no_connection_past_its_deadline() -> None:
    """Closing a channel does not end grpc's connection attempt; its deadline, the check's,
    does (grpc's own is 20 s)."""
    closed = threading.Event()

    def until_closed(conn: socket.socket, stop: threading.Event) -> None:
        while conn.recv(65536):  # grpc's preface, then nothing until it closes
            pass
        closed.set()

    async def cancelled(spec: CheckSpec) -> None:
        task = asyncio.create_task(grpc_check.check(spec))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with Peer(until_closed) as peer:
        asyncio.run(cancelled(CheckSpec(peer.url("grpc"), TIMEOUT)))
        assert closed.wait(TIMEOUT + SLACK)


def test_a_failing_address_family_gives_way_to_the_next(
    servers: dict[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = servers["plain"].port

    async def both(host: str, port: int, allow_private_targets: bool) -> list[tuple[str, int]]:
        return [("::1", port), ("127.0.0.1", port)]  # nothing of ours listens on ::1

    monkeypatch.setattr(grpc_probe, "resolve", both)
    result, _ = run(grpc_check.check, CheckSpec(f"grpc://localhost:{port}", ANSWERED))
    assert result.up, result


def test_the_target_policy_holds(servers: dict[str, Served]) -> None:
    spec = CheckSpec(url(servers["plain"]), TIMEOUT, CheckLimits(allow_private_targets=False))
    result, _ = run(grpc_check.check, spec)
    assert result == CheckResult(
        up=False,
        error="refused by target policy: 127.0.0.1 is a loopback address",
        dns_ms=result.dns_ms,
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("grpc://", "url: a grpc:// URL needs a host"),
        ("grpc://health.example", "url: a grpc:// URL needs a port, as in grpc://host:port"),
        ("grpcs://health.example/pkg.Svc", "url: a grpcs:// URL needs a port"),
        ("grpc://health.example:0", "url: port 0 cannot be connected to"),
        ("grpc://health.example:99999", "url: Port out of range"),
        ("grpc://me@health.example:50051", "url: a grpc:// URL takes only a host, a port and"),
        ("grpc://health.example:50051/x?y=1", "url: a grpc:// URL takes only a host, a port"),
        ("grpcs://health.example:443/#x", "url: a grpcs:// URL takes only a host, a port"),
    ],
)
def test_urls_that_do_not_fit_are_refused(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        grpc_check.options(given, {})


def test_a_fitting_url_takes_no_options() -> None:
    assert grpc_check.options("grpcs://health.example:443/pkg.Svc", {}) == {}
    assert not grpc_check.OPTION_NAMES


def test_a_grpc_service_is_registered_and_checked_end_to_end(
    make_runtime: Callable[..., Any], account: Any, servers: dict[str, Served]
) -> None:
    body = {"name": "orders", "url": url(servers["plain"], "/svc.Up")}
    created, (tick, *_) = checked_up(make_runtime, account, body)
    assert created["kind"] == "grpc"
    assert tick["connect_ms"] is not None and tick["ttfb_ms"] is not None
