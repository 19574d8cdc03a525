"""Passwords, log-in tokens and API token secrets: how each is made, stored and checked."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from statuschecker.system.config import Settings

API_TOKEN_PREFIX = "sc_"
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "statuschecker"

_passwords = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when an e-mail has no account, so that a log-in takes as long either
    way."""
    return _passwords.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _passwords.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made from (None: no account, which
    costs the same time and never matches)."""
    try:
        return _passwords.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def issue_access_token(user_id: int, key: str, ttl_seconds: int) -> str:
    """A signed JWT naming the account, valid for `ttl_seconds`."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iss": JWT_ISSUER,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def access_token_claims(token: str, key: str) -> tuple[int, datetime] | None:
    """The account a valid, unexpired JWT of ours names, and when the JWT expires; None for
    anything else."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
        return int(claims["sub"]), datetime.fromtimestamp(claims["exp"], UTC)
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        return None


def new_api_token() -> tuple[str, str]:
    """A fresh API token secret and the hash it is stored as."""
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, api_token_hash(secret)


def api_token_hash(secret: str) -> str:
    """How an API token is stored: its SHA-256 (the secret has 256 random bits, so a slow
    hash would add nothing)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def is_api_token(token: str) -> bool:
    """Whether a bearer token is one of our API tokens rather than a log-in JWT."""
    return token.startswith(API_TOKEN_PREFIX)


def bearer_matches(authorization: str, secret: SecretStr) -> bool:
    """Whether an Authorization header carries `secret` as its bearer token (compared in
    constant time)."""
    expected = f"Bearer {secret.get_secret_value()}"
    return hmac.compare_digest(authorization.encode(), expected.encode())


def signing_key(settings: Settings) -> str:
    """`STATUSCHECKER_SECRET_KEY`, or the key generated into the data directory the first
    time and read back ever after (created exclusively, readable by its owner only)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path: Path = settings.secret_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to have a new key generated")
    return key
