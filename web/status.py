"""Handlers of /status: the compact read-only view for dashboards and scripts."""

from __future__ import annotations

from typing import Any

from statuschecker.model import Event, Page, Service, ServiceFilter
from statuschecker.redaction import masked_url
from web import serialize
from web.context import pages, services, visible_on_status


def _briefs(items: list[Service]) -> list[dict[str, Any]]:
    """Services in brief; a failing parent is named where the caller may see it."""
    causes = {
        s.latest_event.caused_by
        for s in items
        if s.latest_event is not None and s.latest_event.caused_by is not None
    }
    names = services().names(causes, visible_on_status())
    return [_brief(s, names) for s in items]


def _brief(service: Service, names: dict[int, str]) -> dict[str, Any]:
    event = service.latest_event
    cause = event.caused_by if event is not None and service.status == "down" else None
    return {
        "id": service.id,
        "name": service.name,
        "url": None if service.heartbeat else masked_url(service.url),
        "kind": service.kind,
        "status": service.status,
        "last_performed": serialize.timestamp(service.metric.last_checked_at),
        "uptime": serialize.uptime(service.uptime),
        "group": service.group,
        "tags": list(service.tags),
        "caused_by": {"id": cause, "name": names[cause]} if cause in names else None,
        "failing_locations": list(service.failing_locations),
    }


def _page(page: Page[Service]) -> dict[str, Any]:
    return {"data": _briefs(page.items), "next_cursor": page.next_cursor}


def _incident(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "description": event.reason or "down",
        "down_detection": serialize.timestamp(event.date_started),
        "up_detection": serialize.timestamp(event.date_ended),
        "caused_by": event.caused_by,
    }


def list_status(
    limit: int = 1000, cursor: str | None = None, tag: str | None = None, page: str | None = None
) -> tuple:
    """GET /status"""
    ids = pages().public(page).service_ids if page is not None else None
    kept = ServiceFilter(tag=tag, ids=ids)
    found = services().list_services(visible_on_status(), limit, cursor, kept)
    return serialize.respond(_page(found))


def list_down(limit: int = 1000, cursor: str | None = None) -> tuple:
    """GET /status/down"""
    page = services().list_services(
        visible_on_status(), limit, cursor, ServiceFilter(status="down")
    )
    return serialize.respond(_page(page))


def get_by_name(name: str) -> tuple:
    """GET /status/service/{name}"""
    return serialize.respond(_briefs([services().by_name(name, visible_on_status())])[0])


def list_incidents(name: str, limit: int = 50, cursor: str | None = None) -> tuple:
    """GET /status/service/{name}/incidents"""
    page = services().incidents(name, visible_on_status(), limit=limit, cursor=cursor)
    return serialize.respond(serialize.page(page, _incident))
