"""Check kinds, one module each with one signature, registered in one table keyed by kind.

A new kind is a new module with `async def check(spec: CheckSpec) -> CheckResult`,
`def options(url, raw) -> dict` (its own registration options checked and normalised, and the
URL checked for what the kind needs; ValueError naming what is at fault) and the names of its
options, and one `Kind` entry in `KINDS`. `run_check` is the generic handler: it owns the
deadline and the response-time limit, and turns a crashing check into a down result, so a
check does protocol work only.

A service keeps the options of other kinds it is given (they apply should its URL change
kind) and those its kind cannot apply as the others are set; `warnings` names each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import structlog

from statuschecker.checks import (
    dns,
    grpc,
    http,
    icmp,
    journey,
    mysql,
    postgresql,
    redis,
    smtp,
    tcp,
    tls,
    udp,
    ws,
)
from statuschecker.model import CheckResult, CheckSpec

Check = Callable[[CheckSpec], Awaitable[CheckResult]]
Options = Callable[[str, Mapping[str, Any]], dict[str, Any]]


def _no_advice(_: Mapping[str, Any]) -> list[str]:
    return []


@dataclass(frozen=True, slots=True)
class Kind:
    """A check kind: the URL schemes that select it, its check, the names of its options and
    their validator, and what it cannot do as its options are set, in words."""

    schemes: tuple[str, ...]
    check: Check
    options: Options
    option_names: frozenset[str]
    advice: Callable[[Mapping[str, Any]], list[str]] = _no_advice

    @property
    def label(self) -> str:
        """How its URLs begin, as people read it: `http(s)://`, `tcp://`."""
        first = self.schemes[0]
        return f"{first}(s)://" if self.schemes == (first, f"{first}s") else f"{first}://"


KINDS: dict[str, Kind] = {
    "http": Kind(("http", "https"), http.check, http.options, http.OPTION_NAMES, http.advice),
    "tcp": Kind(("tcp",), tcp.check, tcp.options, tcp.OPTION_NAMES),
    "icmp": Kind(("icmp",), icmp.check, icmp.options, icmp.OPTION_NAMES),
    "dns": Kind(("dns",), dns.check, dns.options, dns.OPTION_NAMES, dns.advice),
    "tls": Kind(("tls",), tls.check, tls.options, tls.OPTION_NAMES),
    "udp": Kind(("udp",), udp.check, udp.options, udp.OPTION_NAMES, udp.advice),
    "ws": Kind(("ws", "wss"), ws.check, ws.options, ws.OPTION_NAMES),
    "smtp": Kind(("smtp", "smtp+starttls", "smtps"), smtp.check, smtp.options, smtp.OPTION_NAMES),
    "grpc": Kind(("grpc", "grpcs"), grpc.check, grpc.options, grpc.OPTION_NAMES),
    "postgresql": Kind(
        ("postgresql", "postgres"), postgresql.check, postgresql.options, postgresql.OPTION_NAMES
    ),
    "mysql": Kind(("mysql",), mysql.check, mysql.options, mysql.OPTION_NAMES),
    "journey": Kind(
        ("journey+http", "journey+https"),
        journey.check,
        journey.options,
        journey.OPTION_NAMES,
        journey.advice,
    ),
    "redis": Kind(("redis", "rediss"), redis.check, redis.options, redis.OPTION_NAMES),
}
"""Every check kind."""

SCHEMES: dict[str, str] = {scheme: name for name, kind in KINDS.items() for scheme in kind.schemes}
"""The kind each URL scheme selects."""

COMMON_OPTIONS = frozenset({"max_response_time_ms"})
"""Options every kind takes; `run_check` applies them."""

_TAKERS = {
    name: [kind for kind in KINDS.values() if name in kind.option_names]
    for name in frozenset().union(*(kind.option_names for kind in KINDS.values()))
}
"""The kinds that take each option (http(s) and tcp both take `body` and `body_contains`)."""

DEADLINE_MARGIN_SECONDS = 0.25
"""Grace beyond `spec.timeout_seconds` before `run_check` gives up on a check that overran."""

_log = structlog.get_logger(__name__)


def validate_options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The options for a service checking `url`, checked and normalised: its kind's by that
    kind, the common ones, and those of other kinds kept as given (null means not set).
    ValueError when the URL does not suit its kind, an option is invalid, or no kind takes it."""
    kind = KINDS[kind_of(url)]
    unknown = sorted(set(raw) - COMMON_OPTIONS - _TAKERS.keys())
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: no check kind takes such an option")
    common = {k: v for k, v in raw.items() if k in COMMON_OPTIONS}
    limit = common.get("max_response_time_ms")
    if limit is not None and not (isinstance(limit, int | float) and limit > 0):
        raise ValueError("max_response_time_ms must be a positive number")
    own = kind.options(url, {k: v for k, v in raw.items() if k in kind.option_names})
    others = {
        k: v
        for k, v in raw.items()
        if k not in kind.option_names and k not in COMMON_OPTIONS and v is not None
    }
    return {**others, **own, **{k: v for k, v in common.items() if v is not None}}


def warnings(url: str, options: Mapping[str, Any], interval: int, timeout: float) -> list[str]:
    """What will not work as a service's settings say, in words: options of another kind than
    the URL's, options its kind cannot apply as the others are set, a timeout longer than the
    interval. Empty for a URL no kind handles (it cannot be stored)."""
    try:
        kind = KINDS[kind_of(url)]
    except ValueError:
        return []
    found = [
        f"{name} is an option of {_listed([k.label for k in _TAKERS[name]])} checks: kept, "
        f"but unused by this {kind.label} service"
        for name in sorted(options)
        if name not in kind.option_names and name in _TAKERS
    ]
    found += kind.advice(options)
    if timeout > interval:
        found.append(
            f"timeout_seconds ({timeout:g}) is longer than interval_seconds ({interval}): "
            "a check still running when the next is due makes that one wait"
        )
    return found


def _listed(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"


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
            result = await KINDS[kind].check(spec)
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
