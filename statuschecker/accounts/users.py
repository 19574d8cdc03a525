"""Accounts and credentials as the API offers them: sign up, log in, authenticate a bearer
token, and manage API tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import monotonic

import structlog
from cachetools import TTLCache
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.accounts import credentials
from statuschecker.accounts.ratelimit import AttemptLimiter
from statuschecker.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    database_unreachable,
)
from statuschecker.model import ApiToken, Caller, Page, User
from statuschecker.store import accounts as store
from statuschecker.system.config import Settings

log = structlog.get_logger(__name__)

MIN_PASSWORD_CHARS = 12
OFFLINE_TRUST_SECONDS = 600.0  # how long a token found valid is trusted while the database is away
FRESH_SECONDS = 5.0  # how long a token found valid is taken without asking the database again
TRUSTED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class _Found:
    """A caller a token was found to stand for, when (monotonic seconds), and until when the
    token stands at most (None: an API token without expiry)."""

    caller: Caller
    at: float
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a log-in returns."""

    access_token: str
    expires_in: int


class Accounts:
    """Sign-up, log-in and token operations, with the sign-up policy and attempt limits."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._key = credentials.signing_key(settings)
        self._attempts = AttemptLimiter(settings.auth_rate_limit)
        # Callers of tokens recently found valid, by token hash (see `authenticate`).
        self._trusted: TTLCache[str, _Found] = TTLCache(
            maxsize=TRUSTED_TOKENS, ttl=OFFLINE_TRUST_SECONDS
        )
        self._trusted_lock = threading.Lock()

    def sign_up(self, email: str, password: str, client: str, creator: Caller) -> User:
        """Create an account through the API. An admin always may; otherwise the policy says:
        `open` lets anyone in, `first-only` only the first account, `closed` nobody (the first
        account then comes from `add_user`). Attempts count against the client address and the
        e-mail, except an admin's."""
        email = normalized_email(email)
        if not creator.is_admin:
            self._attempts.attempt("sign-up", address=client, email=email)
        policy = self._settings.signup_policy

        def allowed(is_first: bool) -> bool:
            return creator.is_admin or policy == "open" or (policy == "first-only" and is_first)

        user = self._create(email, password, admin=False, allowed=allowed)
        log.info("account.created", user_id=user.id, admin=user.is_admin, client=client)
        return user

    def add_user(self, email: str, password: str, *, admin: bool = False) -> User:
        """Create an account whatever the sign-up policy (the command line's way in)."""
        user = self._create(normalized_email(email), password, admin=admin, allowed=lambda _: True)
        log.info("account.created", user_id=user.id, admin=user.is_admin, client="command line")
        return user

    def _create(
        self, email: str, password: str, *, admin: bool, allowed: Callable[[bool], bool]
    ) -> User:
        """Insert an account if `allowed(is_first)`; the first account is always admin."""
        if len(password) < MIN_PASSWORD_CHARS:
            raise InvalidInput(f"a password needs {MIN_PASSWORD_CHARS} characters or more")
        password_hash = credentials.hash_password(password)
        with self._engine.begin() as conn:
            store.lock_users(conn)
            is_first = not store.has_users(conn)
            if not allowed(is_first):
                policy = self._settings.signup_policy
                raise Forbidden(f"sign-up is {policy}: ask an administrator for an account")
            return store.create_user(conn, email, password_hash, is_admin=admin or is_first)

    def log_in(self, email: str, password: str, client: str) -> AccessToken:
        """A signed access token for the account, if the password is right. Attempts count
        against the client address and the e-mail; failures are logged without the password."""
        email = normalized_email(email)
        self._attempts.attempt("log-in", address=client, email=email)
        with self._engine.connect() as conn:
            found = store.password_hash_of(conn, email)
        user, password_hash = found if found else (None, None)
        if user is None or not credentials.password_matches(password_hash, password):
            log.warning("account.log_in_failed", email=email, client=client, known=bool(user))
            raise Unauthorized("wrong e-mail or password")
        ttl = self._settings.access_token_ttl_seconds
        token = credentials.issue_access_token(user.id, self._key, ttl)
        log.info("account.logged_in", user_id=user.id, client=client)
        return AccessToken(token, ttl)

    def authenticate(self, token: str) -> Caller:
        """The caller a bearer token stands for: a log-in JWT or an API token. Unauthorized
        when it is malformed, tampered with, expired, revoked or its account is gone.

        A token found valid within `FRESH_SECONDS` stands for the same caller without asking
        the database again (until it expires; revoking it here forgets it at once, in another
        API process within those seconds). While the database is away, one found valid within
        `OFFLINE_TRUST_SECONDS` (and neither refused nor revoked here since) still does, so that
        what can be answered without the database (cached status) is; any other token fails
        with the database error."""
        key = credentials.api_token_hash(token)
        with self._trusted_lock:
            trusted = self._trusted.get(key)
        fresh = self._still(trusted, FRESH_SECONDS)
        if fresh is not None:
            return fresh
        try:
            found = self._look_up(token)
        except Unauthorized:
            with self._trusted_lock:
                self._trusted.pop(key, None)
            raise
        except SQLAlchemyError as exc:
            offline = self._still(trusted, OFFLINE_TRUST_SECONDS)
            if offline is None or not database_unreachable(exc):
                raise
            return offline
        with self._trusted_lock:
            self._trusted[key] = found
        return found.caller

    def fresh_caller(self, token: str) -> Caller | None:
        """The caller of a token found valid within `FRESH_SECONDS`, if it has not expired
        since: what `authenticate` answers without the database (None: ask it)."""
        with self._trusted_lock:
            trusted = self._trusted.get(credentials.api_token_hash(token))
        return self._still(trusted, FRESH_SECONDS)

    def _still(self, found: _Found | None, seconds: float) -> Caller | None:
        """The caller of a token found valid within `seconds`, if it has not expired since."""
        if found is None or monotonic() - found.at >= seconds:
            return None
        unexpired = found.expires_at is None or found.expires_at > datetime.now(UTC)
        return found.caller if unexpired else None

    def _look_up(self, token: str) -> _Found:
        with self._engine.connect() as conn:
            if credentials.is_api_token(token):
                found = store.token_owner(conn, credentials.api_token_hash(token))
                if found is None:
                    raise Unauthorized("the API token is unknown, revoked or expired")
                user, api_token = found
                caller = Caller(user.id, user.is_admin, read_only=api_token.read_only)
                return _Found(caller, monotonic(), api_token.expires_at)
            claims = credentials.access_token_claims(token, self._key)
            if claims is None:
                raise Unauthorized("the access token is malformed, altered or expired")
            user_id, expires_at = claims
            try:
                user = store.get_user(conn, user_id)
            except NotFound:
                raise Unauthorized("the access token's account no longer exists") from None
        return _Found(Caller(user.id, user.is_admin, read_only=False), monotonic(), expires_at)

    def me(self, caller: Caller) -> User:
        """The caller's account."""
        with self._engine.connect() as conn:
            return store.get_user(conn, _user_id(caller))

    def create_token(
        self, caller: Caller, name: str, read_only: bool, expires_in_seconds: int | None
    ) -> tuple[ApiToken, str]:
        """A new API token of the caller's account, and its secret (shown this once)."""
        expires_at = None
        if expires_in_seconds is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_seconds)
        secret, secret_hash = credentials.new_api_token()
        with self._engine.begin() as conn:
            token = store.create_token(
                conn, _user_id(caller), name.strip(), secret_hash, read_only, expires_at
            )
        log.info("api_token.created", user_id=caller.user_id, token_id=token.id)
        return token, secret

    def tokens(self, caller: Caller, limit: int, cursor: str | None = None) -> Page[ApiToken]:
        """The caller's API tokens, without their secrets."""
        with self._engine.connect() as conn:
            return store.tokens_page(conn, _user_id(caller), limit=limit, after=cursor)

    def revoke(self, caller: Caller, token_id: int) -> None:
        """Revoke one of the caller's API tokens; it stops working at once."""
        with self._engine.begin() as conn:
            secret_hash = store.delete_token(conn, _user_id(caller), token_id)
        with self._trusted_lock:
            self._trusted.pop(secret_hash, None)
        log.info("api_token.revoked", user_id=caller.user_id, token_id=token_id)


def normalized_email(email: str) -> str:
    """An e-mail as it is stored: trimmed and lower-cased; InvalidInput if it cannot be one."""
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not (at and local and "." in domain.strip(".") and " " not in email):
        raise InvalidInput("the e-mail address is not valid")
    return email


def _user_id(caller: Caller) -> int:
    if caller.user_id is None:
        raise Unauthorized("this needs an account: log in first")
    return caller.user_id
