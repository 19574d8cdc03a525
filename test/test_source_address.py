"""Every check kind connects from `CheckLimits.source_address` (STATUSCHECKER_SOURCE_ADDRESS) to
targets of its family, and as if none were set to the others; real servers on loopback only.

On Linux the whole of 127.0.0.0/8 is local, so a check from 127.0.0.2 reaches a server on
127.0.0.1, which sees the connection come from 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from typing import Any

import dns.nameserver
import dns.resolver
import pytest
import trustme
from dnslib import RCODE, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer
from peers import Zone
from targets import Target
from waiting import wait_until

from statuschecker.checks import icmp, run_check, validate_options
from statuschecker.model import CheckLimits, CheckResult, CheckSpec
from statuschecker.net.source import source_for

TIMEOUT = 2.0
SOURCES = ("127.0.0.2", "127.0.0.3")
ZONE = "up.example.test. 60 IN A 192.0.2.1"
UNBINDABLE_V4 = "198.51.100.7"  # TEST-NET-2: no address of this machine
UNBINDABLE_V6 = "2001:db8::7"  # documentation prefix: no address of this machine


def _bindable(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not all(map(_bindable, SOURCES)), reason="127.0.0.2 and 127.0.0.3 are not local here"
)
needs_ipv6 = pytest.mark.skipif(not _bindable("::1"), reason="no IPv6 loopback")


def check(
    url: str, source: str | None, options: dict[str, Any] | None = None, **limits: Any
) -> CheckResult:
    """Run the check of `url` (options validated as at registration) from `source`."""
    spec = CheckSpec(
        url,
        TIMEOUT,
        CheckLimits(source_address=source, **limits),
        validate_options(url, options or {}),
    )
    return asyncio.run(run_check(spec))


def unavailable(source: str) -> str:
    """The error of a check whose source address is not one of this machine's."""
    code = errno.EADDRNOTAVAIL
    return f"cannot connect from {source}: [Errno {code}] {os.strerror(code)}"


@pytest.fixture(params=[UNBINDABLE_V4, UNBINDABLE_V6])
def unbindable(request: pytest.FixtureRequest) -> str:
    """A source address this machine cannot send from."""
    address: str = request.param
    if ":" in address and not _bindable("::1"):
        pytest.skip("no IPv6 loopback")
    if _bindable(address):
        pytest.skip(f"{address} can be bound here")
    return address


def loopback(source: str) -> str:
    """The loopback address of `source`'s family, where the targets listen."""
    return "::1" if ":" in source else "127.0.0.1"


# --- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "remote", "used"),
    [
        (None, "127.0.0.1", None),
        (None, "::1", None),
        ("127.0.0.2", "127.0.0.1", "127.0.0.2"),
        ("127.0.0.2", "::1", None),
        ("127.0.0.2", "fe80::1%eth0", None),
        ("::1", "::1", "::1"),
        ("2001:db8::7", "2001:db8::1", "2001:db8::7"),
        ("::1", "127.0.0.1", None),
    ],
)
def test_the_source_applies_to_remote_addresses_of_its_family(
    source: str | None, remote: str, used: str | None
) -> None:
    assert source_for(source, remote) == used


# --- http(s) -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_http_check_connects_from_the_source(source: str) -> None:
    with Target() as target:
        result = check(target.url, source)
    assert result.up, result
    assert target.peers == [source]
    assert target.last_peer == source


def test_every_request_of_a_redirect_chain_connects_from_the_source() -> None:
    with Target("redirect") as target:
        result = check(target.url, "127.0.0.3")
    assert result.up and target.hits == 2, result
    assert target.peers == ["127.0.0.3", "127.0.0.3"]


def test_target_refusing_one_source_is_down_from_it_only() -> None:
    with Target(refused_peers={"127.0.0.2"}) as target:
        refused = check(target.url, "127.0.0.2")
        served = check(target.url, "127.0.0.3")
        target.refused_peers.clear()
        served_again = check(target.url, "127.0.0.2")
    assert not refused.up and refused.status_code == 503, refused
    assert served.up and served_again.up, (served, served_again)
    assert target.peers == ["127.0.0.2", "127.0.0.3", "127.0.0.2"]


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_https_check_connects_from_the_source(server_tls: ssl.SSLContext, ca_bundle: str) -> None:
    with Target(tls=server_tls) as target:
        result = check(target.url, "127.0.0.2", ca_bundle=ca_bundle)
    assert result.up and result.tls_ms is not None, result
    assert target.peers == ["127.0.0.2"]


# --- tcp and tls -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_tcp_check_connects_from_the_source(source: str) -> None:
    with Target() as target:
        result = check(f"tcp://127.0.0.1:{target.port}", source)
        assert result.up, result
        assert wait_until(lambda: target.peers, timeout=2) == [source]


def test_tls_check_connects_from_the_source(server_tls: ssl.SSLContext, ca_bundle: str) -> None:
    with Target(tls=server_tls) as target:
        result = check(f"tls://127.0.0.1:{target.port}", "127.0.0.3", ca_bundle=ca_bundle)
        assert result.up and result.cert_expires_at is not None, result
        assert wait_until(lambda: target.peers, timeout=2) == ["127.0.0.3"]


def test_tls_check_reads_an_unverified_certificate_from_the_source(
    server_tls: ssl.SSLContext,
) -> None:
    with Target(tls=server_tls) as target:
        result = check(f"tls://127.0.0.1:{target.port}", "127.0.0.2")  # the CA is not trusted
        assert not result.up and result.error is not None, result
        assert result.error.startswith("TLS error: certificate verify failed")
        assert result.cert_expires_at is not None  # read on a second, unverified handshake
        assert wait_until(lambda: len(target.peers) == 2 and target.peers, timeout=2) == [
            "127.0.0.2",
            "127.0.0.2",
        ]


# --- dns ---------------------------------------------------------------------------------------


class RecordingZone(Zone):
    """Answers from a zone, and notes the address each query came from."""

    def __init__(self, zone: str, failing: dict[str, int] | None = None) -> None:
        super().__init__(zone, failing)
        self.peers: list[str] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        self.peers.append(handler.client_address[0])
        return super().resolve(request, handler)


@contextlib.contextmanager
def recording_dns_server(
    host: str = "127.0.0.1", failing: dict[str, int] | None = None
) -> Iterator[tuple[RecordingZone, int]]:
    """A DNS server (UDP) on `host` answering from ZONE (and the rcodes of `failing`); yields
    its zone and port."""
    zone = RecordingZone(ZONE, failing)
    server = DNSServer(zone, address=host, port=0, logger=DNSLogger(logf=lambda _: None))
    server.start_thread()
    try:
        yield zone, server.server.server_address[1]
    finally:
        server.stop()
        server.server.server_close()


@pytest.mark.parametrize("source", SOURCES)
def test_dns_check_asks_from_the_source(source: str) -> None:
    with recording_dns_server() as (zone, port):
        result = check("dns://up.example.test", source, {"resolver": f"127.0.0.1:{port}"})
    assert result.up, result
    assert zone.peers == [source]


@needs_ipv6
def test_system_resolvers_of_both_families_are_each_asked_as_the_rule_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stands in for /etc/resolv.conf. The ::1 nameserver, asked first, refuses, so the lookup
    # goes on to the IPv4 one. One source passed to every nameserver (dnspython's `source`)
    # would fail the IPv6 one on its family, unasked.
    refusing = {"up.example.test.": RCODE.REFUSED}
    with (
        recording_dns_server("::1", refusing) as (v6_zone, v6_port),
        recording_dns_server() as (v4_zone, v4_port),
    ):

        def read_resolv_conf(resolver: dns.resolver.BaseResolver, _: object) -> None:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver("::1", v6_port),
                dns.nameserver.Do53Nameserver("127.0.0.1", v4_port),
            ]

        monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", read_resolv_conf)
        started = time.perf_counter()
        result = check("dns://up.example.test", "127.0.0.2")
        elapsed = time.perf_counter() - started
    assert result.up, result
    assert elapsed < TIMEOUT / 2
    assert (v6_zone.peers, v4_zone.peers) == (["::1"], ["127.0.0.2"])


# --- the other family --------------------------------------------------------------------------


@needs_ipv6
def test_ipv6_targets_ignore_an_ipv4_source() -> None:
    with Target(host="::1") as target:
        http = check(target.url, "127.0.0.2")
        tcp = check(f"tcp://[::1]:{target.port}", "127.0.0.2")
        assert http.up and tcp.up, (http, tcp)
        assert wait_until(lambda: len(target.peers) == 2 and target.peers, timeout=2) == [
            "::1",
            "::1",
        ]
    with recording_dns_server("::1") as (zone, port):
        result = check("dns://up.example.test", "127.0.0.2", {"resolver": f"[::1]:{port}"})
    assert result.up, result
    assert zone.peers == ["::1"]


@needs_ipv6
def test_ipv4_targets_ignore_an_ipv6_source() -> None:
    with Target() as target:
        result = check(target.url, "::1")
    assert result.up, result
    assert target.peers == ["127.0.0.1"]


# --- a source that cannot be used --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "https", "tcp", "tls", "dns"])
def test_a_source_that_cannot_be_bound_fails_the_check_with_the_reason(
    kind: str, unbindable: str, server_tls: ssl.SSLContext, ca_bundle: str
) -> None:
    host = loopback(unbindable)
    shown = f"[{host}]" if ":" in host else host
    if kind == "dns":
        with recording_dns_server(host) as (zone, port):
            result = check("dns://up.example.test", unbindable, {"resolver": f"{shown}:{port}"})
        assert zone.peers == []
    else:
        tls = server_tls if kind in ("https", "tls") else None
        with Target(host=host, tls=tls) as target:
            url = f"{kind}://{shown}:{target.port}" + ("/" if kind.startswith("http") else "")
            result = check(url, unbindable, ca_bundle=ca_bundle)
        assert target.peers == []
    assert result.up is False
    assert result.error == unavailable(unbindable), result
    assert result.connect_ms is None and result.response_time_ms is None, result


# --- icmp --------------------------------------------------------------------------------------


needs_icmp = pytest.mark.skipif(icmp.icmp_mode() is None, reason="ICMP is not permitted here")


ICMP_SOURCE = "127.0.0.42"  # one that other tests (pinging in other sessions too) do not use


@contextlib.contextmanager
def echo_requests_seen() -> Iterator[list[tuple[str, str]]]:
    """(source, destination) of the IPv4 echo requests sent on this machine while the block
    runs (any process's), read from a raw socket when it ends."""
    if icmp.icmp_mode() != "privileged":
        pytest.skip("seeing echo requests takes a raw socket")
    seen: list[tuple[str, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
        raw.setblocking(False)
        yield seen
        while True:
            try:
                packet = raw.recv(2048)
            except BlockingIOError:
                break
            header = (packet[0] & 0x0F) * 4
            if packet[header] == 8:  # echo request
                source, destination = struct.unpack_from("!4s4s", packet, 12)
                seen.append((socket.inet_ntoa(source), socket.inet_ntoa(destination)))


@needs_icmp
def test_icmp_check_pings_from_the_source() -> None:
    if not _bindable(ICMP_SOURCE):
        pytest.skip(f"{ICMP_SOURCE} is not local here")
    with echo_requests_seen() as seen:
        result = check("icmp://127.0.0.1", ICMP_SOURCE, {"packet_count": 2})
    assert result.up and result.packet_loss_percent == 0.0, result
    assert seen.count((ICMP_SOURCE, "127.0.0.1")) == 2, seen


@needs_icmp
def test_icmp_checks_from_different_sources_run_side_by_side() -> None:
    specs = [
        CheckSpec(
            "icmp://127.0.0.1", TIMEOUT, CheckLimits(source_address=source), {"packet_count": 2}
        )
        for source in (None, *SOURCES)
    ]

    async def ping_all() -> list[CheckResult]:
        return await asyncio.gather(*(run_check(spec) for spec in specs * 10))

    with echo_requests_seen() as seen:
        results = asyncio.run(ping_all())
    assert all(r.up and r.packet_loss_percent == 0.0 for r in results), results
    assert {(address, "127.0.0.1") for address in ("127.0.0.1", *SOURCES)} <= set(seen), seen


@needs_icmp
@needs_ipv6
def test_icmp_to_an_ipv6_target_ignores_an_ipv4_source() -> None:
    result = check("icmp://[::1]", "127.0.0.2", {"packet_count": 1})
    assert result.up and result.packet_loss_percent == 0.0, result


@needs_icmp
def test_icmp_from_a_source_that_cannot_be_bound_is_down_with_the_reason(unbindable: str) -> None:
    host = loopback(unbindable)
    url = f"icmp://[{host}]" if ":" in host else f"icmp://{host}"
    result = check(url, unbindable, {"packet_count": 1})
    assert result == CheckResult(up=False, error=unavailable(unbindable))
