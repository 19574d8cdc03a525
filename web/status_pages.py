"""Handlers of /pages, /status/pages and their subscriptions (one function per operationId)."""

from __future__ import annotations

from typing import Any

from statuschecker.redaction import masked_url
from web import serialize
from web.context import caller, client_address, pages, subscriptions, visible


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


def subscribe_to_status_page(slug: str, body: dict[str, Any]) -> tuple:
    """POST /status/pages/{slug}/subscriptions"""
    made = subscriptions().subscribe(slug, body["url"], body.get("secret"), client_address())
    return serialize.respond(
        {
            "id": made.id,
            "page": made.slug,
            "url": masked_url(made.url),
            "signed": made.signed,
            "created_at": serialize.timestamp(made.created_at),
            "token": made.token,
        },
        201,
    )


def cancel_subscription(body: dict[str, Any]) -> tuple:
    """POST /status/subscriptions:cancel"""
    subscriptions().cancel(body["token"])
    return serialize.respond(None, 204)


def list_page_subscriptions(slug: str, limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /pages/{slug}/subscriptions"""
    found = subscriptions().page(slug, visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(found, _subscription))


def delete_page_subscription(slug: str, subscription_id: int) -> tuple:
    """DELETE /pages/{slug}/subscriptions/{subscription_id}"""
    subscriptions().remove(slug, subscription_id, visible())
    return serialize.respond(None, 204)


def _subscription(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": masked_url(row.url),
        "signed": row.signed,
        "created_at": serialize.timestamp(row.created_at),
        "pending_deliveries": row.pending,
        "failed_deliveries": row.failed,
    }
