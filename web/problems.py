"""Every error the API answers with, mapped to a problem response in one place."""

from __future__ import annotations

import structlog
from connexion import AsyncApp
from connexion.exceptions import BadRequestProblem
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.problem import problem
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from statuschecker.errors import DomainError

log = structlog.get_logger(__name__)


def _domain_error(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.title, exc.detail)


def _bad_request(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion's validation message without the schema dump that follows it."""
    assert isinstance(exc, BadRequestProblem)
    detail = str(exc.detail or "the request does not match the API contract")
    return problem(400, "Bad Request", detail.split("\n\n")[0])


def _no_route(request: ConnexionRequest, _: Exception) -> ConnexionResponse:
    return problem(404, "Not Found", f"nothing is served at {request.url.path}")


def _undecodable_body(_: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, UnicodeDecodeError)
    return problem(400, "Bad Request", f"the request body is not valid UTF-8: {exc.reason}")


def _database_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, DBAPIError)
    if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
        log.warning("api.database_unavailable", path=request.url.path)
        return problem(503, "Service Unavailable", "the database is not answering; try again")
    log.error("api.database_error", path=request.url.path, error=str(exc.orig))
    return problem(500, "Internal Server Error", "the database refused the request")


def install(app: AsyncApp) -> None:
    """Register the handlers that turn exceptions into problem responses."""
    app.add_error_handler(DomainError, _domain_error)
    app.add_error_handler(BadRequestProblem, _bad_request)
    app.add_error_handler(404, _no_route)
    app.add_error_handler(UnicodeDecodeError, _undecodable_body)
    app.add_error_handler(DBAPIError, _database_error)
