"""Handlers of a heartbeat's ping key and ping log (one function per operationId); the pings
themselves arrive outside the API (web.pings)."""

from __future__ import annotations

from web import serialize
from web.context import own_service, services, visible


def rotate_ping_key(service_id: int) -> tuple:
    """POST /services/{service_id}/ping-key"""
    return serialize.respond(own_service(services().rotate_ping_key(service_id, visible())))


def list_pings(service_id: int, limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /services/{service_id}/pings"""
    page = services().pings(service_id, visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, serialize.ping))
