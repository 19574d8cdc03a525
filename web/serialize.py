"""Domain objects to JSON-ready dicts, as the contract describes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statuschecker.model import Event, Page, Service, Tick

JSON = {"Content-Type": "application/json"}


def respond(body: dict[str, Any] | None, status: int = 200, **headers: str) -> tuple:
    """A handler's answer with its content type named (the spec declares several per
    operation, problem+json for errors, so Connexion cannot pick one itself)."""
    return body, status, {**JSON, **headers} if body is not None else headers


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event(value: Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": value.id,
        "event": value.event,
        "date_started": timestamp(value.date_started),
        "date_ended": timestamp(value.date_ended),
    }


def service(value: Service) -> dict[str, Any]:
    """A service with its current state as the API shows it."""
    m = value.metric
    return {
        "id": value.id,
        "name": value.name,
        "url": value.url,
        "kind": value.kind,
        "interval_seconds": value.interval_seconds,
        "timeout_seconds": value.timeout_seconds,
        "paused": value.paused,
        "created_at": timestamp(value.created_at),
        "updated_at": timestamp(value.updated_at),
        "status": value.status,
        "latest_event": event(value.latest_event) if value.latest_event else None,
        "metric": {
            "tick_count": m.tick_count,
            "up_count": m.up_count,
            "down_count": m.down_count,
            "uptime_percent": m.uptime_percent,
            "average_response_time_ms": m.average_response_time_ms,
            "max_response_time_ms": m.max_response_time_ms,
            "last_checked_at": timestamp(m.last_checked_at),
        },
    }


def tick(value: Tick) -> dict[str, Any]:
    """A stored check result as the API shows it."""
    r = value.result
    return {
        "checked_at": timestamp(value.checked_at),
        "up": r.up,
        "response_time_ms": r.response_time_ms,
        "ttfb_ms": r.ttfb_ms,
        "status_code": r.status_code,
        "error": r.error,
    }


def page(value: Page, item: Any) -> dict[str, Any]:
    """A page as `{data, next_cursor}`, each item shown by `item`."""
    return {"data": [item(v) for v in value.items], "next_cursor": value.next_cursor}
