"""Handlers of /services/{service_id}/stats, and of /services:stats (many services' figures)."""

from __future__ import annotations

from typing import cast

from starlette.responses import Response

from statuschecker.model import ServiceFilter
from statuschecker.services.overview import Sort
from statuschecker.services.queries import HISTORY_WINDOWS
from web import serialize
from web.context import services, visible, visible_on_status
from web.params import parse_time


def list_service_stats(
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    name: str | None = None,
    tag: str | None = None,
    group: str | None = None,
    sort: str = "name",
    order: str = "asc",
) -> Response:
    """GET /services:stats"""
    kept = ServiceFilter(status, name, tag)  # type: ignore[arg-type]
    by = cast(Sort, sort)  # the contract's enum
    found = services().overview(visible(), limit, cursor, kept, group, by, order == "desc")
    return serialize.service_stats_page(found)


def get_stats(
    service_id: int,
    window_seconds: int | None = None,
    since: str | None = None,
    until: str | None = None,
    location: str | None = None,
) -> tuple:
    """GET /services/{service_id}/stats"""
    result = services().stats(
        service_id,
        visible(),
        window_seconds=window_seconds,
        since=parse_time("since", since),
        until=parse_time("until", until),
        location=location,
    )
    return serialize.respond(serialize.stats(result))


def get_stats_summary(service_id: int, location: str | None = None) -> tuple:
    """GET /services/{service_id}/stats/summary"""
    windows = services().stats_summary(service_id, visible(), location)
    data = [
        {
            "window": label,
            "since": serialize.timestamp(s.since),
            "until": serialize.timestamp(s.until),
            "checks": s.checks,
            "successful": s.successful,
            "failed": s.failed,
            "availability_percent": s.availability_percent,
        }
        for label, s in windows
    ]
    return serialize.respond({"data": data})


def get_history(service_id: int, window: str = "24h", location: str | None = None) -> tuple:
    """GET /services/{service_id}/history"""
    hours, _ = HISTORY_WINDOWS[window]
    buckets = services().history(service_id, visible_on_status(), window, location)
    return serialize.respond(
        {
            "window": window,
            "bucket_seconds": hours * 3600,
            "buckets": [serialize.bucket(b) for b in buckets],
        }
    )
