"""Handlers of /alerts and /services/{service_id}/alerts."""

from __future__ import annotations

from web import serialize
from web.context import services, visible
from web.params import parse_time


def list_alerts(
    limit: int = 50,
    cursor: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    service_id: int | None = None,
) -> tuple:
    """GET /alerts"""
    page, deliveries = services().alerts(
        visible(),
        limit,
        cursor=cursor,
        service_id=service_id,
        kind=kind,
        since=parse_time("since", since),
        until=parse_time("until", until),
    )
    data = [serialize.alert(a, deliveries.get(a.id, [])) for a in page.items]
    return serialize.respond({"data": data, "next_cursor": page.next_cursor})


def list_service_alerts(
    service_id: int,
    limit: int = 50,
    cursor: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple:
    """GET /services/{service_id}/alerts"""
    return list_alerts(limit, cursor, kind, since, until, service_id=service_id)
