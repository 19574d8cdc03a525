"""The private-target policy (`STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false`): checks and webhooks
may not reach loopback, private, link-local, unspecified or other non-global addresses.

It is enforced twice. At registration `verify_url` resolves the target's name and says why it
is refused, for early feedback. At connect time every check kind resolves the name itself,
verifies every address found (`refuse_forbidden`) and connects only to those verified
addresses, without a second lookup; httpx clients get the same through `guard`, whose network
backend does it for each connection. So a name that is pointed at an internal address after
registration (DNS rebinding) is still refused. With the policy off none of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

RESOLVE_SECONDS = 2.0
"""How long `verify_url` waits for a name to resolve; a name that does not is let through (the
check finds it down, and verifies whatever it resolves to by then)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NOT_ALLOWED = (
    "this server does not allow private targets (STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false)"
)
# The stdlib's address properties, in the order that names a refused address best.
_KINDS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),  # is_global is true for some multicast ranges
    ("is_reserved", "reserved"),
    ("is_site_local", "site-local"),  # IPv6 only; deprecated fec0::/10, is_global there
    ("is_private", "private"),
)
# RFC 6052's well-known NAT64 prefix: the stdlib calls it reserved, but on an IPv6-only network
# with DNS64 every IPv4 target is reached through it, so the IPv4 address inside is judged.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(Exception):
    """A connection the policy forbids; its text is the reason a check result or a delivery
    gives ("refused by target policy: 127.0.0.1 is a loopback address")."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused by target policy: {reason}")


def forbidden_reason(ip: str) -> str | None:
    """Why the policy forbids the IP address `ip` ("127.0.0.1 is a loopback address"), or None
    when it is a global address; ValueError when `ip` is not an IP address."""
    kind = _forbidden_kind(ipaddress.ip_address(ip))
    return None if kind is None else f"{ip} is {kind}"


def refuse_forbidden(addresses: Iterable[str]) -> None:
    """`TargetRefused` naming the first of the IP `addresses` that the policy forbids."""
    for address in addresses:
        reason = forbidden_reason(address)
        if reason is not None:
            raise TargetRefused(reason)


def verify_url(url: str, options: Mapping[str, Any] | None = None) -> None:
    """ValueError, with a message for the user, when a check of `url` (or a webhook posted to
    it) would contact an address the policy forbids. Call it only when the policy is on.

    1. A `dns://name` check contacts its `resolver` option (in `options`), when set, and
       otherwise the server's own resolver, which is the operator's: the name is not contacted.
    2. Any other URL contacts its host: an IP address is judged as it is; a name is resolved
       (within `RESOLVE_SECONDS`) and refused when any of its addresses is forbidden. A name
       that does not resolve in time is not refused: the check verifies it when it connects.
    3. A URL without a host is left to the kind's own validation.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "dns":
        resolver = (options or {}).get("resolver")
        if isinstance(resolver, str):
            _verify_host(_resolver_host(resolver), "resolver")
        return
    if parts.hostname:
        _verify_host(parts.hostname, "target")


def guard(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """`transport`, changed to connect only to addresses the policy allows (see
    `GuardedBackend`); a refused connection raises `TargetRefused` from the request."""
    # httpx 0.28 takes no network backend (encode/httpx#3749), its httpcore pool does; the pool
    # hands it to each connection it makes.
    transport._pool._network_backend = GuardedBackend()
    return transport


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only where the policy allows: the host of each
    connection is resolved here (an IP address stands for itself), every address is verified,
    and the connection is made to the verified addresses in turn, by IP address. TLS still
    names and verifies the URL's host: httpcore starts it on the stream returned."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A stream to the first verified address of `host` that takes the connection."""
        addresses = await _resolve(host, port, timeout)
        refuse_forbidden(addresses)
        *others, last = addresses
        for address in others:
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
        return await self._backend.connect_tcp(last, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: a Unix socket is a local target."""
        raise TargetRefused(f"{path} is a Unix socket")

    async def sleep(self, seconds: float) -> None:
        """Sleep, as the wrapped backend does."""
        await self._backend.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:  # noqa: ASYNC109
    """The addresses of `host`, as httpcore's connect errors when it does not resolve."""
    if _ip_address(host) is not None:
        return [host]
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from exc
    except OSError as exc:  # socket.gaierror: `describe_error` reads it as a DNS failure
        raise httpcore.ConnectError(str(exc)) from exc
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in infos))


def _verify_host(host: str, role: str) -> None:
    """ValueError when `host`, or any address it resolves to, is forbidden."""
    literal = _ip_address(host)
    if literal is not None:
        kind = _forbidden_kind(literal)
        if kind is not None:
            raise ValueError(f"{role} {host} is {kind}; {_NOT_ALLOWED}")
        return
    for address in _resolve_bounded(host):
        kind = _forbidden_kind(ipaddress.ip_address(address))
        if kind is not None:
            raise ValueError(f"{role} {host} resolves to {address}, {kind}; {_NOT_ALLOWED}")


def _resolve_bounded(host: str) -> list[str]:
    """The addresses of `host`; none when it does not resolve within `RESOLVE_SECONDS`. The
    lookup runs on a thread of its own: getaddrinfo cannot be interrupted, and a lookup left
    hanging must not hold up the ones after it."""
    found: list[str] = []

    def lookup() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            found.extend(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in infos))

    thread = threading.Thread(target=lookup, name="netpolicy-resolve", daemon=True)
    thread.start()
    thread.join(RESOLVE_SECONDS)
    return [] if thread.is_alive() else found


def _resolver_host(resolver: str) -> str:
    """The address in a dns check's `resolver` option ("addr", "addr:port", "[v6addr]:port")."""
    if _ip_address(resolver) is not None:
        return resolver
    return urlsplit(f"//{resolver}").hostname or resolver


def _ip_address(text: str) -> IPAddress | None:
    """`text` as an IP address, or None when it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forbidden_kind(address: IPAddress) -> str | None:
    """What kind of forbidden address `address` is ("a loopback address", "an IPv4-mapped
    private address"), or None when it is allowed. An IPv6 address that carries an IPv4 one
    (IPv4-mapped, 6to4, NAT64) is judged by the IPv4 address."""
    prefix = ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            prefix, address = "IPv4-mapped ", address.ipv4_mapped
        elif address.sixtofour is not None:
            prefix, address = "6to4 ", address.sixtofour
        elif address in _NAT64:
            prefix, address = "NAT64 ", ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    word = next((word for name, word in _KINDS if getattr(address, name, False)), None)
    if word is None and not address.is_global:
        word = "non-global"  # e.g. 100.64.0.0/10, shared address space (carrier-grade NAT)
    if word is None:
        return None
    described = f"{prefix}{word} address"
    return f"{'an' if described[0] in 'aeiouAEIOU' else 'a'} {described}"
