"""Queries on accounts and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError

from statuschecker.errors import Conflict, NotFound
from statuschecker.model import ApiToken, Page, User
from statuschecker.store import cursor
from statuschecker.store.tables import api_tokens, users


def _user(row: RowMapping) -> User:
    return User(row["id"], row["email"], row["is_admin"], row["created_at"])


def _token(row: RowMapping) -> ApiToken:
    return ApiToken(row["id"], row["name"], row["read_only"], row["created_at"], row["expires_at"])


def lock_users(conn: Connection) -> None:
    """Serialise sign-ups until the transaction ends, so that the answer of `has_users` holds
    (two first accounts cannot both become admin)."""
    conn.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))


def create_user(conn: Connection, email: str, password_hash: str, *, is_admin: bool) -> User:
    """Insert an account; Conflict when the e-mail is taken."""
    try:
        with conn.begin_nested():
            row = (
                conn.execute(
                    insert(users)
                    .values(email=email, password_hash=password_hash, is_admin=is_admin)
                    .returning(users)
                )
                .mappings()
                .one()
            )
    except IntegrityError as exc:
        raise Conflict(f"an account with the e-mail {email!r} exists already") from exc
    return _user(row)


def has_users(conn: Connection) -> bool:
    """Whether any account exists."""
    return conn.execute(select(users.c.id).limit(1)).first() is not None


def password_hash_of(conn: Connection, email: str) -> tuple[User, str] | None:
    """The account with this e-mail and its password hash, or None."""
    row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
    return (_user(row), row["password_hash"]) if row else None


def get_user(conn: Connection, user_id: int, *, lock: bool = False) -> User:
    """One account; NotFound when it is gone. `lock` holds its row until the transaction ends."""
    query = select(users).where(users.c.id == user_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound(f"no account with id {user_id}")
    return _user(row)


def create_token(
    conn: Connection,
    user_id: int,
    name: str,
    secret_hash: str,
    read_only: bool,
    expires_at: datetime | None,
) -> ApiToken:
    """Insert an API token of an account."""
    row = (
        conn.execute(
            insert(api_tokens)
            .values(
                user_id=user_id,
                name=name,
                secret_hash=secret_hash,
                read_only=read_only,
                expires_at=expires_at,
            )
            .returning(api_tokens)
        )
        .mappings()
        .one()
    )
    return _token(row)


def token_owner(conn: Connection, secret_hash: str) -> tuple[User, ApiToken] | None:
    """The account and token with this secret hash, when the token has not expired."""
    query = (
        select(
            users,
            api_tokens.c.id.label("token_id"),
            api_tokens.c.name,
            api_tokens.c.read_only,
            api_tokens.c.created_at.label("token_created_at"),
            api_tokens.c.expires_at,
        )
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(
            api_tokens.c.secret_hash == secret_hash,
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > func.now()),
        )
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    token = ApiToken(
        row["token_id"], row["name"], row["read_only"], row["token_created_at"], row["expires_at"]
    )
    return _user(row), token


def tokens_page(conn: Connection, user_id: int, *, limit: int, after: str | None) -> Page[ApiToken]:
    """An account's API tokens in creation order, `limit` at a time."""
    query = cursor.in_id_order(
        select(api_tokens).where(api_tokens.c.user_id == user_id),
        api_tokens.c.id,
        limit=limit,
        after=after,
    )
    rows = [_token(row) for row in conn.execute(query).mappings()]
    return cursor.page(rows, limit, lambda t: (t.id,))


def delete_token(conn: Connection, user_id: int, token_id: int) -> str:
    """Revoke an account's API token; its secret's hash. NotFound when the account has no
    such token."""
    statement = (
        delete(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
        .returning(api_tokens.c.secret_hash)
    )
    secret_hash = conn.execute(statement).scalar()
    if secret_hash is None:
        raise NotFound(f"no API token with id {token_id}")
    return secret_hash
