"""gRPC check: the standard health-checking protocol (grpc.health.v1.Health/Check).

`grpc://host:port[/service]` speaks plaintext (h2c), `grpcs://host:port[/service]` TLS; the
port is required. The URL's path, without its slash, is the service asked about; none asks
about the server overall (""). Up when the server answers SERVING. A failing target is a down
result whose `error` names the reason: "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN: no such
service 'x'" (the health service knows no such name), "health checking not served
(UNIMPLEMENTED)" (a gRPC server without the health service), "<CODE>: details" for another
RPC error, "connection refused", "TLS error: certificate verify failed: ...", "timeout
(connect)", "timeout (reply)", "DNS failure: host", "refused by target policy: ...".

The host is resolved as the tcp check resolves it (the target policy holds), and grpc's
channel is pointed at the addresses found (`ipv4:a:port,b:port`, one channel per address
family in the resolver's order, each tried until one connects), with the URL's host as its
authority and TLS name: grpc never looks the name up again. grpcs verifies the server against
certifi's CAs and those of `ca_bundle`. Each check has channels (and connections) of its own,
closed when it ends, also when it is cancelled; a connection attempt still under way then ends
by the check's deadline at the latest (grpc ends one at its deadline, not when its channel
closes, so the check sets that deadline).

The source address (`source_address`) is not honoured: grpc core takes no local address for a
channel (only a C socket mutator or factory, which grpcio cannot pass), so a gRPC check
connects from the system's choice.

Phases: dns, connect (until the channel is ready, TLS included for grpcs), the reply;
`ttfb_ms` is the time from the start to the Check answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from statuschecker.model import CheckResult, CheckSpec

OPTION_NAMES: frozenset[str] = frozenset()


async def check(spec: CheckSpec) -> CheckResult:
    """The check, in `grpc_probe`: its client library (grpcio, about 13 MB) is imported at
    the first gRPC check, so a process that checks none never holds it."""
    from statuschecker.checks import grpc_probe

    return await grpc_probe.check(spec)


def target(url: str) -> tuple[bool, str, int, str]:
    """Whether a grpc(s) URL asks for TLS, its host, port and service; ValueError when it has
    no host or port, or user info, a query or a fragment."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"url: {exc}") from None
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise ValueError(f"url: a {scheme}:// URL needs a host")
    if port is None:
        raise ValueError(f"url: a {scheme}:// URL needs a port, as in {scheme}://host:port")
    if port == 0:
        raise ValueError("url: port 0 cannot be connected to")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"url: a {scheme}:// URL takes only a host, a port and a service name")
    return scheme == "grpcs", parts.hostname, port, parts.path.removeprefix("/")


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """None of its own; the URL needs a host and a port, and may name a service as its path."""
    target(url)
    return {name: value for name, value in raw.items() if value is not None}
