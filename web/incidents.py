"""Handlers of /incidents and /status/incidents (one function per operationId)."""

from __future__ import annotations

from typing import Any

from web import serialize
from web.context import caller, incidents, pages, visible, visible_on_status


def create_incident(body: dict[str, Any]) -> tuple:
    """POST /incidents"""
    created = incidents().create(caller(), body)
    location = f"/v1/incidents/{created.id}"
    return serialize.respond(serialize.written_incident(created), 201, Location=location)


def list_written_incidents(limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /incidents"""
    page = incidents().page(visible(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, serialize.written_incident))


def get_incident(incident_id: int) -> tuple:
    """GET /incidents/{incident_id}"""
    return serialize.respond(serialize.written_incident(incidents().get(incident_id, visible())))


def update_incident(incident_id: int, body: dict[str, Any]) -> tuple:
    """PATCH /incidents/{incident_id}"""
    changed = incidents().update(incident_id, body, visible())
    return serialize.respond(serialize.written_incident(changed))


def delete_incident(incident_id: int) -> tuple:
    """DELETE /incidents/{incident_id}"""
    incidents().delete(incident_id, visible())
    return serialize.respond(None, 204)


def add_incident_update(incident_id: int, body: dict[str, Any]) -> tuple:
    """POST /incidents/{incident_id}/updates"""
    changed = incidents().add_update(incident_id, body, visible())
    return serialize.respond(serialize.written_incident(changed), 201)


def list_status_incidents(
    page: str | None = None, limit: int = 50, cursor: str | None = None
) -> tuple:
    """GET /status/incidents"""
    shown = pages().public(page).service_ids if page is not None else None
    found = incidents().on_status(visible_on_status(), shown, limit=limit, after=cursor)
    return serialize.respond(serialize.page(found, serialize.status_incident))
