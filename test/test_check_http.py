"""The HTTP check and the check table, against real local servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import pytest
from targets import Target, closed_port_url

from statuschecker import checks
from statuschecker.checks import CHECKS, Check, http, kind_of, run_check
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

TIMEOUT = 0.5
SLACK = 0.5  # what a deadline may overrun by: loop start-up, cancellation, closing sockets


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
        result, elapsed = _run(CheckSpec(target.url, TIMEOUT))

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
        result, _ = _run(CheckSpec(target.url, TIMEOUT, limits))
        assert result == CheckResult(
            up=True,
            response_time_ms=result.response_time_ms,
            ttfb_ms=result.ttfb_ms,
            status_code=200,
        )
        assert target.hits == 1
        assert target.last_headers["user-agent"] == "statuschecker-test/1"


@pytest.mark.parametrize("max_redirects", [0, 3])
def test_redirects_are_followed_up_to_the_limit(max_redirects: int) -> None:
    limits = CheckLimits(max_redirects=max_redirects)
    with Target("redirect-loop") as target:
        result, _ = _run(CheckSpec(target.url, TIMEOUT, limits))
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
    assert result == CheckResult(up=False, error=f"timeout (deadline {TIMEOUT:g}s)")
    assert elapsed < TIMEOUT + SLACK


def test_slow_target_within_the_timeout_is_up() -> None:
    with Target("slow", slow_seconds=0.1) as target:
        result, _ = _run(CheckSpec(target.url, 2.0))
    assert result.up, result
    assert result.ttfb_ms is not None and result.ttfb_ms >= 100


def test_nothing_listening_is_connection_refused() -> None:
    result, _ = _run(CheckSpec(closed_port_url(), TIMEOUT))
    assert result == CheckResult(up=False, error="connection refused")


def test_unresolvable_host_is_a_dns_failure() -> None:
    # .invalid is reserved (RFC 6761): resolvers answer NXDOMAIN without asking anyone.
    result, _ = _run(CheckSpec("http://statuschecker-test.invalid/", 2.0))
    assert result == CheckResult(up=False, error="DNS failure: statuschecker-test.invalid")


def test_tls_handshake_with_a_plain_http_server_is_a_tls_error() -> None:
    with Target("up") as target:
        result, _ = _run(CheckSpec(target.url.replace("http://", "https://"), 2.0))
    assert not result.up
    assert result.error is not None and result.error.startswith("TLS error: "), result


def test_target_refuse_relistens_on_the_same_port() -> None:
    with Target("up") as target:
        port = target.port
        target.set_mode("refuse")
        refused, _ = _run(CheckSpec(target.url, TIMEOUT))
        target.set_mode("up")
        back, _ = _run(CheckSpec(target.url, TIMEOUT))
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
        result, _ = _run(CheckSpec(target.url, TIMEOUT), run_check)
    assert (result.up, result.status_code, result.error) == (False, 503, "status 503")


def test_run_check_reports_an_unsupported_url_as_down() -> None:
    result, _ = _run(CheckSpec("gopher://example.com/", TIMEOUT), run_check)
    assert not result.up
    assert result.error is not None and result.error.startswith("unsupported URL scheme 'gopher'")


def test_run_check_turns_a_crashing_check_into_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(spec: CheckSpec) -> CheckResult:
        raise RuntimeError("boom")

    monkeypatch.setitem(CHECKS, "http", broken)
    result, _ = _run(CheckSpec("http://127.0.0.1:9/", TIMEOUT), run_check)
    assert result == CheckResult(up=False, error="internal error: RuntimeError: boom")


def test_run_check_enforces_the_deadline_on_a_check_that_ignores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def sleepy(spec: CheckSpec) -> CheckResult:
        await asyncio.sleep(30)
        return CheckResult(up=True)

    monkeypatch.setitem(CHECKS, "http", sleepy)
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

    monkeypatch.setitem(CHECKS, "http", waiting)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_midway())
