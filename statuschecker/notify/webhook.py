"""Webhook channel: POST an alert (or a status page's event to its subscribers) as compact
JSON, signed with HMAC-SHA256 when the receiver has a secret.

Receivers verify `X-Statuschecker-Signature` by computing `signature(secret, body)` over the
exact bytes received; `sent_at` inside the signed body lets them refuse stale replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import httpx

from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.notify import DeliveryError

USER_AGENT = "statuschecker"
EVENT_HEADER = "X-Statuschecker-Event"
SIGNATURE_HEADER = "X-Statuschecker-Signature"


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of `body` keyed with
    `secret` (UTF-8)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The body as sent: compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str | None,
    payload: dict[str, Any],
    timeout: float,  # noqa: ASYNC109 - also bounds the sockets, which a caller's deadline cannot
    event: str,
) -> None:
    """POST `payload` to `url` within `timeout`, its `event` (`alert.down`, `incident.updated`)
    in a header; a 2xx answer is success, anything else raises
    `DeliveryError` ("status 500", "timeout", "connection refused", "refused by target policy:
    127.0.0.1 is a loopback address" from a client made with `netpolicy.guard`, ...). The
    response body is never read."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    deadline = asyncio.timeout(timeout)
    try:
        async with (
            deadline,
            client.stream("POST", url, content=body, headers=headers, timeout=timeout) as response,
        ):
            status = response.status_code
    except TimeoutError as exc:
        if deadline.expired():
            raise DeliveryError("timeout") from None
        raise DeliveryError(describe_error(exc, url)) from exc
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise DeliveryError(describe_error(exc, url)) from exc
    except TargetRefused as exc:
        raise DeliveryError(str(exc)) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"status {status}")
