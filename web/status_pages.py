"""Handlers of /pages and /status/pages (one function per operationId)."""

from __future__ import annotations

from typing import Any

from web import serialize
from web.context import caller, pages, visible


def create_status_page(body: dict[str, Any]) -> tuple:
    """POST /pages"""
    created = pages().create(caller(), body)
    location = f"/v1/pages/{created.slug}"
    return serialize.respond(serialize.status_page(created), 201, Location=location)


def list_status_pages(limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /pages"""
    found = pages().page(visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(found, serialize.status_page))


def get_status_page(slug: str) -> tuple:
    """GET /pages/{slug}"""
    return serialize.respond(serialize.status_page(pages().get(slug, visible())))


def update_status_page(slug: str, body: dict[str, Any]) -> tuple:
    """PATCH /pages/{slug}"""
    return serialize.respond(serialize.status_page(pages().update(slug, body, visible())))


def delete_status_page(slug: str) -> tuple:
    """DELETE /pages/{slug}"""
    pages().delete(slug, visible())
    return serialize.respond(None, 204)


def get_public_status_page(slug: str) -> tuple:
    """GET /status/pages/{slug}"""
    return serialize.respond(serialize.public_status_page(pages().public(slug)))
