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


ItemRef = tuple[str, int]
"""An item of a request's body: the list it is in (`services`) and its index there."""


class ItemsRejected(DomainError):
    """Items of a request that stands or falls as a whole cannot be accepted, each for its own
    error, by list and index. The request is refused as its most basic fault: an invalid item
    before one a policy forbids, before one that clashes with what is stored (`kind`)."""

    PRECEDENCE: tuple[type[DomainError], ...] = (InvalidInput, Forbidden, NotFound, Conflict)

    def __init__(self, detail: str, items: list[tuple[ItemRef, DomainError]]) -> None:
        super().__init__(detail)
        self.items = sorted(items, key=lambda item: item[0])

    @property
    def kind(self) -> type[DomainError]:
        """The kind of error the whole request is refused as."""
        found = {type(error) for _, error in self.items}
        return next(
            (k for k in self.PRECEDENCE if any(issubclass(f, k) for f in found)), InvalidInput
        )


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database was out of reach (down, restarting, the
    connection lost), as opposed to refusing the statement or its data."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
