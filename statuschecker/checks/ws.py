"""WebSocket check: open `ws://` or `wss://`, optionally send a message and look for text in the
replies.

Up means the opening handshake succeeded within `spec.timeout_seconds` and, with the
`body_contains` option, a text or binary message holding that text came back (after the `body`
option was sent, if given). A failing target is a down result whose `error` names the reason:
"handshake refused: 403" (the server answered the upgrade with another status), "handshake
failed: ..." (it did not speak WebSocket), "closed by the peer (1008 policy violation)",
"reply does not contain 'x'", "timeout (handshake)", "connection refused", "DNS failure: host",
"refused by target policy: ...".

The connection is made as the tcp check makes one (resolution, the target policy, the source
address), then handed to the `websockets` library for TLS (wss, with the URL's host as server
name, its certificate's expiry recorded) and the protocol. Phases: dns, connect, the handshake
(TLS included; as `tls_ms` for wss, the whole handshake being the first response), the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from statuschecker.checks.tcp import Phases, first_socket, resolve, text_options
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context, peer_cert_expiry

MAX_REPLY_BYTES = 1_048_576
"""The largest message read; a bigger one closes the connection (1009)."""
MAX_MESSAGES = 100
"""How many messages are read looking for `body_contains` before the check gives up."""
OPTION_NAMES = frozenset({"body", "body_contains"})
_DEFAULT_PORTS = {"ws": 80, "wss": 443}


async def check(spec: CheckSpec) -> CheckResult:
    """Open the WebSocket at `spec.url`; send `body`, then look for `body_contains`, if given."""
    parts = urlsplit(spec.url)
    secure = parts.scheme.lower() == "wss"
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
    phases = Phases()
    expires = None
    received: list[str] = []  # the replies read, for a deadline that comes while reading
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            addresses = await resolve(host, port, spec.limits.allow_private_targets)
            phases.enter("connect")
            sock = await first_socket(addresses, spec.limits.source_address)
            phases.enter("handshake")
            tls = client_context(spec.limits.ca_bundle) if secure else None
            async with connect(
                spec.url,
                sock=sock,
                ssl=tls,
                server_hostname=host if secure else None,
                open_timeout=None,
                ping_interval=None,
                close_timeout=0.1,
                proxy=None,
                compression=None,
                max_size=min(MAX_REPLY_BYTES, spec.limits.max_body_bytes),
                user_agent_header=spec.limits.user_agent,
            ) as websocket:
                if secure:
                    expires = peer_cert_expiry(websocket.transport.get_extra_info("ssl_object"))
                phases.enter("reply")
                error = await _converse(websocket, spec.options, received)
                phases.enter("close")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except InvalidStatus as exc:
        return phases.result(f"handshake refused: {exc.response.status_code}")
    except InvalidHandshake as exc:
        return phases.result(f"handshake failed: {exc}")
    except ConnectionClosed as exc:
        return phases.result(f"closed by the peer ({_reason(exc)})")
    except TimeoutError:
        if received:  # the peer answered, but not what was expected
            return phases.result(f"reply does not contain {spec.options['body_contains']!r}")
        return phases.result(f"timeout ({phases.current})")
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    result = phases.result(error, complete=True, cert_expires_at=expires)
    handshake = phases.ms.get("handshake")
    return replace(result, tls_ms=handshake if secure else None, ttfb_ms=handshake)


async def _converse(
    websocket: ClientConnection, options: Mapping[str, Any], received: list[str]
) -> str | None:
    """Send `body`, then read messages (into `received`) until one holds `body_contains`; the
    error, or None."""
    body: str | None = options.get("body")
    if body:
        await websocket.send(body)
    expected: str | None = options.get("body_contains")
    if expected is None:
        return None
    for _ in range(MAX_MESSAGES):
        message = await websocket.recv()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        received.append(text)
        if expected in text:
            return None
    return f"reply does not contain {expected!r}"


def _reason(exc: ConnectionClosed) -> str:
    received = exc.rcvd
    if received is None:
        return "without a close frame"
    return f"{received.code}{' ' + received.reason if received.reason else ''}"


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`body` and `body_contains` checked (null means not set), and the URL's host."""
    parts = urlsplit(url.strip())
    if not parts.hostname:
        raise ValueError(f"url: a {parts.scheme}:// URL needs a host")
    return text_options(raw)
