"""The ICMP check, pinging loopback only. A silent host is simulated by not sending its requests
(127.0.0.2 below): no packet ever leaves the machine."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from icmplib import ICMPRequest, ICMPv4Socket

from statuschecker.checks import icmp, run_check, validate_options
from statuschecker.model import CheckResult, CheckSpec

TIMEOUT = 2.0
SLACK = 0.5  # what a deadline may overrun by: loop start-up, cancellation, closing sockets
SILENT = "127.0.0.2"  # requests to it are dropped before they are sent
UNREACHABLE = "127.0.0.3"  # requests to it are answered with "destination host unreachable"

pytestmark = pytest.mark.skipif(icmp.icmp_mode() is None, reason="ICMP is not permitted here")


def _run(url: str, timeout: float = TIMEOUT, **options: Any) -> tuple[CheckResult, float]:
    """Check `url` with `options` (validated as at registration); return (result, seconds)."""
    spec = CheckSpec(url, timeout, options=icmp.options(url, options))
    started = time.perf_counter()
    result = asyncio.run(icmp.check(spec))
    return result, time.perf_counter() - started


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _unreachable_for(request: ICMPRequest) -> bytes:
    """An ICMP "destination host unreachable" for `request`, as a router would send it."""
    quoted_ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 1, 0,
        socket.inet_aton("127.0.0.1"), socket.inet_aton(request.destination),
    )  # fmt: skip
    quoted_icmp = struct.pack("!BBHHH", 8, 0, 0, request.id, request.sequence)
    header = struct.pack("!BBHI", 3, 1, 0, 0)
    body = quoted_ip + quoted_icmp
    return struct.pack("!BBHI", 3, 1, _checksum(header + body), 0) + body


@pytest.fixture
def fake_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ICMPRequest]]:
    """Make SILENT silent and UNREACHABLE unreachable (answered over loopback); yields the
    requests that were dropped or answered with an error."""
    real_send = ICMPv4Socket.send
    faked: list[ICMPRequest] = []

    def send(sock: ICMPv4Socket, request: ICMPRequest) -> None:
        if request.destination == SILENT:
            faked.append(request)
        elif request.destination == UNREACHABLE:
            faked.append(request)
            with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
                raw.sendto(_unreachable_for(request), ("127.0.0.1", 0))
        else:
            real_send(sock, request)

    monkeypatch.setattr(ICMPv4Socket, "send", send)
    yield faked


@pytest.fixture
def fresh_mode() -> Iterator[None]:
    """Forget the detected ICMP mode before and after the test."""
    icmp.icmp_mode.cache_clear()
    yield
    icmp.icmp_mode.cache_clear()


def test_loopback_answers(fake_hosts: list[ICMPRequest]) -> None:
    result, elapsed = _run("icmp://127.0.0.1", packet_count=3)

    assert result == CheckResult(
        up=True, response_time_ms=result.response_time_ms, packet_loss_percent=0.0
    )
    assert result.response_time_ms is not None and 0 < result.response_time_ms < elapsed * 1000
    assert not fake_hosts


def test_host_name_is_resolved_and_timed() -> None:
    result, _ = _run("icmp://localhost", packet_count=1)  # from /etc/hosts: no DNS query
    assert result.up and result.packet_loss_percent == 0.0, result
    assert result.dns_ms is not None and result.dns_ms > 0


def test_ipv6_loopback_answers() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    result, _ = _run("icmp://[::1]", packet_count=2)
    assert result.up and result.packet_loss_percent == 0.0, result


def test_silent_host_is_down_by_the_deadline(fake_hosts: list[ICMPRequest]) -> None:
    result, elapsed = _run(f"icmp://{SILENT}", timeout=0.5, packet_count=3)

    assert result == CheckResult(
        up=False, error="no reply (3 packets lost)", packet_loss_percent=100
    )
    assert len(fake_hosts) == 3
    assert elapsed < 0.5 + SLACK


def test_some_replies_lost_is_up_with_the_loss(
    fake_hosts: list[ICMPRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    redirected = iter([SILENT, "127.0.0.1", SILENT])  # the 1st and 3rd request go unanswered
    real_request = ICMPRequest

    def request(destination: str, *args: Any) -> ICMPRequest:
        return real_request(next(redirected), *args)

    monkeypatch.setattr(icmp, "ICMPRequest", request)
    result, _ = _run("icmp://127.0.0.1", timeout=1.0, packet_count=3)
    assert result.up and result.error is None, result
    assert result.packet_loss_percent == pytest.approx(200 / 3)


def test_icmp_error_is_reported(fake_hosts: list[ICMPRequest]) -> None:
    result, _ = _run(f"icmp://{UNREACHABLE}", timeout=1.0, packet_count=2)
    assert result == CheckResult(
        up=False,
        error="destination host unreachable (2 packets lost)",
        packet_loss_percent=100,
    )


def test_unresolvable_host_is_a_dns_failure(unresolvable: str) -> None:
    result, _ = _run(f"icmp://{unresolvable}")
    assert result == CheckResult(up=False, error=f"DNS failure: {unresolvable}")


def test_300_concurrent_pings_share_one_socket_and_lose_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = 0

    class CountingSocket(ICMPv4Socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            nonlocal opened
            opened += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(icmp, "ICMPv4Socket", CountingSocket)
    spec = CheckSpec("icmp://127.0.0.1", TIMEOUT, options={"packet_count": 1})

    async def ping_all() -> list[CheckResult]:
        return await asyncio.gather(*(icmp.check(spec) for _ in range(300)))

    started = time.perf_counter()
    results = asyncio.run(ping_all())
    elapsed = time.perf_counter() - started

    assert all(r.up and r.packet_loss_percent == 0.0 for r in results), results
    assert opened == 1
    assert elapsed < TIMEOUT
    print(f"300 concurrent pings of 127.0.0.1: {elapsed * 1000:.0f} ms")


def test_silent_hosts_do_not_hold_up_answering_ones(fake_hosts: list[ICMPRequest]) -> None:
    # Guards a design that bounded raw-socket pings in flight with a semaphore (32): 32 silent
    # hosts held every slot until their deadline, and every answering host queued behind them
    # was reported down.
    silent = CheckSpec(f"icmp://{SILENT}", 1.0, options={"packet_count": 1})
    answering = CheckSpec("icmp://127.0.0.1", 1.0, options={"packet_count": 1})

    async def ping_all() -> list[CheckResult]:
        checks = [icmp.check(silent) for _ in range(100)]
        checks += [icmp.check(answering) for _ in range(100)]
        return await asyncio.gather(*checks)

    results = asyncio.run(ping_all())
    assert [r.up for r in results] == [False] * 100 + [True] * 100


def test_run_check_dispatches_icmp_urls() -> None:
    url = "icmp://127.0.0.1"
    spec = CheckSpec(url, TIMEOUT, options=validate_options(url, {"packet_count": 1}))
    result = asyncio.run(run_check(spec))
    assert result.up and result.packet_loss_percent == 0.0, result


def test_check_without_icmp_permission_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(icmp, "icmp_mode", lambda: None)
    result = asyncio.run(icmp.check(CheckSpec("icmp://127.0.0.1", TIMEOUT)))
    assert result == CheckResult(up=False, error="ICMP not permitted")


@pytest.mark.parametrize(
    ("refused", "mode"),
    [
        (set(), "unprivileged"),
        ({socket.SOCK_DGRAM}, "privileged"),
        ({socket.SOCK_DGRAM, socket.SOCK_RAW}, None),
    ],
)
def test_icmp_mode_prefers_unprivileged_sockets(
    fresh_mode: None,
    monkeypatch: pytest.MonkeyPatch,
    refused: set[socket.SocketKind],
    mode: str | None,
) -> None:
    class Socket:
        def __init__(self, family: int, kind: socket.SocketKind, proto: int) -> None:
            if kind in refused:
                raise PermissionError(1, "Operation not permitted")

        def close(self) -> None:
            pass

    monkeypatch.setattr(socket, "socket", Socket)
    assert icmp.icmp_mode() == mode


def test_icmp_mode_is_detected_once(fresh_mode: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first = icmp.icmp_mode()
    monkeypatch.setattr(socket, "socket", None)  # a second detection would crash
    assert icmp.icmp_mode() == first


def test_this_host_uses_raw_sockets_when_ping_group_range_excludes_us() -> None:
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        low, high = (int(x) for x in f.read().split())
    if any(low <= group <= high for group in {os.getgid(), *os.getgroups()}):
        pytest.skip("unprivileged ICMP sockets are allowed here")
    assert icmp.icmp_mode() == "privileged"


@pytest.mark.parametrize(
    ("url", "raw", "normalised"),
    [
        ("icmp://127.0.0.1", {}, {"packet_count": 3}),
        ("icmp://example.com/", {"packet_count": 1}, {"packet_count": 1}),
        ("icmp://[2001:db8::1]", {"packet_count": 10}, {"packet_count": 10}),
        ("icmp://example.com", {"packet_count": None}, {"packet_count": 3}),
    ],
)
def test_options_are_normalised(url: str, raw: dict[str, Any], normalised: dict[str, Any]) -> None:
    assert icmp.options(url, raw) == normalised


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("icmp://h.example", {"packet_count": 0}, r"^packet_count must be an integer from 1 to 10"),
        ("icmp://h.example", {"packet_count": 11}, r"^packet_count must be"),
        ("icmp://h.example", {"packet_count": 2.0}, r"^packet_count must be"),
        ("icmp://h.example", {"packet_count": True}, r"^packet_count must be"),
        ("icmp://h.example:7", {}, r"^url: .*without a port"),
        ("icmp://h.example/ping", {}, r"^url: .*without a path"),
        ("icmp://h_x.example", {}, r"^url: 'h_x.example' is not a valid host name"),
        ("icmp://-h.example", {}, r"^url: .* is not a valid host name"),
    ],
)
def test_options_reject_what_the_check_cannot_use(
    url: str, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        icmp.options(url, raw)


def test_options_refuse_icmp_services_where_icmp_is_not_permitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(icmp, "icmp_mode", lambda: None)
    with pytest.raises(
        ValueError, match=r"^ICMP is not permitted on this host: .*ping_group_range"
    ):
        icmp.options("icmp://127.0.0.1", {})
