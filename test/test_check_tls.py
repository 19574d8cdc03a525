"""The TLS check and its options, against a real local TLS server with trustme certificates."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from peers import ANSWERED, SLACK, TIMEOUT, Peer, run, serving_tls, silent
from targets import free_port

from statuschecker.checks import run_check, tls, validate_options
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

DAY = timedelta(days=1)


@pytest.fixture
def ca() -> trustme.CA:
    """A fresh certificate authority for the test."""
    return trustme.CA()


@pytest.fixture
def trusting(ca: trustme.CA, tmp_path: Path) -> CheckLimits:
    """Limits that trust the test's CA besides certifi's."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return CheckLimits(ca_bundle=str(path))


def issue(ca: trustme.CA, not_after: datetime, *hosts: str) -> trustme.LeafCert:
    """A certificate from `ca` for `hosts` (127.0.0.1 by default), valid until `not_after`."""
    return ca.issue_cert(*(hosts or ("127.0.0.1",)), not_after=not_after)


def expiry(cert: trustme.LeafCert) -> datetime:
    """The end of validity of a leaf certificate, as the check should record it."""
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).not_valid_after_utc


def test_valid_certificate_is_up_with_its_expiry_and_timings(
    ca: trustme.CA, trusting: CheckLimits
) -> None:
    cert = issue(ca, datetime.now(UTC) + 400 * DAY)
    with Peer(serving_tls(cert)) as peer:
        result, elapsed = run(tls.check, CheckSpec(peer.url("tls"), ANSWERED, trusting))

    assert result.up and result.error is None, result
    assert result.cert_expires_at == expiry(cert)
    days_left = (result.cert_expires_at - datetime.now(UTC)) / DAY
    assert 399 < days_left <= 400
    assert result.dns_ms is not None and result.connect_ms is not None
    assert result.tls_ms is not None and result.response_time_ms is not None
    assert result.dns_ms + result.connect_ms + result.tls_ms <= result.response_time_ms
    assert result.response_time_ms < elapsed * 1000


def test_certificate_expiring_within_min_cert_days_is_down(
    ca: trustme.CA, trusting: CheckLimits
) -> None:
    cert = issue(ca, datetime.now(UTC) + 3 * DAY)
    with Peer(serving_tls(cert)) as peer:
        spec = CheckSpec(peer.url("tls"), ANSWERED, trusting, {"min_cert_days": 14})
        result, _ = run(tls.check, spec)
    assert result.error == "certificate expires in 3.0 days (minimum 14)", result
    assert not result.up
    assert result.cert_expires_at == expiry(cert)
    assert result.response_time_ms is not None and result.tls_ms is not None


def test_min_cert_days_defaults_to_14_and_0_accepts_any_valid_certificate(
    ca: trustme.CA, trusting: CheckLimits
) -> None:
    cert = issue(ca, datetime.now(UTC) + 10 * DAY)
    with Peer(serving_tls(cert)) as peer:
        by_default, _ = run(tls.check, CheckSpec(peer.url("tls"), ANSWERED, trusting))
        zero, _ = run(
            tls.check, CheckSpec(peer.url("tls"), ANSWERED, trusting, {"min_cert_days": 0})
        )
    assert by_default.error == "certificate expires in 10.0 days (minimum 14)"
    assert zero.up, zero


def test_expired_certificate_is_down_with_its_past_expiry(
    ca: trustme.CA, trusting: CheckLimits
) -> None:
    cert = issue(ca, datetime.now(UTC) - 2 * DAY)
    with Peer(serving_tls(cert)) as peer:
        result, _ = run(tls.check, CheckSpec(peer.url("tls"), ANSWERED, trusting))
    assert result.error == "certificate expired", result
    assert result.cert_expires_at == expiry(cert)
    assert result.cert_expires_at < datetime.now(UTC)
    assert result.tls_ms is None and result.response_time_ms is None  # the handshake failed


@pytest.mark.parametrize(
    ("hosts", "trusted", "reason"),
    [
        (("127.0.0.1",), False, "unable to get local issuer certificate"),
        (("example.org",), True, "IP address mismatch"),
    ],
    ids=["untrusted-ca", "wrong-host"],
)
def test_unverifiable_certificate_is_a_tls_error_with_its_expiry(
    ca: trustme.CA, trusting: CheckLimits, hosts: tuple[str, ...], trusted: bool, reason: str
) -> None:
    cert = issue(ca, datetime.now(UTC) + 400 * DAY, *hosts)
    limits = trusting if trusted else CheckLimits()
    with Peer(serving_tls(cert)) as peer:
        result, _ = run(tls.check, CheckSpec(peer.url("tls"), ANSWERED, limits))
    assert not result.up
    assert result.error is not None
    assert result.error.startswith(f"TLS error: certificate verify failed: {reason}"), result
    assert result.cert_expires_at == expiry(cert)


def test_server_that_never_answers_the_handshake_times_out() -> None:
    with Peer(silent) as peer:
        result, elapsed = run(tls.check, CheckSpec(peer.url("tls"), TIMEOUT))
    assert result.error == "timeout (handshake)", result
    assert result.connect_ms is not None and result.cert_expires_at is None
    assert elapsed < TIMEOUT + SLACK


def test_plain_tcp_server_is_a_tls_error() -> None:
    def http(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with Peer(http) as peer:
        result, _ = run(tls.check, CheckSpec(peer.url("tls"), ANSWERED))
    assert not result.up and result.cert_expires_at is None
    assert result.error is not None and result.error.startswith("TLS error: "), result


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = run(tls.check, CheckSpec(f"tls://127.0.0.1:{free_port()}", ANSWERED))
    assert result == CheckResult(up=False, error="connection refused", dns_ms=result.dns_ms)


def test_run_check_runs_the_tls_check(ca: trustme.CA, trusting: CheckLimits) -> None:
    cert = issue(ca, datetime.now(UTC) + 400 * DAY)
    with Peer(serving_tls(cert)) as peer:
        result, _ = run(run_check, CheckSpec(peer.url("tls"), ANSWERED, trusting))
    assert result.up, result


@pytest.mark.parametrize(
    ("url", "raw", "expected"),
    [
        ("tls://example.com", {}, {"min_cert_days": 14}),
        ("tls://example.com:8443/", {"min_cert_days": 0}, {"min_cert_days": 0}),
        ("tls://example.com", {"min_cert_days": 3650}, {"min_cert_days": 3650}),
        ("tls://example.com", {"min_cert_days": None}, {"min_cert_days": 14}),
    ],
)
def test_options_default_min_cert_days(
    url: str, raw: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert tls.options(url, raw) == expected


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("tls://example.com/health", {}, "url: a tls:// URL takes only a host and a port"),
        ("tls://", {}, "url: a tls:// URL needs a host"),
        ("tls://example.com", {"min_cert_days": -1}, "min_cert_days must be an integer"),
        ("tls://example.com", {"min_cert_days": 3651}, "min_cert_days must be an integer"),
        ("tls://example.com", {"min_cert_days": 14.0}, "min_cert_days must be an integer"),
        ("tls://example.com", {"min_cert_days": True}, "min_cert_days must be an integer"),
        ("tls://example.com", {"min_cert_days": "14"}, "min_cert_days must be an integer"),
    ],
)
def test_options_reject_what_does_not_fit(url: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        tls.options(url, raw)


def test_validate_options_routes_tls_urls_here() -> None:
    assert validate_options("tls://example.com", {"max_response_time_ms": 300}) == {
        "min_cert_days": 14,
        "max_response_time_ms": 300,
    }
