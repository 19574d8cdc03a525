"""Handlers of /services and its history (one function per operationId)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from statuschecker.model import ServiceFilter
from web import serialize
from web.context import caller, own_service, ping_base, services, visible
from web.params import parse_time


def register(body: dict[str, Any]) -> tuple:
    """POST /services"""
    created = services().register(caller(), **body)
    shown = serialize.service(created, ping_base(), reveal_key=True)
    return serialize.respond(shown, 201, Location=f"/v1/services/{created.id}")


def register_batch(body: dict[str, Any]) -> tuple:
    """POST /services:batch"""
    created = services().register_many(caller(), body["services"])
    base = ping_base()
    shown = [serialize.service(s, base, reveal_key=True) for s in created]
    return serialize.respond({"services": shown}, 201)


def list_services(
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    name: str | None = None,
    tag: str | None = None,
) -> Response:
    """GET /services"""
    kept = ServiceFilter(status, name, tag)  # type: ignore[arg-type]
    page = services().list_shown(visible(), limit, cursor, kept, show=serialize.settings_json)
    return serialize.listed_page(page, ping_base())


def get_service(service_id: int) -> tuple:
    """GET /services/{service_id}"""
    service = services().get(service_id, visible())
    shown = own_service(service)
    if service.locations:  # what each location says, and whether it is live (not cached)
        found = services().location_results(service)
        shown = {**shown, "location_results": [serialize.location_result(*r) for r in found]}
    return serialize.respond(shown)


def update_service(service_id: int, body: dict[str, Any]) -> tuple:
    """PATCH /services/{service_id}"""
    return serialize.respond(own_service(services().update(service_id, body, visible())))


def delete_service(service_id: int) -> tuple:
    """DELETE /services/{service_id}"""
    services().delete(service_id, visible())
    return serialize.respond(None, 204)


def list_events(service_id: int, limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /services/{service_id}/events"""
    page = services().events(service_id, visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, serialize.event))


def list_ticks(
    service_id: int,
    limit: int = 50,
    cursor: str | None = None,
    since: str | None = None,
    until: str | None = None,
    location: str | None = None,
) -> tuple:
    """GET /services/{service_id}/ticks"""
    page = services().ticks(
        service_id,
        visible(),
        limit=limit,
        cursor=cursor,
        since=parse_time("since", since),
        until=parse_time("until", until),
        location=location,
    )
    return serialize.respond(serialize.page(page, serialize.tick))
