"""HTTP(S) check: GET the URL on a fresh connection, follow redirects, read a bounded body.

Up means the final response has a 2xx status. A failing target is a down result whose `error`
names the reason ("timeout (connect)", "connection refused", "DNS failure: host", ...); only
`asyncio.CancelledError` propagates.

Cost per check is kept small on purpose: one module-level TLS context (building one costs
milliseconds), a fresh `AsyncClient` with its own transport per check (a shared pool degrades
under high concurrency and would hide connection problems behind kept-alive sockets), and no
work the check does not need (no proxy lookup from the environment, no body decoding).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Iterator

import certifi
import httpx

from statuschecker.model import CheckResult, CheckSpec

# Built once: verifying against certifi's bundle, the same trust store httpx uses by default.
TLS_CONTEXT = ssl.create_default_context(cafile=certifi.where())

_TIMEOUT_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connect"),
    (httpx.ReadTimeout, "read"),
    (httpx.WriteTimeout, "write"),
    (httpx.PoolTimeout, "pool"),
)


class _TooManyRedirects(Exception):
    """The redirect chain is longer than the limit allows."""


async def check(spec: CheckSpec) -> CheckResult:
    """GET `spec.url` within `spec.timeout_seconds` and report what the final response says."""
    started = time.perf_counter()
    deadline = asyncio.timeout(spec.timeout_seconds)
    try:
        async with deadline, _client(spec) as client:
            return await _probe(client, spec, started)
    except TimeoutError as exc:
        if deadline.expired():
            return _down(f"timeout (deadline {spec.timeout_seconds:g}s)")
        return _down(describe_error(exc, spec.url))
    except _TooManyRedirects:
        return _down("too many redirects")
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return _down(describe_error(exc, spec.url))


def _client(spec: CheckSpec) -> httpx.AsyncClient:
    """A client with its own one-shot transport, closed when the check ends."""
    transport = httpx.AsyncHTTPTransport(verify=TLS_CONTEXT, retries=0)
    return httpx.AsyncClient(
        transport=transport,
        headers={"User-Agent": spec.limits.user_agent},
        timeout=httpx.Timeout(spec.timeout_seconds),
        follow_redirects=False,  # followed by hand in `_final_response`: see there why
        trust_env=False,
    )


async def _probe(client: httpx.AsyncClient, spec: CheckSpec, started: float) -> CheckResult:
    """Send the request, time the headers and the bounded body, and judge the status."""
    response = await _final_response(client, spec)
    try:
        ttfb_ms = _ms_since(started)
        await _read_bounded(response, spec.limits.max_body_bytes)
        total_ms = _ms_since(started)
    finally:
        await response.aclose()
    status = response.status_code
    up = 200 <= status < 300
    return CheckResult(
        up=up,
        response_time_ms=total_ms,
        ttfb_ms=ttfb_ms,
        status_code=status,
        error=None if up else f"status {status}",
    )


async def _final_response(client: httpx.AsyncClient, spec: CheckSpec) -> httpx.Response:
    """Follow up to `max_redirects` redirects; return the final response, body unread.

    Redirects are followed here rather than by httpx because httpx reads every intermediate
    redirect body in full, without any bound.
    """
    request = client.build_request("GET", spec.url)
    for _ in range(spec.limits.max_redirects + 1):
        response = await client.send(request, stream=True)
        if response.next_request is None:
            return response
        await response.aclose()
        request = response.next_request
    raise _TooManyRedirects


async def _read_bounded(response: httpx.Response, max_bytes: int) -> int:
    """Read at most about `max_bytes` of the raw body, keep none of it; return the count."""
    received = 0
    if max_bytes <= 0:
        return received
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received >= max_bytes:
            break
    return received


def describe_error(exc: BaseException, url: str) -> str:
    """A short, precise reason for a failed request, from the exception and its causes."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return _describe_timeout(exc)
    for cause in _causes(exc):
        reason = _describe_os_cause(cause, url)
        if reason is not None:
            return reason
    if isinstance(exc, httpx.ProtocolError):
        return f"protocol error: {exc}"
    return _class_and_message(exc)


def _describe_timeout(exc: BaseException) -> str:
    """'timeout (<phase>)' when httpx says which phase timed out, else 'timeout'."""
    for cls, phase in _TIMEOUT_PHASES:
        if isinstance(exc, cls):
            return f"timeout ({phase})"
    return "timeout"


def _describe_os_cause(cause: BaseException, url: str) -> str | None:
    """Name a root cause the operator can act on: DNS, refused, TLS or reset; else None."""
    if isinstance(cause, socket.gaierror):
        return f"DNS failure: {_host(url)}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS error: {_tls_reason(cause)}"
    if not isinstance(cause, OSError):
        return None
    if isinstance(cause, ConnectionRefusedError) or cause.errno == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(cause, ConnectionResetError) or cause.errno == errno.ECONNRESET:
        return "connection reset"
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes/contexts and the members of any exception group, once each."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def _tls_reason(exc: ssl.SSLError) -> str:
    """The most readable part of an SSL error."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if exc.reason:
        return exc.reason.lower().replace("_", " ")  # WRONG_VERSION_NUMBER -> wrong version number
    return str(exc)


def _host(url: str) -> str:
    """The host part of a URL, or the URL itself when it has none."""
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return url


def _class_and_message(exc: BaseException) -> str:
    """'<ExceptionClass>: <message>', or the class alone when the message is empty."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _ms_since(started: float) -> float:
    """Milliseconds elapsed since a `time.perf_counter()` reading."""
    return (time.perf_counter() - started) * 1000.0


def _down(error: str) -> CheckResult:
    """A down result with a reason and no response to time."""
    return CheckResult(up=False, error=error)
