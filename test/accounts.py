"""Accounts for tests: a shared password hashed once, and the ways tests act as someone."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from statuschecker.accounts import credentials
from statuschecker.model import Caller, User, Visibility

UNOWNED = Caller()
"""Registers services without an owner, as the service layer's own callers (tests) may."""
ALL = Visibility()
"""Sees every service, as an admin does."""

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    """The hash of PASSWORD, made once: argon2 is slow on purpose."""
    return credentials.hash_password(PASSWORD)


@dataclass(frozen=True)
class Account:
    """An account made for a test, with a valid access token."""

    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header that authenticates as this account."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def caller(self) -> Caller:
        """The account as the service layer sees a caller."""
        return Caller(self.user.id, self.user.is_admin, read_only=False)
