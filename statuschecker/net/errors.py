"""The text of a network failure, shared by every check and the webhook sender: short,
precise and the same for the same cause ("timeout (connect)", "connection refused",
"DNS failure: host", "TLS error: certificate verify failed: ...", "connection reset",
"cannot connect from 10.9.9.9: [Errno 99] Cannot assign requested address")."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import httpx

from statuschecker.net.source import SourceUnavailable

_TIMEOUT_PHASES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connect"),
    (httpx.ReadTimeout, "read"),
    (httpx.WriteTimeout, "write"),
    (httpx.PoolTimeout, "pool"),
)


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
    """Name a root cause the operator can act on: DNS, refused, TLS, reset or a source address
    that cannot be used; else None."""
    if isinstance(cause, SourceUnavailable):
        return str(cause)
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
