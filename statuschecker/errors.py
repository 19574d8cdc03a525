"""Domain errors, which know nothing of HTTP (the web adapter maps each kind to one problem
response, web/problems.py), and how to tell a database that is away from one that refuses."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from statuschecker.redaction import masked_text


class DomainError(Exception):
    """Base of the errors the service layer and the store raise on purpose. Its detail is an
    answer too: the URLs it quotes are masked as answers mask them."""

    def __init__(self, detail: str) -> None:
        detail = masked_text(detail)
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request is well-formed but its values cannot be accepted."""


class Unauthorized(DomainError):
    """No credentials, or credentials that are wrong, expired or revoked."""


class Forbidden(DomainError):
    """The caller is known but may not do this (a read-only token, a limit, a policy)."""


class NotFound(DomainError):
    """The named thing does not exist (or is not the caller's)."""


class Conflict(DomainError):
    """The request clashes with what is stored (for example a duplicate name)."""


class TooManyRequests(DomainError):
    """Too many attempts in a while; `retry_after` says how many seconds to wait."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (the database) cannot answer right now."""


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database was out of reach (down, restarting, the
    connection lost), as opposed to refusing the statement or its data."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
