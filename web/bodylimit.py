"""A bound on request bodies: one whose Content-Length is over the limit answers 413 before a
byte of it is read. (A body without Content-Length never reaches a handler: Connexion treats it
as missing and answers 400.)"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from web import problems


class BodyLimitMiddleware:
    """Answers 413 problem+json when the declared body is larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if scope["type"] == "http" and declared.isdigit() and int(declared) > self.max_bytes:
            detail = f"the request body is larger than {self.max_bytes} bytes"
            await problems.response(413, "Content Too Large", detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)
