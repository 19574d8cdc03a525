"""Check kinds, one module each with one signature, registered in one table keyed by kind.

A new kind is a new module with `async def check(spec: CheckSpec) -> CheckResult` and
`def options(url, raw) -> dict` (its registration options checked and normalised, and the URL
checked for what the kind needs; ValueError naming what is at fault), entries in `CHECKS` and
`OPTIONS`, and the URL schemes that select it in `SCHEMES`. `run_check` is the generic handler:
it owns the deadline and the response-time limit, and turns a crashing check into a down
result, so a check does protocol work only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import structlog

from statuschecker.checks import dns, http, icmp, tcp, tls
from statuschecker.model import CheckResult, CheckSpec

Check = Callable[[CheckSpec], Awaitable[CheckResult]]
Options = Callable[[str, Mapping[str, Any]], dict[str, Any]]

CHECKS: dict[str, Check] = {
    "http": http.check,
    "tcp": tcp.check,
    "icmp": icmp.check,
    "dns": dns.check,
    "tls": tls.check,
}
"""The check for each kind."""

OPTIONS: dict[str, Options] = {
    "http": http.options,
    "tcp": tcp.options,
    "icmp": icmp.options,
    "dns": dns.options,
    "tls": tls.options,
}
"""The options validator of each kind."""

SCHEMES: dict[str, str] = {
    "http": "http",
    "https": "http",
    "tcp": "tcp",
    "icmp": "icmp",
    "dns": "dns",
    "tls": "tls",
}
"""The kind each URL scheme selects."""

COMMON_OPTIONS = frozenset({"max_response_time_ms"})
"""Options every kind takes; `run_check` applies them."""

DEADLINE_MARGIN_SECONDS = 0.25
"""Grace beyond `spec.timeout_seconds` before `run_check` gives up on a check that overran."""

_log = structlog.get_logger(__name__)


def validate_options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The options for a service checking `url`, checked and normalised; ValueError when the
    URL does not suit its kind or an option is invalid or does not apply to the kind."""
    kind = kind_of(url)
    common = {k: v for k, v in raw.items() if k in COMMON_OPTIONS}
    limit = common.get("max_response_time_ms")
    if limit is not None and not (isinstance(limit, int | float) and limit > 0):
        raise ValueError("max_response_time_ms must be a positive number")
    own = OPTIONS[kind](url, {k: v for k, v in raw.items() if k not in COMMON_OPTIONS})
    return {**own, **{k: v for k, v in common.items() if v is not None}}


def kind_of(url: str) -> str:
    """The check kind for a URL; ValueError when no check handles it."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- parsed only to reject an out-of-range or malformed port
    except ValueError as exc:
        raise ValueError(f"unsupported URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        supported = ", ".join(sorted(SCHEMES))
        shown = repr(scheme) if scheme else "(none, relative URL)"
        raise ValueError(f"unsupported URL scheme {shown} in {url!r}; supported: {supported}")
    if not parts.hostname:
        raise ValueError(f"unsupported URL {url!r}: no host")
    return SCHEMES[scheme]


async def run_check(spec: CheckSpec) -> CheckResult:
    """Run the check for `spec.url`'s kind and always return a result.

    1. An unsupported URL is a down result with the reason from `kind_of`.
    2. The check gets `spec.timeout_seconds` plus a small margin; past that it is cancelled and
       the result is down "timeout".
    3. A successful result slower than the `max_response_time_ms` option is down, with that
       reason.
    4. Any other exception from the check is a bug, not a target failure: it is logged with its
       traceback and becomes a down result "internal error: <Class>: <msg>", so one broken
       check cannot crash the poller. Only `asyncio.CancelledError` propagates.
    """
    try:
        kind = kind_of(spec.url)
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    deadline = asyncio.timeout(spec.timeout_seconds + DEADLINE_MARGIN_SECONDS)
    try:
        async with deadline:
            result = await CHECKS[kind](spec)
        return _within_limit(spec, result)
    except TimeoutError as exc:
        if deadline.expired():
            return CheckResult(up=False, error=f"timeout (deadline {spec.timeout_seconds:g}s)")
        return _internal_error(spec, kind, exc)
    except Exception as exc:
        return _internal_error(spec, kind, exc)


def _within_limit(spec: CheckSpec, result: CheckResult) -> CheckResult:
    """Down when a successful check took longer than `max_response_time_ms` allows."""
    limit = spec.options.get("max_response_time_ms")
    took = result.response_time_ms
    if not result.up or limit is None or took is None or took <= limit:
        return result
    return replace(result, up=False, error=f"slower than {limit:g} ms ({took:.0f} ms)")


def _internal_error(spec: CheckSpec, kind: str, exc: Exception) -> CheckResult:
    """Log a crashed check and turn it into a down result."""
    # The host, not the URL: a URL may carry credentials.
    _log.exception("check crashed", kind=kind, host=urlsplit(spec.url).hostname)
    message = str(exc)
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return CheckResult(up=False, error=f"internal error: {detail}")
