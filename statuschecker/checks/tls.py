"""TLS check: handshake with `tls://host[:port]` (port 443 by default) and judge the certificate.

Up means the chain verifies against the trust store (`client_context`), the certificate is
valid for the host, and it expires in more than `min_cert_days` days. `cert_expires_at` is
recorded whenever a certificate was seen, also one that failed verification: that one is read
on a second, unverified handshake. A failing target is a down result whose `error` names the
reason ("certificate expired", "certificate expires in 3.2 days (minimum 14)", "TLS error:
certificate verify failed: ...", "connection refused", "timeout (handshake)", "refused by target
policy: 127.0.0.1 is a loopback address", ...); only `asyncio.CancelledError` propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from statuschecker.checks.tcp import Address, Phases, address, connect, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context, peer_cert_expiry

DEFAULT_PORT = 443
DEFAULT_MIN_CERT_DAYS = 14
MAX_MIN_CERT_DAYS = 3650
_X509_V_ERR_CERT_HAS_EXPIRED = 10  # OpenSSL's verify code for an expired certificate


async def check(spec: CheckSpec) -> CheckResult:
    """Handshake with `spec.url`, verifying its certificate, and judge how long it stays valid."""
    try:
        host, port = address(spec.url, "tls", DEFAULT_PORT)
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    min_days: int = spec.options.get("min_cert_days", DEFAULT_MIN_CERT_DAYS)
    phases = Phases()
    deadline = asyncio.get_running_loop().time() + spec.timeout_seconds
    source = spec.limits.source_address
    async with contextlib.AsyncExitStack() as connections:  # closed after the deadline's block
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await resolve(host, port, spec.limits.allow_private_targets)
                phases.enter("connect")
                _, writer = await connect(addresses, source, connections)
                phases.enter("handshake")
                await writer.start_tls(client_context(spec.limits.ca_bundle), server_hostname=host)
                phases.enter("verdict")
        except TargetRefused as exc:
            return phases.result(str(exc))
        except ssl.SSLCertVerificationError as exc:
            expires = await _unverified_expiry(host, addresses, source, deadline, connections)
            return phases.result(_verify_error(exc, spec.url), cert_expires_at=expires)
        except TimeoutError:  # the deadline, or the kernel giving up on a connect
            return phases.result(f"timeout ({phases.current})")
        except OSError as exc:
            return phases.result(describe_error(exc, spec.url))
        expires = _not_after(writer)
        if expires is None:
            return phases.result("certificate unreadable", complete=True)
        error = _expiry_error(expires, min_days)
        return phases.result(error, complete=True, cert_expires_at=expires)


async def _unverified_expiry(
    host: str,
    addresses: list[Address],
    source: str | None,
    deadline: float,
    connections: contextlib.AsyncExitStack,
) -> datetime | None:
    """The end of validity of the certificate the server presents, read on a handshake that
    does not verify it (connecting as the check did), within the check's deadline; None when
    that fails too."""
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await connect(addresses, source, connections)
            await writer.start_tls(_unverifying_context(), server_hostname=host)
    except OSError:  # TimeoutError included
        return None
    return _not_after(writer)


@functools.cache
def _unverifying_context() -> ssl.SSLContext:
    """A client context that accepts any certificate: only to read one that failed to verify."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _not_after(writer: asyncio.StreamWriter) -> datetime | None:
    """The end of validity (UTC) of the peer's certificate; None when it is missing or
    unreadable."""
    return peer_cert_expiry(writer.get_extra_info("ssl_object"))


def _verify_error(exc: ssl.SSLCertVerificationError, url: str) -> str:
    """'certificate expired' for an expired certificate, else the TLS error as it is."""
    if exc.verify_code == _X509_V_ERR_CERT_HAS_EXPIRED:
        return "certificate expired"
    return describe_error(exc, url)


def _expiry_error(expires: datetime, min_days: int) -> str | None:
    """Why a verified certificate expiring at `expires` is not good enough, or None."""
    days = (expires - datetime.now(UTC)).total_seconds() / 86_400
    if days <= 0:
        return "certificate expired"
    if days <= min_days:
        return f"certificate expires in {days:.1f} days (minimum {min_days})"
    return None


OPTION_NAMES = frozenset({"min_cert_days"})


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`min_cert_days` checked (default 14; null means the default), and the URL's host."""
    address(url, "tls", DEFAULT_PORT)
    given = {name: value for name, value in raw.items() if value is not None}
    days = given.get("min_cert_days", DEFAULT_MIN_CERT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_MIN_CERT_DAYS:
        raise ValueError(f"min_cert_days must be an integer from 0 to {MAX_MIN_CERT_DAYS}")
    return {"min_cert_days": days}
