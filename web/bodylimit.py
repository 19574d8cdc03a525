"""What every request body meets before Connexion sees it, whichever way it is framed: one
whose Content-Length is over the limit answers 413 before a byte of it is read; a chunked one
(no Content-Length) is read up to the limit, answers 413 as soon as it passes it without
reading the rest, and otherwise goes on with the Content-Length it turned out to have, as
Connexion's validators need one. A body must say what it is: without a Content-Type, Connexion
would validate it as JSON and hand the handler raw bytes, so it answers 415 here."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import problems


class BodyLimitMiddleware:
    """Answers 413 problem+json when the body is larger than `max_bytes` (or, for a path of
    `larger`, than its own bound), 415 when a body has no Content-Type."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        bound = self.larger.get(scope["path"], self.max_bytes)
        if declared is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            try:
                body = await self._read(receive, bound)
            except _Disconnected:
                return
            if body is None:
                await _too_large(bound, scope, receive, send)
                return
            declared = b"%d" % len(body)
            scope = {**scope, "headers": [*scope["headers"], (b"content-length", declared)]}
            receive = _replay(body, receive)
        elif declared is not None and declared.isdigit() and int(declared) > bound:
            await _too_large(bound, scope, receive, send)
            return
        if declared not in (None, b"0") and b"content-type" not in headers:
            detail = "a request body needs a Content-Type (application/json)"
            await problems.response(415, "Unsupported Media Type", detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _read(self, receive: Receive, bound: int) -> bytes | None:
        """The whole body, or None as soon as it is longer than `bound`."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > bound:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _too_large(bound: int, scope: Scope, receive: Receive, send: Send) -> None:
    detail = f"the request body is larger than {bound} bytes"
    await problems.response(413, "Content Too Large", detail)(scope, receive, send)


class _Disconnected(Exception):
    """The client went away before the end of its body."""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives `body` as one message, then what `receive` gives."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
