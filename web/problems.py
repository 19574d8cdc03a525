"""Every error the API answers with, mapped to a problem response in one place."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from connexion import AsyncApp
from connexion.exceptions import BadRequestProblem
from connexion.exceptions import Unauthorized as NoCredentials
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from sqlalchemy.exc import DBAPIError
from starlette.responses import JSONResponse

from statuschecker import errors
from statuschecker.errors import ItemRef, database_unreachable

log = structlog.get_logger(__name__)


def response(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem response for what answers outside Connexion's handlers: the pages, /metrics,
    and middleware that answers before the request reaches Connexion."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


DOMAIN_PROBLEMS: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.InvalidInput: (400, "Bad Request"),
    errors.Unauthorized: (401, "Unauthorized"),
    errors.Forbidden: (403, "Forbidden"),
    errors.NotFound: (404, "Not Found"),
    errors.Conflict: (409, "Conflict"),
    errors.TooManyRequests: (429, "Too Many Requests"),
    errors.Unavailable: (503, "Service Unavailable"),
}
"""The status and title of each kind of domain error."""


def _status(kind: type[errors.DomainError]) -> tuple[int, str]:
    return DOMAIN_PROBLEMS[next(k for k in kind.__mro__ if k in DOMAIN_PROBLEMS)]


def _domain_error(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, errors.DomainError)
    headers: dict[str, str] = {}
    ext: dict[str, Any] | None = None
    if isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"  # the scheme to authenticate with (RFC 6750)
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.ItemsRejected):  # each item's own problem, as an extension
        ext = {"errors": [item_error(ref, _status(type(e))[0], e.detail) for ref, e in exc.items]}
    status, title = _status(exc.kind if isinstance(exc, errors.ItemsRejected) else type(exc))
    return problem(status, title, exc.detail, headers=headers or None, ext=ext)


def item_error(
    item: ItemRef, status: int, detail: str, within: Sequence[str | int] = ()
) -> dict[str, Any]:
    """One item's fault in a problem's `errors` member: its index in the request's list, a
    JSON pointer (RFC 6901) to it or to the part of it `within` that is at fault, the status a
    request of that item alone would get, and what is wrong with it."""
    parts = [*item, *within]
    pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return {"index": item[1], "pointer": pointer, "status": status, "detail": detail}


def _bad_request(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion's validation message without the schema dump that follows it."""
    assert isinstance(exc, BadRequestProblem)
    detail = str(exc.detail or "the request does not match the API contract")
    return problem(400, "Bad Request", detail.split("\n\n")[0], ext=exc.ext)


def _no_credentials(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion's 401 (no token at all), naming the scheme to authenticate with as every 401
    of this API does (RFC 6750)."""
    assert isinstance(exc, NoCredentials)
    return problem(401, "Unauthorized", str(exc.detail), headers={"WWW-Authenticate": "Bearer"})


def _no_route(request: ConnexionRequest, _: Exception) -> ConnexionResponse:
    return problem(404, "Not Found", f"nothing is served at {request.url.path}")


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def allowed_methods(
    paths: Mapping[str, Mapping[str, Any]], base_path: str
) -> Callable[[str], list[str]]:
    """A function from a request path to the methods the contract serves there (HEAD with GET,
    as Starlette answers it), from the spec's `paths`; none for a path it does not name."""
    table: list[tuple[re.Pattern[str], list[str]]] = []
    for template, item in paths.items():
        parts = re.split(r"\{[^}]+\}", base_path + template)
        pattern = "[^/]+".join(re.escape(part) for part in parts)
        methods = [m.upper() for m in HTTP_METHODS if m in item]
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
        table.append((re.compile(pattern), methods))

    def at(path: str) -> list[str]:
        return next((methods for pattern, methods in table if pattern.fullmatch(path)), [])

    return at


def _method_not_allowed(
    allowed: Callable[[str], Iterable[str]],
) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    """405 with an Allow header naming every method the contract serves at the path: Connexion
    routes each operation on its own, so Starlette's Allow names only one operation's methods."""

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        # Paths outside the contract (/metrics, the Swagger UI) keep the router's own answer.
        own = (getattr(exc, "headers", None) or {}).get("Allow", "")
        methods = ", ".join(allowed(request.url.path)) or own
        return problem(
            405,
            "Method Not Allowed",
            f"{request.method} is not served at {request.url.path}; it serves {methods}",
            headers={"Allow": methods},
        )

    return handle


def _undecodable_body(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, UnicodeDecodeError)
    return problem(400, "Bad Request", f"the request body is not valid UTF-8: {exc.reason}")


def _database_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, DBAPIError)
    if database_unreachable(exc):
        log.warning("api.database_unavailable", path=request.url.path)
        return problem(503, "Service Unavailable", "the database is not answering; try again")
    log.error("api.database_error", path=request.url.path, error=str(exc.orig))
    return problem(500, "Internal Server Error", "the database refused the request")


def install(app: AsyncApp, allowed: Callable[[str], Iterable[str]]) -> None:
    """Register the handlers that turn exceptions into problem responses; `allowed` names the
    methods served at a path (see `allowed_methods`)."""
    app.add_error_handler(errors.DomainError, _domain_error)
    app.add_error_handler(BadRequestProblem, _bad_request)
    app.add_error_handler(NoCredentials, _no_credentials)
    app.add_error_handler(404, _no_route)
    app.add_error_handler(405, _method_not_allowed(allowed))
    app.add_error_handler(UnicodeDecodeError, _undecodable_body)
    app.add_error_handler(DBAPIError, _database_error)
