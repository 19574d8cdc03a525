"""Handlers of /users, /auth/token and /tokens (one function per operationId)."""

from __future__ import annotations

from typing import Any

from web import serialize
from web.context import accounts, caller, client_address


def sign_up(body: dict[str, Any]) -> tuple:
    """POST /users"""
    user = accounts().sign_up(body["email"], body["password"], client_address(), caller())
    return serialize.respond(serialize.user(user), 201, Location="/v1/users/me")


def log_in(body: dict[str, Any]) -> tuple:
    """POST /auth/token"""
    token = accounts().log_in(body["email"], body["password"], client_address())
    return serialize.respond(
        {"access_token": token.access_token, "token_type": "bearer", "expires_in": token.expires_in}
    )


def get_me() -> tuple:
    """GET /users/me"""
    return serialize.respond(serialize.user(accounts().me(caller())))


def create_token(body: dict[str, Any]) -> tuple:
    """POST /tokens"""
    token, secret = accounts().create_token(
        caller(), body["name"], body.get("read_only", False), body.get("expires_in_seconds")
    )
    shown = {**serialize.api_token(token), "token": secret}
    return serialize.respond(shown, 201, Location=f"/v1/tokens/{token.id}")


def list_tokens(limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /tokens"""
    page = accounts().tokens(caller(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, serialize.api_token))


def revoke_token(token_id: int) -> tuple:
    """DELETE /tokens/{token_id}"""
    accounts().revoke(caller(), token_id)
    return serialize.respond(None, 204)
