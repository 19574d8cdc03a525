"""UDP check: send one datagram to `udp://host:port` and wait for the reply.

UDP has no connection, so a service is up when it answers: the datagram sent is the `body`
option (text, as UTF-8) or `body_hex` (bytes, for binary protocols such as game servers'
queries), empty when neither is given; with `body_contains`, the reply must hold that text. A
failing target is a down result whose `error` names the reason: "timeout (reply)" when nothing
came back in time, "connection refused" when the host said the port is closed (an ICMP port
unreachable), "reply does not contain 'x'", "DNS failure: host", "refused by target policy:
...". Its phases: the name's resolution (dns) and the wait for the reply (first byte: ttfb).
"""

from __future__ import annotations

import asyncio
import binascii
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from statuschecker.checks.tcp import Phases, address, text_options
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused, refuse_forbidden
from statuschecker.net.source import bind, source_for

MAX_DATAGRAM_BYTES = 8192
"""The largest datagram a check sends (and `body_hex` holds): well within one UDP datagram."""
OPTION_NAMES = frozenset({"body", "body_hex", "body_contains"})


async def check(spec: CheckSpec) -> CheckResult:
    """Send the datagram to `spec.url` and wait for a reply, holding `body_contains` if given."""
    try:
        host, port = address(spec.url, "udp")
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    phases = Phases()
    transport: asyncio.DatagramTransport | None = None
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            remote = (str(infos[0][4][0]), int(infos[0][4][1]))
            if not spec.limits.allow_private_targets:
                refuse_forbidden([remote[0]])
            phases.enter("ttfb")
            replies: asyncio.Queue[bytes | Exception] = asyncio.Queue()
            transport = await _endpoint(remote, spec.limits.source_address, replies)
            transport.sendto(_datagram(spec.options))
            reply = await replies.get()
            if isinstance(reply, Exception):
                raise reply
            phases.enter("done")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except TimeoutError:
        return phases.result(f"timeout ({'reply' if phases.current == 'ttfb' else phases.current})")
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    finally:
        if transport is not None:
            transport.close()
    expected: str | None = spec.options.get("body_contains")
    error = None
    if expected is not None and expected.encode() not in reply:
        error = f"reply does not contain {expected!r}"
    return replace(phases.result(error, complete=True), ttfb_ms=phases.ms.get("ttfb"))


class _Replies(asyncio.DatagramProtocol):
    """Hands each reply, or the error the socket reports (a port unreachable), to a queue."""

    def __init__(self, replies: asyncio.Queue[bytes | Exception]) -> None:
        self._replies = replies

    def datagram_received(self, data: bytes, _: Any) -> None:
        self._replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self._replies.put_nowait(exc)


async def _endpoint(
    remote: tuple[str, int], source: str | None, replies: asyncio.Queue[bytes | Exception]
) -> asyncio.DatagramTransport:
    """A UDP socket connected to `remote` (so that the host's ICMP answers reach it), bound to
    the source address where one applies."""
    family = socket.AF_INET6 if ":" in remote[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        local = source_for(source, remote[0])
        if local is not None:
            bind(sock, local)
        sock.connect(remote)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Replies(replies), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    return transport


def advice(options: Mapping[str, Any]) -> list[str]:
    """Both a text and bytes given for the one datagram, in words."""
    if options.get("body") and options.get("body_hex"):
        return ["body is kept, but unused: body_hex is the datagram sent"]
    return []


def _datagram(options: Mapping[str, Any]) -> bytes:
    if options.get("body_hex"):
        return binascii.unhexlify(options["body_hex"])
    return str(options.get("body") or "").encode()


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`body`, `body_hex` and `body_contains` checked (null means not set), and the URL's host
    and port."""
    address(url, "udp")
    given = text_options(raw, body_checked=False)
    body, hexed = given.get("body"), given.get("body_hex")
    if body is not None and not (
        isinstance(body, str) and len(body.encode()) <= MAX_DATAGRAM_BYTES
    ):
        raise ValueError(f"body must be a string of at most {MAX_DATAGRAM_BYTES} bytes (UTF-8)")
    if hexed is not None:
        try:
            if not isinstance(hexed, str) or len(binascii.unhexlify(hexed)) > MAX_DATAGRAM_BYTES:
                raise ValueError
        except (ValueError, binascii.Error):
            raise ValueError(
                f"body_hex must be bytes as hexadecimal digits, two per byte, at most "
                f"{MAX_DATAGRAM_BYTES} bytes"
            ) from None
        given["body_hex"] = hexed.lower()
    return given
