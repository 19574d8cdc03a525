"""Domain errors; the web adapter maps each to one problem response."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors the service layer raises on purpose; carries an HTTP-free status."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request is well-formed but its values cannot be accepted."""


class NotFound(DomainError):
    """The named thing does not exist (or is not the caller's)."""

    status = 404
    title = "Not Found"


class Conflict(DomainError):
    """The request clashes with what is stored (for example a duplicate name)."""

    status = 409
    title = "Conflict"


class Unavailable(DomainError):
    """A dependency (the database) cannot answer right now."""

    status = 503
    title = "Service Unavailable"
