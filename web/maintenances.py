"""Handlers of /maintenances and /status/maintenances (one function per operationId)."""

from __future__ import annotations

from typing import Any

from web import serialize
from web.context import caller, maintenances, pages, visible, visible_on_status


def create_maintenance(body: dict[str, Any]) -> tuple:
    """POST /maintenances"""
    created = maintenances().create(caller(), body)
    location = f"/v1/maintenances/{created.window.id}"
    return serialize.respond(serialize.maintenance(created), 201, Location=location)


def list_maintenances(limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /maintenances"""
    page = maintenances().page(visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, serialize.maintenance))


def get_maintenance(maintenance_id: int) -> tuple:
    """GET /maintenances/{maintenance_id}"""
    return serialize.respond(serialize.maintenance(maintenances().get(maintenance_id, visible())))


def update_maintenance(maintenance_id: int, body: dict[str, Any]) -> tuple:
    """PATCH /maintenances/{maintenance_id}"""
    changed = maintenances().update(maintenance_id, body, visible())
    return serialize.respond(serialize.maintenance(changed))


def delete_maintenance(maintenance_id: int) -> tuple:
    """DELETE /maintenances/{maintenance_id}"""
    maintenances().delete(maintenance_id, visible())
    return serialize.respond(None, 204)


def list_status_maintenances(page: str | None = None) -> tuple:
    """GET /status/maintenances"""
    ids = pages().public(page).service_ids if page is not None else None
    shown = maintenances().upcoming(visible_on_status(), among=ids)
    return serialize.respond({"data": [serialize.status_maintenance(u) for u in shown]})
