"""TCP check: open a connection, optionally send a text and look for a substring in the reply.

Up means a connection to `tcp://host:port` opened within `spec.timeout_seconds` and, with the
`body_contains` option, the reply contained that text. A failing target is a down result whose
`error` names the reason ("connection refused", "timeout (connect)", "DNS failure: host",
"reply does not contain 'x'", "refused by target policy: 10.0.0.1 is a private address", ...);
only `asyncio.CancelledError` propagates.

URL parsing (`address`), phases (`Phases`), name resolution (`resolve`), connecting (`connect`,
from the source address `net.source` picks for each address) are shared with the tls check,
which adds a handshake to the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused, refuse_forbidden
from statuschecker.net.source import connected_socket, open_connection

MAX_BODY_CHARS = 65_536
MAX_BODY_CONTAINS_CHARS = 4096
MAX_REPLY_BYTES = 65_536
"""How much of the reply is searched for `body_contains`; the rest is never read."""
CLOSE_GRACE_SECONDS = 0.1
"""How long a closing connection may wait for the peer (a TLS close_notify) before it is cut;
within the margin `run_check` allows beyond the timeout."""

Address = tuple[str, int]


class Phases:
    """Which phase of a check is running, and how long the finished ones took."""

    def __init__(self) -> None:
        self.current = "dns"
        self.started = self._entered = time.perf_counter()
        self.ms: dict[str, float] = {}

    def enter(self, phase: str) -> None:
        """Finish the current phase, recording how long it took, and start `phase`."""
        now = time.perf_counter()
        self.ms[self.current] = (now - self._entered) * 1000.0
        self.current, self._entered = phase, now

    def result(
        self,
        error: str | None,
        *,
        complete: bool = False,
        cert_expires_at: datetime | None = None,
    ) -> CheckResult:
        """Up without `error`; the finished phases' times, and the total when `complete` (the
        target answered all the check asked, so the check reached a verdict on the answer)."""
        total = (time.perf_counter() - self.started) * 1000.0 if complete else None
        return CheckResult(
            up=error is None,
            error=error,
            response_time_ms=total,
            dns_ms=self.ms.get("dns"),
            connect_ms=self.ms.get("connect"),
            tls_ms=self.ms.get("handshake"),
            cert_expires_at=cert_expires_at,
        )


async def check(spec: CheckSpec) -> CheckResult:
    """Connect to `spec.url`, then send `body` and look for `body_contains` when given."""
    try:
        host, port = address(spec.url, "tcp")
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    phases = Phases()
    async with contextlib.AsyncExitStack() as connections:  # closed after the deadline's block
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                addresses = await resolve(host, port, spec.limits.allow_private_targets)
                phases.enter("connect")
                reader, writer = await connect(addresses, spec.limits.source_address, connections)
                phases.enter("send")
                error = await _converse(reader, writer, spec.options, phases)
        except TargetRefused as exc:
            return phases.result(str(exc))
        except TimeoutError:  # the deadline, or the kernel giving up on a connect
            return phases.result(f"timeout ({phases.current})")
        except OSError as exc:
            return phases.result(describe_error(exc, spec.url))
        return phases.result(error, complete=True)


async def _converse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    options: Mapping[str, Any],
    phases: Phases,
) -> str | None:
    """Send the `body` option, then look for `body_contains`; the error, or None when up."""
    body: str | None = options.get("body")
    if body:
        writer.write(body.encode())
        await writer.drain()
    expected: str | None = options.get("body_contains")
    if expected is None:
        return None
    phases.enter("read")
    if await _reply_contains(reader, expected.encode()):
        return None
    return f"reply does not contain {expected!r}"


async def _reply_contains(reader: asyncio.StreamReader, needle: bytes) -> bool:
    """Read until `needle` shows up (True), or the peer closes or MAX_REPLY_BYTES came (False)."""
    reply = bytearray()
    while len(reply) < MAX_REPLY_BYTES:  # each turn reads at least one byte or returns
        chunk = await reader.read(MAX_REPLY_BYTES - len(reply))
        if not chunk:
            return False
        searched_up_to = max(0, len(reply) - len(needle) + 1)  # earlier starts were searched
        reply += chunk
        if reply.find(needle, searched_up_to) != -1:
            return True
    return False


async def resolve(host: str, port: int, allow_private_targets: bool) -> list[Address]:
    """The addresses of `host` for a TCP connection to `port`, in the resolver's order. Without
    `allow_private_targets`, `TargetRefused` when the policy forbids any of them: connecting to
    these addresses, never to the name again, connects only where the policy allows."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [(str(sockaddr[0]), int(sockaddr[1])) for *_, sockaddr in infos]
    if not allow_private_targets:
        refuse_forbidden(ip for ip, _ in addresses)
    return addresses


async def connect(
    addresses: list[Address], source: str | None, connections: contextlib.AsyncExitStack
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to `addresses` in turn until one accepts, from `source` where it applies; raise
    the last one's error if none does. The connection is closed when `connections` exits."""
    *others, last = addresses  # never empty: getaddrinfo raises rather than find nothing
    for other in others:
        with contextlib.suppress(OSError):
            return await _open(other, source, connections)
    return await _open(last, source, connections)


async def first_socket(addresses: list[Address], source: str | None) -> socket.socket:
    """A socket connected to the first of `addresses` that takes it, from `source` where it
    applies, for a library that speaks over a socket it is given; the last one's error when
    none does."""
    *others, last = addresses
    for other in others:
        with contextlib.suppress(OSError):
            return await connected_socket(*other, source)
    return await connected_socket(*last, source)


async def _open(
    to: Address, source: str | None, connections: contextlib.AsyncExitStack
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One connection, closed when `connections` exits."""
    reader, writer = await open_connection(*to, source)
    connections.push_async_callback(_close, writer)
    return reader, writer


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection, giving the peer a moment to confirm a TLS close, then cut it."""
    if writer.transport.is_closing():  # already closed, e.g. by a failed TLS handshake
        return
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE_SECONDS):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        writer.transport.abort()


def address(url: str, kind: str, default_port: int | None = None) -> Address:
    """Host and port of a `kind://host:port` URL; ValueError when it has no host, no port
    (without a default), or anything besides them."""
    try:
        parts = urlsplit(url.strip())
        given_port = parts.port
    except ValueError as exc:
        raise ValueError(f"url: {exc}") from None
    port = default_port if given_port is None else given_port
    if not parts.hostname:
        raise ValueError(f"url: a {kind}:// URL needs a host")
    if port is None:
        raise ValueError(f"url: a {kind}:// URL needs a port, as in {kind}://host:port")
    if port == 0:
        raise ValueError("url: port 0 cannot be connected to")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"url: a {kind}:// URL takes only a host and a port")
    return parts.hostname, port


OPTION_NAMES = frozenset({"body", "body_contains"})


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`body` and `body_contains` checked (null means not set), and the URL's host and port."""
    address(url, "tcp")
    return text_options(raw)


def text_options(raw: Mapping[str, Any], body_checked: bool = True) -> dict[str, Any]:
    """The options given (null means not set), with `body` (unless the caller checks it) and
    `body_contains` checked: the text a check sends and the text it looks for in the reply."""
    given = {name: value for name, value in raw.items() if value is not None}
    body = given.get("body")
    if (
        body_checked
        and body is not None
        and not (isinstance(body, str) and len(body) <= MAX_BODY_CHARS)
    ):
        raise ValueError(f"body must be a string of at most {MAX_BODY_CHARS} characters")
    expected = given.get("body_contains")
    if expected is not None and not (
        isinstance(expected, str) and 0 < len(expected) <= MAX_BODY_CONTAINS_CHARS
    ):
        raise ValueError(
            f"body_contains must be a string of 1 to {MAX_BODY_CONTAINS_CHARS} characters"
        )
    return given
