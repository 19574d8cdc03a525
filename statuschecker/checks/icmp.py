"""ICMP check: ping a host (`icmp://host`) with a few echo requests.

Up means at least one echo reply came back. `response_time_ms` is the average round trip of the
replies, `packet_loss_percent` the share of the `packet_count` requests left without a reply, and
`dns_ms` the name lookup when the URL names a host rather than an address. A failing target is a
down result whose `error` names the reason ("no reply (3 packets lost)", "destination host
unreachable (3 packets lost)", "DNS failure: host", "ICMP not permitted", "refused by target
policy: 10.0.0.1 is a private address", "cannot connect from 10.9.9.9: ..." for a source address
that cannot be used); only `asyncio.CancelledError` propagates.

Sockets: unprivileged ICMP (datagram) sockets where net.ipv4.ping_group_range admits our group,
raw sockets otherwise (root or CAP_NET_RAW); see `icmp_mode`. Every ping on an event loop shares
one socket per address family and source address (`_Pinger`; the source `net.source` picks for
the target, or none), opened while any ping is in flight: the kernel hands each ICMP packet to
every raw socket open, so a socket per ping would cost N² copies with N pings in flight,
overflow the sockets' buffers and lose replies. Bounding N instead (a semaphore) starves
answering hosts behind ones that never answer, each holding its slot until its deadline.

Pacing: requests go one after another, `interval` apart (at most 1 s, and at most a quarter of
the deadline shared among the requests); each waits for its reply until its share of what is
left of the deadline, so the check ends by `spec.timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import re
import socket
import statistics
import struct
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from icmplib import (
    ICMPError,
    ICMPReply,
    ICMPRequest,
    ICMPSocketError,
    ICMPv4Socket,
    ICMPv6Socket,
    NameLookupError,
    SocketPermissionError,
    async_resolve,
)
from icmplib.utils import unique_identifier

from statuschecker.checks.urls import bare_host
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.policy import TargetRefused, refuse_forbidden
from statuschecker.net.source import SourceUnavailable, bind, source_for

Mode = Literal["unprivileged", "privileged"]

_DEFAULT_PACKET_COUNT = 3
_MAX_PACKET_COUNT = 10
_MAX_INTERVAL_SECONDS = 1.0
_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024  # a burst of replies between two reads; capped by rmem_max
_MODES: tuple[tuple[Mode, socket.SocketKind], ...] = (
    ("unprivileged", socket.SOCK_DGRAM),
    ("privileged", socket.SOCK_RAW),
)
_ECHO_REPLY = {4: 0, 6: 129}
_ERRORS = {4: (3, 11), 6: (1, 3)}  # destination unreachable, time exceeded
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)
_NOT_PERMITTED = (
    "ICMP is not permitted on this host: allow unprivileged ICMP sockets for the service's group "
    "(sysctl net.ipv4.ping_group_range, e.g. '0 2147483647') or grant it CAP_NET_RAW"
)


_Key = tuple[int, str | None]
"""What a `_Pinger` is shared by: the address family (4 or 6) and the source address."""


@functools.cache
def icmp_mode() -> Mode | None:
    """How this process can ping: "unprivileged" (datagram ICMP sockets), "privileged" (raw
    sockets), or None when neither kind of socket may be opened. Detected once."""
    for mode, kind in _MODES:
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        except OSError:
            continue
        return mode
    return None


class _Pinger:
    """One ICMP socket of one address family, bound to one source address or none, on one event
    loop, shared by the pings in flight there: each packet is read once and handed to the ping
    it answers, matched by source address and sequence number (and identifier: the kernel
    matches it for unprivileged sockets)."""

    _open: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, _Pinger]]]
    _open = weakref.WeakKeyDictionary()

    @classmethod
    @contextlib.contextmanager
    def use(cls, family: int, privileged: bool, source: str | None) -> Iterator[_Pinger]:
        """The loop's pinger for `family` from `source`, opened on first use (a source that
        cannot be bound is `SourceUnavailable`), closed when its last user leaves."""
        loop = asyncio.get_running_loop()
        pingers = cls._open.setdefault(loop, {})
        key = (family, source)
        pinger = pingers.get(key) or cls(loop, family, privileged, source)
        pingers[key] = pinger
        pinger._users += 1
        try:
            yield pinger
        finally:
            pinger._users -= 1
            if not pinger._users:
                del pingers[key]
                pinger._close()

    def __init__(
        self, loop: asyncio.AbstractEventLoop, family: int, privileged: bool, source: str | None
    ) -> None:
        self._loop = loop
        self._family = family
        self._icmp = (ICMPv6Socket if family == 6 else ICMPv4Socket)(privileged=privileged)
        self._icmp.blocking = False
        self._sock: socket.socket = self._icmp.sock
        if source is not None:
            try:
                bind(self._sock, source)
            except SourceUnavailable:
                self._icmp.close()
                raise
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        # Raw IPv4 sockets receive the IP header; IPv6 and unprivileged IPv4 ones do not.
        self._ip_header = family == 4 and privileged
        self._ident = unique_identifier() if privileged else None
        self._sequence = 0
        self._users = 0
        self._waiting: dict[tuple[str, int], asyncio.Future[tuple[int, int, float]]] = {}
        loop.add_reader(self._sock, self._read)

    async def echo(self, address: str) -> float:
        """Send one echo request to `address`; return the reply's round trip in ms. ICMPError
        when an ICMP error comes back instead; the caller bounds the wait."""
        self._sequence = (self._sequence + 1) % 65536
        key = (address, self._sequence)
        future = self._waiting[key] = self._loop.create_future()
        try:
            sent = time.perf_counter()
            self._icmp.send(ICMPRequest(address, self._ident or 0, self._sequence))
            kind, code, received = await future
        finally:
            self._waiting.pop(key, None)
        if kind != _ECHO_REPLY[self._family]:
            # icmplib's reply model turns type and code into its error, with a readable message
            ICMPReply(address, self._family, 0, key[1], kind, code, 0, received).raise_for_status()
        return (received - sent) * 1000.0

    def _read(self) -> None:
        """Hand every packet waiting on the socket to the ping it answers."""
        while True:
            try:
                packet, source = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an error queued on the socket, not a packet: nothing to hand on
            received = time.perf_counter()
            with contextlib.suppress(struct.error, ValueError):
                self._dispatch(packet, source[0], received)

    def _dispatch(self, packet: bytes, source: str, received: float) -> None:
        """Resolve the future of the ping that `packet` answers, if any."""
        offset = (packet[0] & 0x0F) * 4 if self._ip_header else 0
        kind, code, _, ident, sequence = struct.unpack_from("!BBHHH", packet, offset)
        if kind in _ERRORS[self._family]:
            # The error quotes the request's IP header and the start of its ICMP header.
            quoted = offset + 8
            if self._family == 4:
                target = socket.inet_ntop(socket.AF_INET, packet[quoted + 16 : quoted + 20])
                quoted += (packet[quoted] & 0x0F) * 4
            else:
                target = socket.inet_ntop(socket.AF_INET6, packet[quoted + 24 : quoted + 40])
                quoted += 40
            _, _, _, ident, sequence = struct.unpack_from("!BBHHH", packet, quoted)
        elif kind == _ECHO_REPLY[self._family]:
            target = source
        else:
            return  # our own requests on loopback, other ICMP traffic
        future = self._waiting.get((target, sequence))
        if future is not None and not future.done() and self._ident in (None, ident):
            future.set_result((kind, code, received))

    def _close(self) -> None:
        """Stop reading and close the socket."""
        self._loop.remove_reader(self._sock)
        self._icmp.close()


@dataclass
class _Tally:
    """What came of the echo requests of one check."""

    rtts_ms: list[float] = field(default_factory=list)
    icmp_error: str | None = None  # the last ICMP error received instead of a reply


async def check(spec: CheckSpec) -> CheckResult:
    """Ping `spec.url`'s host `packet_count` times within `spec.timeout_seconds`."""
    count = spec.options.get("packet_count", _DEFAULT_PACKET_COUNT)
    mode = icmp_mode()
    if mode is None:
        return CheckResult(up=False, error="ICMP not permitted")
    try:
        host = _host(spec.url)
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    loop = asyncio.get_running_loop()
    end = loop.time() + spec.timeout_seconds
    started = time.perf_counter()
    try:
        async with asyncio.timeout_at(end):
            address = await _address(host, spec.limits.allow_private_targets)
    except (TimeoutError, NameLookupError):
        return CheckResult(up=False, error=f"DNS failure: {host}")
    except TargetRefused as exc:
        return CheckResult(up=False, error=str(exc))
    dns_ms = None if address == host else (time.perf_counter() - started) * 1000.0
    try:
        source = source_for(spec.limits.source_address, address)
        tally = await _ping(address, count, end, privileged=mode == "privileged", source=source)
    except SourceUnavailable as exc:
        return CheckResult(up=False, dns_ms=dns_ms, error=str(exc))
    except SocketPermissionError:
        return CheckResult(up=False, dns_ms=dns_ms, error="ICMP not permitted")
    except ICMPSocketError as exc:
        return CheckResult(up=False, dns_ms=dns_ms, error=f"ICMP socket error: {exc}")
    loss = 100.0 * (count - len(tally.rtts_ms)) / count
    if tally.rtts_ms:
        return CheckResult(
            up=True,
            response_time_ms=statistics.fmean(tally.rtts_ms),
            dns_ms=dns_ms,
            packet_loss_percent=loss,
        )
    lost = f"{count} packet{'s' if count > 1 else ''} lost"
    error = f"{tally.icmp_error or 'no reply'} ({lost})"
    return CheckResult(up=False, dns_ms=dns_ms, packet_loss_percent=loss, error=error)


async def _address(host: str, allow_private_targets: bool) -> str:
    """The address to ping: `host` itself when it is one, else its first address (IPv4
    first). Without `allow_private_targets`, `TargetRefused` when the policy forbids any
    address found."""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = await async_resolve(host)
    if not allow_private_targets:
        refuse_forbidden(addresses)
    return str(ipaddress.ip_address(addresses[0]))


async def _ping(
    address: str, count: int, end: float, *, privileged: bool, source: str | None
) -> _Tally:
    """Send `count` echo requests to `address` from `source` (None: the system's choice), paced
    to end by loop time `end`."""
    loop = asyncio.get_running_loop()
    family = ipaddress.ip_address(address).version
    interval = min(_MAX_INTERVAL_SECONDS, (end - loop.time()) / (4 * count))
    tally = _Tally()
    for sequence in range(count):
        if sequence:
            await asyncio.sleep(interval)
        left = count - sequence
        wait = (end - loop.time() - (left - 1) * interval) / left
        try:
            with _Pinger.use(family, privileged, source) as pinger:
                async with asyncio.timeout(wait):
                    tally.rtts_ms.append(await pinger.echo(address))
        except TimeoutError:
            pass  # lost
        except ICMPError as exc:
            tally.icmp_error = str(exc).lower()
    return tally


def _host(url: str) -> str:
    """The host of an `icmp://host` URL; ValueError naming what is wrong with the URL."""
    host = bare_host(url, "icmp://host")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"url: {host!r} is not a valid host name or IP address")
    return host


OPTION_NAMES = frozenset({"packet_count"})


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check an icmp service's URL and options; return the options with defaults filled in.

    ValueError when this host may not send ICMP at all, so that registering fails early.
    """
    if icmp_mode() is None:
        raise ValueError(_NOT_PERMITTED)
    _host(url)
    count = raw.get("packet_count")
    if count is None:
        count = _DEFAULT_PACKET_COUNT
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10:
        raise ValueError(f"packet_count must be an integer from 1 to {_MAX_PACKET_COUNT}")
    return {"packet_count": count}
