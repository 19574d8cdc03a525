"""Check kinds, one module each with one signature, registered in one table keyed by kind.

A new kind is a new module with `async def check(spec: CheckSpec) -> CheckResult`, an entry in
`CHECKS` and the URL schemes that select it in `SCHEMES`. `run_check` is the generic handler:
it owns the deadline and turns a crashing check into a down result, so a check does protocol
work only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog

from statuschecker.checks import http
from statuschecker.model import CheckResult, CheckSpec

Check = Callable[[CheckSpec], Awaitable[CheckResult]]

CHECKS: dict[str, Check] = {"http": http.check}
"""The check for each kind."""

SCHEMES: dict[str, str] = {"http": "http", "https": "http"}
"""The kind each URL scheme selects."""

DEADLINE_MARGIN_SECONDS = 0.25
"""Grace beyond `spec.timeout_seconds` before `run_check` gives up on a check that overran."""

_log = structlog.get_logger(__name__)


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
    3. Any other exception from the check is a bug, not a target failure: it is logged with its
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
            return await CHECKS[kind](spec)
    except TimeoutError as exc:
        if deadline.expired():
            return CheckResult(up=False, error=f"timeout (deadline {spec.timeout_seconds:g}s)")
        return _internal_error(spec, kind, exc)
    except Exception as exc:
        return _internal_error(spec, kind, exc)


def _internal_error(spec: CheckSpec, kind: str, exc: Exception) -> CheckResult:
    """Log a crashed check and turn it into a down result."""
    # The host, not the URL: a URL may carry credentials.
    _log.exception("check crashed", kind=kind, host=urlsplit(spec.url).hostname)
    message = str(exc)
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return CheckResult(up=False, error=f"internal error: {detail}")
