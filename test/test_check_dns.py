"""The DNS check against a real DNS server on 127.0.0.1, started by these tests."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dns.nameserver
import dns.resolver
import pytest
from dnslib import RCODE
from peers import dns_server

from statuschecker import checks
from statuschecker.checks import dns as dns_check
from statuschecker.checks import run_check, validate_options
from statuschecker.model import CheckResult, CheckSpec

TIMEOUT = 2.0
SLACK = 0.5  # what a deadline may overrun by: loop start-up, cancellation, closing sockets

ZONE = """
up.example.test.            60 IN A     192.0.2.1
up.example.test.            60 IN A     192.0.2.2
up.example.test.            60 IN AAAA  2001:db8::1
up.example.test.            60 IN MX    10 mail.example.test.
up.example.test.            60 IN MX    20 backup.example.test.
up.example.test.            60 IN TXT   "v=spf1 " "-all"
up.example.test.            60 IN TXT   "hello"
up.example.test.            60 IN NS    ns1.example.test.
up.example.test.            60 IN CAA   0 issue "letsencrypt.org"
www.example.test.           60 IN CNAME up.example.test.
_sip._tcp.example.test.     60 IN SRV   0 5 5060 sip.example.test.
1.2.0.192.in-addr.arpa.     60 IN PTR   up.example.test.
"""
FAILING = {"servfail.example.test.": RCODE.SERVFAIL, "refused.example.test.": RCODE.REFUSED}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A DNS server on 127.0.0.1 serving ZONE; yields its "address:port"."""
    with dns_server(ZONE, FAILING) as address:
        yield address


@pytest.fixture
def silent() -> Iterator[str]:
    """A resolver address where a UDP socket is bound but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _run(url: str, timeout: float = TIMEOUT, **options: Any) -> tuple[CheckResult, float]:
    """Check `url` with `options` (validated as at registration); return (result, seconds)."""
    spec = CheckSpec(url, timeout, options=dns_check.options(url, options))
    started = time.perf_counter()
    result = asyncio.run(dns_check.check(spec))
    return result, time.perf_counter() - started


@dataclass(frozen=True)
class Case:
    """One lookup and what the check must report for it."""

    id: str
    url: str
    record_type: str
    expected_value: str | None
    error: str | None  # None: up


CASES = [
    Case("A", "dns://up.example.test", "A", None, None),
    Case("A-expected", "dns://up.example.test", "A", "192.0.2.2", None),
    Case(
        "A-other",
        "dns://up.example.test",
        "A",
        "192.0.2.9",
        "answer does not contain '192.0.2.9' (got: 192.0.2.1, 192.0.2.2)",
    ),
    Case("AAAA-other-spelling", "dns://up.example.test", "AAAA", "2001:DB8:0::1", None),
    Case("MX-full", "dns://up.example.test", "MX", "10 Mail.Example.Test.", None),
    Case("MX-exchange", "dns://up.example.test", "MX", "backup.example.test", None),
    Case(
        "MX-wrong-preference",
        "dns://up.example.test",
        "MX",
        "20 mail.example.test",
        "answer does not contain '20 mail.example.test' "
        "(got: 10 mail.example.test, 20 backup.example.test)",
    ),
    Case("TXT-strings-joined", "dns://up.example.test", "TXT", "v=spf1 -all", None),
    Case(
        "TXT-case-matters",
        "dns://up.example.test",
        "TXT",
        "HELLO",
        'answer does not contain \'HELLO\' (got: "v=spf1 " "-all", "hello")',
    ),
    Case("NS", "dns://up.example.test", "NS", "ns1.example.test", None),
    Case("CAA", "dns://up.example.test", "CAA", "0 issue letsencrypt.org", None),
    Case("CNAME", "dns://www.example.test", "CNAME", "up.example.test.", None),
    Case("SRV-target", "dns://_sip._tcp.example.test", "SRV", "sip.example.test", None),
    Case("PTR-of-address", "dns://192.0.2.1", "PTR", "up.example.test", None),
    Case("NXDOMAIN", "dns://missing.example.test", "A", None, "NXDOMAIN"),
    Case("no-records", "dns://www.example.test", "MX", None, "no MX records"),
    Case("SERVFAIL", "dns://servfail.example.test", "A", None, "SERVFAIL"),
    Case("REFUSED", "dns://refused.example.test", "A", None, "resolver refused"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_dns_check_reports_what_the_server_answers(server: str, case: Case) -> None:
    result, elapsed = _run(
        case.url,
        resolver=server,
        record_type=case.record_type,
        expected_value=case.expected_value,
    )

    assert result.up is (case.error is None), result
    assert result.error == case.error
    # The server replied every time, so the lookup is timed.
    assert result.dns_ms is not None and 0 < result.dns_ms < elapsed * 1000
    assert result.response_time_ms == result.dns_ms


def test_silent_resolver_times_out_at_the_deadline(silent: str) -> None:
    result, elapsed = _run("dns://up.example.test", timeout=0.5, resolver=silent)

    assert result == CheckResult(up=False, error="timeout (deadline 0.5s)")
    assert elapsed < 0.5 + SLACK


def test_system_resolvers_are_used_without_a_resolver_option(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for /etc/resolv.conf, which cannot name a port; no query leaves the machine.
    host, port = server.split(":")

    def read_resolv_conf(resolver: dns.resolver.BaseResolver, _: object) -> None:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]

    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", read_resolv_conf)
    result, _ = _run("dns://up.example.test")
    assert result.up, result


def test_no_system_resolver_is_a_down_result(monkeypatch: pytest.MonkeyPatch) -> None:
    def read_resolv_conf(resolver: dns.resolver.BaseResolver, _: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", read_resolv_conf)
    result, _ = _run("dns://up.example.test")
    assert result == CheckResult(up=False, error="no resolver configured")


def test_run_check_dispatches_dns_urls(server: str) -> None:
    url = "dns://up.example.test"
    spec = CheckSpec(url, TIMEOUT, options=validate_options(url, {"resolver": server}))
    result = asyncio.run(run_check(spec))
    assert result.up and result.dns_ms is not None, result


def test_unvalidated_options_are_a_down_result_not_an_exception() -> None:
    spec = CheckSpec("dns://up.example.test", TIMEOUT, options={"resolver": "dns.example"})
    result = asyncio.run(dns_check.check(spec))
    assert not result.up
    assert result.error is not None and result.error.startswith("resolver must be"), result


@pytest.mark.parametrize(
    ("url", "raw", "normalised"),
    [
        ("dns://example.com", {}, {"record_type": "A"}),
        ("dns://Example.COM/", {"record_type": "mx"}, {"record_type": "MX"}),
        ("dns://_sip._tcp.example.com", {"record_type": "SRV"}, {"record_type": "SRV"}),
        ("dns://[2001:db8::1]", {"record_type": "PTR"}, {"record_type": "PTR"}),
        (
            "dns://example.com",
            {"record_type": None, "resolver": None, "expected_value": None},
            {"record_type": "A"},
        ),
        (
            "dns://example.com",
            {"resolver": "127.0.0.1:53"},
            {"record_type": "A", "resolver": "127.0.0.1"},
        ),
        (
            "dns://example.com",
            {"resolver": " [2001:DB8::53]:5353 "},
            {"record_type": "A", "resolver": "[2001:db8::53]:5353"},
        ),
        (
            "dns://example.com",
            {"resolver": "2001:db8::53"},
            {"record_type": "A", "resolver": "2001:db8::53"},
        ),
        (
            "dns://example.com",
            {"record_type": "MX", "expected_value": " 10   Mail.Example.com. "},
            {"record_type": "MX", "expected_value": "10 mail.example.com"},
        ),
        (
            "dns://example.com",
            {"record_type": "MX", "expected_value": "Mail.Example.com."},
            {"record_type": "MX", "expected_value": "mail.example.com"},
        ),
        (
            "dns://example.com",
            {"record_type": "TXT", "expected_value": "v=spf1 -all"},
            {"record_type": "TXT", "expected_value": "v=spf1 -all"},
        ),
    ],
)
def test_options_are_normalised(url: str, raw: dict[str, Any], normalised: dict[str, Any]) -> None:
    assert dns_check.options(url, raw) == normalised


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("dns://example.com", {"record_type": "ANY"}, r"^record_type must be one of A, AAAA"),
        ("dns://example.com", {"record_type": 1}, r"^record_type must be one of"),
        ("dns://example.com", {"resolver": "dns.google"}, r"^resolver must be an IP address"),
        ("dns://example.com", {"resolver": "127.0.0.1:0"}, r"^resolver .*port must be 1-65535"),
        ("dns://example.com", {"resolver": "[::1]x"}, r"^resolver must be an IP address"),
        ("dns://example.com", {"resolver": 53}, r"^resolver must be an IP address"),
        ("dns://example.com", {"expected_value": ""}, r"^expected_value must be a non-empty"),
        ("dns://example.com", {"expected_value": 5}, r"^expected_value must be a non-empty"),
        ("dns://example.com:53", {}, r"^url: .*without a port"),
        ("dns://example.com/path", {}, r"^url: .*without a path"),
        ("dns://example.com?x=1", {}, r"^url: .*without a query"),
        ("dns://user@example.com", {}, r"^url: .*without a user"),
        ("dns://exa mple.com", {}, r"^url: 'exa mple.com' is not a valid DNS name"),
        ("dns://-bad.example.com", {}, r"^url: .* is not a valid DNS name"),
        ("dns://a..b", {}, r"^url: .* is not a valid DNS name"),
        (f"dns://{'a' * 64}.com", {}, r"^url: .* is not a valid DNS name"),
        ("dns://[2001:db8::1]", {}, r"^url: .* is not a valid DNS name"),
    ],
)
def test_options_reject_what_the_check_cannot_use(
    url: str, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dns_check.options(url, raw)


def test_an_expected_value_no_record_can_match_is_kept_and_named() -> None:
    """It used to be refused with a 400 the contract did not announce."""
    options = validate_options("dns://example.com", {"expected_value": "not-an-ip"})
    assert options == {"record_type": "A", "expected_value": "not-an-ip"}
    assert checks.warnings("dns://example.com", options, 30, 10) == [
        "expected_value 'not-an-ip' is not a valid A record: no answer can match it, so "
        "the check is down"
    ]
