"""Heartbeat pings: `GET|POST|HEAD /ping/{key}[/start|/fail|/{exit_status}][?rid=...]`,
answered `OK` once stored (statuschecker.polling.ping_intake). The key is the credential, so
no token is asked for. They are answered here, before the API's middleware, because they come
in bursts at the top of every minute and a ping must stay cheap.

Errors are problem+json: 404 for an unknown key (or a path that is not a ping), 400 for an
exit status above 255 or a run id that is too long, 405 for another method, 413 for a body
beyond the request limit, 429 past the key's rate limit, 503 while the database is away (so
that `curl --retry` tries again). A body is the run's log: its first 100 KB are kept.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from statuschecker.model import Ping
from statuschecker.polling.ping_intake import Answer, PingIntake
from statuschecker.rules.heartbeats import PingKind
from statuschecker.text import storable
from web import problems

BODY_KEPT_BYTES = 102_400
MAX_RID = 64
MAX_USER_AGENT = 200
# No trailing slash: `/ping/KEY/$STATUS` with an empty variable must not count as a success.
_PING = re.compile(r"/ping/([A-Za-z0-9_-]{1,64})(?:/(start|fail|[0-9]{1,3}))?")
_KEY = re.compile(r"[A-Za-z0-9_-]{22}")  # registration.new_ping_key's shape
_METHODS = ("GET", "POST", "HEAD")
_OK = PlainTextResponse("OK")
_UNKNOWN = "no heartbeat has this ping key (it may have been rotated)"


class PingMiddleware:
    """Answers pings; passes everything else on to `app`."""

    def __init__(self, app: ASGIApp, intake: PingIntake, max_request_bytes: int) -> None:
        self.app = app
        self._intake = intake
        self._max_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ping/"):
            await self.app(scope, receive, send)
            return
        response = await self._answer(scope, receive)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        matched = _PING.fullmatch(scope["path"])
        if matched is None:
            return problems.response(
                404, "Not Found", "not a ping URL: /ping/{key}[/start|/fail|/{exit status}]"
            )
        if scope["method"] not in _METHODS:
            headers = {"Allow": ", ".join(_METHODS)}
            return problems.response(
                405, "Method Not Allowed", "a ping is a GET or a POST", headers
            )
        key, suffix = matched.groups()
        kind, exit_status = _kind(suffix)
        if exit_status is not None and exit_status > 255:
            return problems.response(
                400, "Bad Request", f"an exit status is 0-255, not {exit_status}"
            )
        query = parse_qs(scope["query_string"].decode("latin-1"))
        rid = query.get("rid", [""])[-1]
        if len(rid) > MAX_RID:
            return problems.response(400, "Bad Request", f"rid is {MAX_RID} characters at the most")
        body = await _body(receive, self._max_bytes)
        if body is None:
            return problems.response(
                413, "Content Too Large", f"a ping's body is {self._max_bytes} bytes at the most"
            )
        if _KEY.fullmatch(key) is None:
            return problems.response(404, "Not Found", _UNKNOWN)
        client = scope.get("client")
        ping = Ping(
            key=key,
            kind=kind,
            received_at=datetime.now(UTC),
            rid=storable(rid),
            exit_status=exit_status,
            body=storable(body[:BODY_KEPT_BYTES].decode("utf-8", "replace")) if body else None,
            source=client[0] if client else None,
            user_agent=_text(_header(scope, b"user-agent"), MAX_USER_AGENT),
        )
        return _response(await self._intake.submit(ping))


def _kind(suffix: str | None) -> tuple[PingKind, int | None]:
    """The ping's kind and exit status from the last part of its path."""
    if suffix is None:
        return "success", None
    if suffix in ("start", "fail"):
        return suffix, None  # type: ignore[return-value]
    status = int(suffix)
    return ("success" if status == 0 else "fail"), status


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The request's body, the part beyond `BODY_KEPT_BYTES` read and dropped; None beyond
    `limit` bytes in all."""
    kept = bytearray()
    total = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(kept)  # the client went away: keep what came
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        if len(kept) < BODY_KEPT_BYTES:
            kept += chunk[: BODY_KEPT_BYTES - len(kept)]
        if not message.get("more_body", False):
            return bytes(kept)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The value of a request header (lower-case `name`), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _text(value: bytes | None, limit: int) -> str | None:
    """A header's value as storable text of at most `limit` characters."""
    if not value:
        return None
    return storable(value.decode("latin-1")[:limit])


def _response(answer: Answer) -> Response:
    if answer.outcome == "ok":
        return _OK
    if answer.outcome == "unknown":
        return problems.response(404, "Not Found", _UNKNOWN)
    if answer.outcome == "limited":
        return problems.response(
            429,
            "Too Many Requests",
            "too many pings for this key; one job pinging this often is likely stuck in a loop",
            {"Retry-After": str(answer.retry_after)},
        )
    return problems.response(
        503,
        "Service Unavailable",
        "the ping could not be stored: try again shortly",
        {"Retry-After": "1"},
    )
