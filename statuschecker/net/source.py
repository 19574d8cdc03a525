"""The local address checks connect from (`CheckLimits.source_address`,
STATUSCHECKER_SOURCE_ADDRESS), for every check kind.

The rule is `source_for`: a connection to a remote address of the source's family (IPv4 or
IPv6) is made from the source, one to an address of the other family as if no source were set
(the system chooses). A source this machine cannot send from (not one of its addresses) fails
the check with `SourceUnavailable`'s text, "cannot connect from 10.9.9.9: [Errno 99] Cannot
assign requested address", which `describe_error` gives as it is.
"""

from __future__ import annotations

import asyncio
import socket


class SourceUnavailable(OSError):
    """A source address that cannot be bound; its text is the reason a check result gives."""

    def __init__(self, source: str, cause: OSError) -> None:
        super().__init__(f"cannot connect from {source}: {cause}")


def source_for(source: str | None, remote: str) -> str | None:
    """The local address to connect to the IP address `remote` from: `source` when it is an
    address of the same family, else None (the system's choice). Both are IP addresses as
    text: only IPv6 ones hold a colon (cheaper than `ipaddress`, per connection)."""
    if source is None or (":" in source) != (":" in remote):
        return None
    return source


def bind(sock: socket.socket, source: str) -> None:
    """Bind `sock` to `source` (any port); `SourceUnavailable` when that fails."""
    try:
        sock.bind((source, 0))
    except OSError as exc:
        raise SourceUnavailable(source, exc) from exc


def check_bindable(source: str) -> None:
    """`SourceUnavailable` when a socket cannot be bound to `source`: for a library that binds
    its sockets itself and words the failure otherwise."""
    with socket.socket(_family(source), socket.SOCK_DGRAM) as probe:
        bind(probe, source)


async def open_connection(
    address: str, port: int, source: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the IP `address`, from `source_for(source, address)`: made by
    `asyncio.open_connection` when that is None, else on a socket bound to it first."""
    if source_for(source, address) is None:
        return await asyncio.open_connection(address, port)
    sock = await connected_socket(address, port, source)
    try:
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def connected_socket(address: str, port: int, source: str | None) -> socket.socket:
    """A non-blocking TCP socket connected to the IP `address`, from `source_for(source,
    address)` where that applies: for a library that speaks over a socket it is given."""
    local = source_for(source, address)
    sock = socket.socket(_family(address), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if local is not None:
            bind(sock, local)
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _family(address: str) -> socket.AddressFamily:
    """The address family of the IP `address`."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET
