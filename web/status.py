"""Handlers of /status: the compact read-only view for dashboards and scripts."""

from __future__ import annotations

from typing import Any

from statuschecker.model import Event, Service
from statuschecker.redaction import masked_url
from web import serialize
from web.context import services, visible_on_status


def _brief(service: Service) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service.name,
        "url": masked_url(service.url),
        "kind": service.kind,
        "status": service.status,
        "last_performed": serialize.timestamp(service.metric.last_checked_at),
        "uptime": serialize.uptime(service.uptime),
    }


def _incident(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "description": event.reason or "down",
        "down_detection": serialize.timestamp(event.date_started),
        "up_detection": serialize.timestamp(event.date_ended),
    }


def list_status(limit: int = 1000, cursor: str | None = None) -> tuple:
    """GET /status"""
    page = services().list_services(visible_on_status(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, _brief))


def list_down(limit: int = 1000, cursor: str | None = None) -> tuple:
    """GET /status/down"""
    page = services().list_services(visible_on_status(), limit=limit, cursor=cursor, status="down")
    return serialize.respond(serialize.page(page, _brief))


def get_by_name(name: str) -> tuple:
    """GET /status/service/{name}"""
    return serialize.respond(_brief(services().by_name(name, visible_on_status())))


def list_incidents(name: str, limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /status/service/{name}/incidents"""
    page = services().incidents(name, visible_on_status(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, _incident))
