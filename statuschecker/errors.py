"""Domain errors, which the web adapter maps each to one problem response, and how to tell a
database that is away from one that refuses."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from statuschecker.redaction import masked_text


class DomainError(Exception):
    """Base of the errors the service layer raises on purpose; carries an HTTP-free status.
    Its detail is an answer too: the URLs it quotes are masked as answers mask them."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str) -> None:
        detail = masked_text(detail)
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the error calls for."""
        return {}


class InvalidInput(DomainError):
    """The request is well-formed but its values cannot be accepted."""


class Unauthorized(DomainError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    status = 401
    title = "Unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        """The scheme to authenticate with (RFC 9110)."""
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    """The caller is known but may not do this (a read-only token, a limit, a policy)."""

    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    """The named thing does not exist (or is not the caller's)."""

    status = 404
    title = "Not Found"


class Conflict(DomainError):
    """The request clashes with what is stored (for example a duplicate name)."""

    status = 409
    title = "Conflict"


class TooManyRequests(DomainError):
    """Too many attempts in a while; `retry_after` says how many seconds to wait."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """When to try again (RFC 9110)."""
        return {"Retry-After": str(self.retry_after)}


class Unavailable(DomainError):
    """A dependency (the database) cannot answer right now."""

    status = 503
    title = "Service Unavailable"


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database was out of reach (down, restarting, the
    connection lost), as opposed to refusing the statement or its data."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
