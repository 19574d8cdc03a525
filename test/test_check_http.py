"""The HTTP check and the check table, against real local servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from peers import ANSWERED, SLACK, TIMEOUT
from targets import Target, closed_port_url

from statuschecker import checks
from statuschecker.checks import KINDS, Check, http, kind_of, run_check, validate_options
from statuschecker.checks.expectations import PHASES
from statuschecker.model import CheckLimits, CheckResult, CheckSpec


def _run(spec: CheckSpec, check: Check = http.check) -> tuple[CheckResult, float]:
    """Run one check in a fresh event loop; return (result, elapsed seconds)."""
    started = time.perf_counter()
    result = asyncio.run(_call(check, spec))
    return result, time.perf_counter() - started


async def _call(check: Check, spec: CheckSpec) -> CheckResult:
    return await check(spec)


@dataclass(frozen=True)
class Case:
    """One target behaviour and what the check must report for it."""

    mode: str
    up: bool
    status_code: int | None
    error: tuple[str, ...] | None  # the error must start with one of these; None: no error
    max_seconds: float = 2.0


CASES = [
    Case("up", up=True, status_code=200, error=None),
    Case("down", up=False, status_code=503, error=("status 503",)),
    Case("slow", up=False, status_code=None, error=("timeout",), max_seconds=TIMEOUT + SLACK),
    Case("hang", up=False, status_code=None, error=("timeout",), max_seconds=TIMEOUT + SLACK),
    Case("refuse", up=False, status_code=None, error=("connection refused",)),
    Case("redirect-loop", up=False, status_code=None, error=("too many redirects",)),
    Case("reset", up=False, status_code=None, error=("connection reset", "protocol error: ")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.mode for case in CASES])
def test_http_check_reports_what_the_target_does(case: Case) -> None:
    with Target(case.mode) as target:
        deadline = TIMEOUT if case.error == ("timeout",) else ANSWERED
        result, elapsed = _run(CheckSpec(target.url, deadline))

    assert result.up is case.up, result
    assert result.status_code == case.status_code, result
    if case.error is None:
        assert result.error is None
    else:
        assert result.error is not None and result.error.startswith(case.error), result
    assert elapsed < case.max_seconds
    if result.status_code is None:  # no response, nothing to time
        assert result.response_time_ms is None and result.ttfb_ms is None
    else:
        assert result.ttfb_ms is not None and result.response_time_ms is not None
        assert 0 < result.ttfb_ms <= result.response_time_ms < elapsed * 1000


def test_up_sends_the_user_agent_and_reads_the_body() -> None:
    limits = CheckLimits(user_agent="statuschecker-test/1")
    with Target("up") as target:
        result, _ = _run(CheckSpec(target.url, ANSWERED, limits))
        assert result == CheckResult(
            up=True,
            response_time_ms=result.response_time_ms,
            ttfb_ms=result.ttfb_ms,
            status_code=200,
            dns_ms=0.0,  # an IP address needs no lookup
            connect_ms=result.connect_ms,
        )
        assert target.hits == 1
        assert target.last_headers["user-agent"] == "statuschecker-test/1"


@pytest.mark.parametrize("max_redirects", [0, 3])
def test_redirects_are_followed_up_to_the_limit(max_redirects: int) -> None:
    limits = CheckLimits(max_redirects=max_redirects)
    with Target("redirect-loop") as target:
        result, _ = _run(CheckSpec(target.url, ANSWERED, limits))
        assert result.error == "too many redirects"
        assert target.hits == max_redirects + 1  # the first request and each redirect followed


def test_big_body_is_read_only_up_to_the_limit() -> None:
    # 10 GiB: reading it all would take far longer than the timeout, so an up result in well
    # under a second proves the read stopped at max_body_bytes.
    limits = CheckLimits(max_body_bytes=256 * 1024)
    with Target("big", big_bytes=10 * 1024**3) as target:
        result, elapsed = _run(CheckSpec(target.url, 5.0, limits))
    assert result.up and result.status_code == 200, result
    assert elapsed < 1.0


def test_trickling_target_is_cut_off_at_the_deadline() -> None:
    # One byte every 0.1 s never trips httpx's read timeout; only the overall deadline ends it.
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def trickle() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 100:
                    if stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        try:
            result, elapsed = _run(CheckSpec(url, TIMEOUT))
        finally:
            stop.set()
            thread.join(timeout=2)
    assert (result.up, result.error) == (False, f"timeout (deadline {TIMEOUT:g}s)")
    assert result.connect_ms is not None and result.ttfb_ms is None
    assert elapsed < TIMEOUT + SLACK


def test_slow_target_within_the_timeout_is_up() -> None:
    with Target("slow", slow_seconds=0.1) as target:
        result, _ = _run(CheckSpec(target.url, 2.0))
    assert result.up, result
    assert result.ttfb_ms is not None and result.ttfb_ms >= 100


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = _run(CheckSpec(closed_port_url(), ANSWERED))
    assert result == CheckResult(up=False, error="connection refused", dns_ms=0.0)


def test_unresolvable_host_is_a_dns_failure(unresolvable: str) -> None:
    result, _ = _run(CheckSpec(f"http://{unresolvable}/", 2.0))
    assert result == CheckResult(up=False, error=f"DNS failure: {unresolvable}")


def test_tls_handshake_with_a_plain_http_server_is_a_tls_error() -> None:
    with Target("up") as target:
        result, _ = _run(CheckSpec(target.url.replace("http://", "https://"), 2.0))
    assert not result.up
    assert result.error is not None and result.error.startswith("TLS error: "), result


def test_target_refuse_relistens_on_the_same_port() -> None:
    with Target("up") as target:
        port = target.port
        target.set_mode("refuse")
        refused, _ = _run(CheckSpec(target.url, ANSWERED))
        target.set_mode("up")
        back, _ = _run(CheckSpec(target.url, ANSWERED))
    assert refused.error == "connection refused"
    assert back.up and target.port == port


def test_target_stops_promptly_with_a_handler_hanging() -> None:
    target = Target("hang").start()
    _run(CheckSpec(target.url, 0.2))
    started = time.perf_counter()
    target.stop()
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://example.com/", "http"),
        ("https://example.com:8443/health?x=1", "http"),
        ("HTTPS://EXAMPLE.COM", "http"),
        ("http://[::1]:8080/", "http"),
    ],
)
def test_kind_of_maps_scheme_to_kind(url: str, kind: str) -> None:
    assert kind_of(url) == kind


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "/health",
        "example.com",
        "",
        "http://",
        "http:///path",
        "http://h:99999/",
    ],
)
def test_kind_of_rejects_what_no_check_handles(url: str) -> None:
    with pytest.raises(ValueError, match=r"^unsupported URL"):
        kind_of(url)


def test_run_check_runs_the_check_for_the_kind() -> None:
    with Target("down") as target:
        result, _ = _run(CheckSpec(target.url, ANSWERED), run_check)
    assert (result.up, result.status_code, result.error) == (
        False,
        503,
        "status 503 not in 200-299",
    )


def test_run_check_reports_an_unsupported_url_as_down() -> None:
    result, _ = _run(CheckSpec("gopher://example.com/", TIMEOUT), run_check)
    assert not result.up
    assert result.error is not None and result.error.startswith("unsupported URL scheme 'gopher'")


def test_run_check_turns_a_crashing_check_into_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(spec: CheckSpec) -> CheckResult:
        raise RuntimeError("boom")

    monkeypatch.setitem(KINDS, "http", replace(KINDS["http"], check=broken))
    result, _ = _run(CheckSpec("http://127.0.0.1:9/", TIMEOUT), run_check)
    assert result == CheckResult(up=False, error="internal error: RuntimeError: boom")


def test_run_check_enforces_the_deadline_on_a_check_that_ignores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def sleepy(spec: CheckSpec) -> CheckResult:
        await asyncio.sleep(30)
        return CheckResult(up=True)

    monkeypatch.setitem(KINDS, "http", replace(KINDS["http"], check=sleepy))
    result, elapsed = _run(CheckSpec("http://127.0.0.1:9/", TIMEOUT), run_check)
    assert not result.up
    assert result.error is not None and result.error.startswith("timeout"), result
    assert elapsed < TIMEOUT + checks.DEADLINE_MARGIN_SECONDS + SLACK


def test_run_check_lets_cancellation_through(monkeypatch: pytest.MonkeyPatch) -> None:
    started = asyncio.Event()

    async def waiting(spec: CheckSpec) -> CheckResult:
        started.set()
        await asyncio.sleep(30)
        return CheckResult(up=True)

    async def cancel_midway() -> None:
        task = asyncio.create_task(run_check(CheckSpec("http://127.0.0.1:9/", 10.0)))
        await started.wait()
        task.cancel()
        await task

    monkeypatch.setitem(KINDS, "http", replace(KINDS["http"], check=waiting))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_midway())


# -- options and expectations, against the real check ------------------------------------------

DEGRADED = b'{"status": "degraded", "checks": [{"state": "up"}]}'


@dataclass(frozen=True)
class OptionCase:
    """Options for one target and what the check must say about it."""

    id: str
    options: dict[str, Any]
    error: str | None  # None: up
    target: dict[str, Any] = field(default_factory=lambda: {"mode": "echo"})


OPTION_CASES = [
    OptionCase(
        "method", {"method": "DELETE", "json_field": "method", "json_value": "DELETE"}, None
    ),
    OptionCase(
        "method-fails",
        {"method": "PUT", "json_field": "method", "json_value": "POST"},
        "json field method is 'PUT', expected 'POST'",
    ),
    OptionCase(
        "headers",
        {"headers": {"X-Token": "t1", "User-Agent": "mine"}, "json_field": "headers.x-token"},
        None,
    ),
    OptionCase(
        "headers-fail",
        {"headers": {"X-Token": "t1"}, "json_field": "headers.x-token", "json_value": "t2"},
        "json field headers.x-token is 't1', expected 't2'",
    ),
    OptionCase(
        "body",
        {
            "method": "POST",
            "body": "ping \u00e9",
            "json_field": "body",
            "json_value": "ping \u00e9",
        },
        None,
    ),
    OptionCase(
        "body-fails",
        {"method": "POST", "body": "ping", "json_field": "body", "json_value": "pong"},
        "json field body is 'ping', expected 'pong'",
    ),
    OptionCase("expected_status", {"expected_status": [301, "400-404"]}, None, {"status": 404}),
    OptionCase(
        "expected_status-fails",
        {"expected_status": [301, "400-403"]},
        "status 404 not in 301, 400-403",
        {"status": 404},
    ),
    OptionCase("default_status-fails", {}, "status 404 not in 200-299", {"status": 404}),
    OptionCase("follow_redirects", {"follow_redirects": True}, None, {"mode": "redirect"}),
    OptionCase(
        "follow_redirects-fails",
        {"follow_redirects": False},
        "status 302 not in 200-299",
        {"mode": "redirect"},
    ),
    OptionCase("body_contains", {"body_contains": "all ok"}, None, {"body": b"all ok"}),
    OptionCase(
        "body_contains-fails",
        {"body_contains": "ok"},
        "body does not contain 'ok'",
        {"body": b"all good"},
    ),
    OptionCase("body_regex", {"body_regex": r"^all (ok|good)$"}, None, {"body": b"all good"}),
    OptionCase(
        "body_regex-fails",
        {"body_regex": "^all ok$"},
        "body does not match '^all ok$'",
        {"body": b"all good"},
    ),
    OptionCase("json_field", {"json_field": "checks.0.state"}, None, {"body": DEGRADED}),
    OptionCase(
        "json_field-fails",
        {"json_field": "checks.1.state"},
        "json field checks.1.state is missing",
        {"body": DEGRADED},
    ),
    OptionCase(
        "json_value",
        {"json_field": "checks", "json_value": [{"state": "up"}]},
        None,
        {"body": DEGRADED},
    ),
    OptionCase(
        "json_value-fails",
        {"json_field": "status", "json_value": "ok"},
        "json field status is 'degraded', expected 'ok'",
        {"body": DEGRADED},
    ),
    OptionCase("not-json", {"json_field": "status"}, "body is not JSON", {"body": b"ok"}),
    OptionCase(
        "all-fail",
        {"body_contains": "ok", "json_field": "status", "json_value": "ok"},
        "status 503 not in 200-299; body does not contain 'ok'; "
        "json field status is 'degraded', expected 'ok'",
        {"status": 503, "body": b'{"status": "degraded"}'},
    ),
    OptionCase("max_phase_ms", {"max_phase_ms": {p: 2000 for p in PHASES}}, None),
    # max_phase_ms failing: test_a_slow_phase_over_its_limit_is_down, test_https_tls_phase_...
]


@pytest.mark.parametrize("case", OPTION_CASES, ids=[case.id for case in OPTION_CASES])
def test_each_option_is_applied(case: OptionCase) -> None:
    target_args = {"mode": "serve", **case.target}
    with Target(**target_args) as target:
        spec = CheckSpec(target.url, 2.0, options=validate_options(target.url, case.options))
        result, _ = _run(spec)
    assert result.up is (case.error is None), result
    assert result.error == case.error
    assert result.status_code is not None


def test_the_request_options_reach_the_target() -> None:
    options = {"method": "patch", "headers": {"X-Token": "t1"}, "body": '{"a": 1}'}
    with Target("serve") as target:
        result, _ = _run(CheckSpec(target.url, 2.0, options=validate_options(target.url, options)))
        assert result.up, result
        assert (target.last_method, target.last_body) == ("PATCH", b'{"a": 1}')
        assert target.last_headers["x-token"] == "t1"
        assert target.last_headers["host"] == f"127.0.0.1:{target.port}"


def test_what_cannot_apply_is_left_out_of_the_check() -> None:
    """Kept but unusable settings (see the service's warnings) do not reach the target: a
    header the check cannot send, a body expectation of a HEAD request."""
    options = {
        "method": "HEAD",
        "headers": {"X-Token": "t1", "Bad Name": "v", "Host": "elsewhere.test"},
        "body_contains": "never there",
    }
    with Target("serve") as target:
        result, _ = _run(CheckSpec(target.url, 2.0, options=validate_options(target.url, options)))
        assert result.up, result
        assert target.last_method == "HEAD"
        assert target.last_headers["x-token"] == "t1"
        assert "bad name" not in target.last_headers
        assert target.last_headers["host"] == f"127.0.0.1:{target.port}"


def test_a_body_regex_that_does_not_compile_is_down_with_the_reason() -> None:
    options = validate_options("http://127.0.0.1/", {"body_regex": "(unclosed"})
    with Target("serve") as target:
        result, _ = _run(CheckSpec(target.url, 2.0, options=options))
        assert not result.up
        assert result.error == (
            "body_regex is not a valid regular expression: missing ) at position 9"
        )


def test_a_redirect_is_followed_with_the_method_httpx_would_use() -> None:
    # 302 turns a POST into a GET without a body, as browsers and httpx do.
    options = {"method": "POST", "body": "x"}
    with Target("redirect") as target:
        result, _ = _run(CheckSpec(target.url, 2.0, options=options))
        assert result.up, result
        assert (target.hits, target.last_method, target.last_body) == (2, "GET", b"")


@pytest.mark.parametrize("same_origin", [True, False])
def test_credentials_follow_a_redirect_only_within_the_origin(same_origin: bool) -> None:
    options = {"headers": {"Authorization": "Bearer s3cret", "X-Trace": "1"}}
    with Target("redirect") as target:
        host = "127.0.0.1" if same_origin else "localhost"
        target.location = f"http://{host}:{target.port}/redirected"
        result, _ = _run(CheckSpec(target.url, 2.0, options=options))
        assert result.up and target.hits == 2, result
        assert target.last_headers.get("authorization") == (
            "Bearer s3cret" if same_origin else None
        )
        assert target.last_headers["x-trace"] == "1"


def test_a_redirect_to_another_scheme_is_down() -> None:
    with Target("redirect", location="ftp://127.0.0.1/") as target:
        result, _ = _run(CheckSpec(target.url, 2.0))
    assert result.error == "redirect to an unsupported URL scheme 'ftp'"


def test_a_body_cut_at_max_body_bytes_says_so() -> None:
    limits = CheckLimits(max_body_bytes=1024)
    options = {"body_contains": "y", "body_regex": "x{1024}"}
    with Target("big", big_bytes=10 * 1024**2) as target:
        result, _ = _run(CheckSpec(target.url, 2.0, limits, options))
    assert not result.up
    assert result.error == "body does not contain 'y' in its first 1024 bytes (max_body_bytes)"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_phases_are_timed_over_http(host: str) -> None:
    with Target("serve") as target:
        result, _ = _run(CheckSpec(f"http://{host}:{target.port}/", 2.0))
    assert result.up, result
    assert_plausible_phases(result)
    assert result.tls_ms is None and result.cert_expires_at is None
    assert result.dns_ms is not None
    assert result.dns_ms == 0.0 if host == "127.0.0.1" else result.dns_ms > 0


def test_phases_of_a_redirect_chain_are_the_final_requests() -> None:
    # From a name (looked up) to an address (no lookup): the DNS phase is the final request's.
    with Target("redirect") as target:
        target.location = f"http://127.0.0.1:{target.port}/redirected"
        result, _ = _run(CheckSpec(f"http://localhost:{target.port}/", 2.0))
        assert result.up and target.hits == 2, result
    assert_plausible_phases(result)
    assert result.dns_ms == 0.0


def test_the_next_address_is_tried_when_one_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The name resolves to two addresses; TCP refuses a broadcast address at once, locally.
    async def getaddrinfo(_: object, host: str, port: int, **__: object) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in ("255.255.255.255", "127.0.0.1")
        ]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    with Target("serve") as target:
        url = f"http://statuschecker-test.invalid:{target.port}/"
        result, _ = _run(CheckSpec(url, 2.0))
        assert result.up, result
        assert target.last_headers["host"] == f"statuschecker-test.invalid:{target.port}"


def test_a_slow_phase_over_its_limit_is_down() -> None:
    options = {"max_phase_ms": {"total": 50, "ttfb": 50, "connect": 0.0001}}
    with Target("slow", slow_seconds=0.1) as target:
        result, _ = _run(CheckSpec(target.url, 2.0, options=options))
    assert not result.up
    assert result.error is not None
    assert re.fullmatch(  # in the order of the phases
        r"connect phase \S+ ms > 0.0001 ms; ttfb phase \d{3,} ms > 50 ms; "
        r"total phase \d{3,} ms > 50 ms",
        result.error,
    )


def assert_plausible_phases(result: CheckResult) -> None:
    """Each phase measured and not negative, and the parts fit inside the whole."""
    assert result.dns_ms is not None and result.connect_ms is not None
    assert result.ttfb_ms is not None and result.response_time_ms is not None
    parts = [result.dns_ms, result.connect_ms, result.tls_ms or 0.0]
    assert all(part >= 0 for part in parts), result
    assert sum(parts) <= result.ttfb_ms <= result.response_time_ms, result


# -- HTTPS against a local CA --------------------------------------------------------------------

NOT_AFTER = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A TLS server context with a certificate for `names`, valid until NOT_AFTER."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names, not_after=NOT_AFTER).configure_cert(context)
    return context


def test_https_reports_tls_phase_and_certificate_expiry(ca: trustme.CA, ca_bundle: str) -> None:
    limits = CheckLimits(ca_bundle=ca_bundle)
    with Target("serve", tls=server_context(ca, "localhost")) as target:
        result, _ = _run(CheckSpec(f"https://localhost:{target.port}/", 2.0, limits))
        assert result.up, result
        assert target.last_headers["host"] == f"localhost:{target.port}"
    assert result.tls_ms is not None and result.tls_ms > 0
    assert_plausible_phases(result)
    assert result.cert_expires_at == NOT_AFTER


def test_https_tls_phase_over_its_limit_is_down(ca: trustme.CA, ca_bundle: str) -> None:
    limits = CheckLimits(ca_bundle=ca_bundle)
    options = {"max_phase_ms": {"tls": 0.0001, "dns": 0.0001}}
    with Target("serve", tls=server_context(ca, "localhost")) as target:
        result, _ = _run(CheckSpec(f"https://localhost:{target.port}/", 2.0, limits, options))
    assert not result.up and result.error is not None
    assert re.fullmatch(r"dns phase \S+ ms > 0.0001 ms; tls phase \S+ ms > 0.0001 ms", result.error)


def test_https_checks_the_certificate_against_the_url_host_not_the_address(
    ca: trustme.CA, ca_bundle: str
) -> None:
    # The check connects to the address it resolved (127.0.0.1), yet a certificate valid only
    # for that address must not pass for https://localhost: the host name is still verified.
    limits = CheckLimits(ca_bundle=ca_bundle)
    with Target("serve", tls=server_context(ca, "127.0.0.1")) as target:
        by_address, _ = _run(CheckSpec(target.url, 2.0, limits))
        by_name, _ = _run(CheckSpec(f"https://localhost:{target.port}/", 2.0, limits))
    assert by_address.up, by_address
    assert not by_name.up
    assert by_name.error is not None
    assert by_name.error.startswith("TLS error: certificate verify failed: Hostname mismatch")
    assert by_name.connect_ms is not None and by_name.tls_ms is None


def test_https_with_a_ca_not_trusted_is_a_tls_error(ca: trustme.CA) -> None:
    with Target("serve", tls=server_context(ca, "localhost")) as target:
        result, _ = _run(CheckSpec(f"https://localhost:{target.port}/", 2.0))
    assert result.error is not None
    assert result.error.startswith("TLS error: certificate verify failed: unable to get local")
