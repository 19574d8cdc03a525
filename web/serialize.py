"""Domain objects to JSON-ready dicts, as the contract describes them."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from statuschecker.model import (
    Alert,
    AlertPolicy,
    ApiToken,
    Bucket,
    CheckResult,
    DeliveryView,
    Event,
    HeartbeatView,
    Location,
    LocationState,
    Page,
    PingRecord,
    Reported,
    Service,
    StatusPage,
    Tick,
    Uptime,
    User,
)
from statuschecker.redaction import MASK, masked_options, masked_url, redact
from statuschecker.services.incident_json import incident_fields
from statuschecker.services.maintenances import Planned, Upcoming
from statuschecker.services.overview import Figures, Overview
from statuschecker.services.queries import Listed
from statuschecker.services.registration import warnings
from statuschecker.services.stats import Stats
from statuschecker.timefmt import rfc3339

JSON = {"Content-Type": "application/json"}


def respond(body: dict[str, Any] | None, status: int = 200, **headers: str) -> tuple:
    """A handler's answer with its content type named (the spec declares several per
    operation, problem+json for errors, so Connexion cannot pick one itself)."""
    return body, status, {**JSON, **headers} if body is not None else headers


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, or None."""
    if value is None:
        return None
    return rfc3339(value)


def event(value: Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": value.id,
        "event": value.event,
        "date_started": timestamp(value.date_started),
        "date_ended": timestamp(value.date_ended),
        "reason": value.reason,
        "caused_by": value.caused_by,
    }


def service(value: Service, ping_base: str = "", reveal_key: bool = False) -> dict[str, Any]:
    """A service with its current state as the API shows it; a heartbeat's ping URL under
    `ping_base`, its key whole only with `reveal_key`."""
    return {**service_settings(value), **service_state(value, ping_base, reveal_key)}


def listed_page(value: Page[Listed], ping_base: str) -> Response:
    """A page of a list of services as its JSON answer, `{data, next_cursor}`, each service as
    `service` shows it (a heartbeat's key masked), encoded in two parts: its settings as the
    list's `show`, `settings_json`, encoded them once for their version, and its state now.
    Most of a service's JSON is its settings: a list's answer is mostly encoded already."""
    items = [_listed_json(item, ping_base) for item in value.items]
    body = f'{{"data": [{", ".join(items)}], "next_cursor": {json.dumps(value.next_cursor)}}}'
    return Response(body, 200, media_type=JSON["Content-Type"])


def _listed_json(item: Listed, ping_base: str) -> str:
    """A listed service's JSON object, kept with the listing (made once per state) for the
    last `ping_base` only (it comes from the request's Host when no public URL is set)."""
    encoded = item.memo.get(ping_base)
    if encoded is None:
        state = json.dumps(service_state(item.service, ping_base, False))
        encoded = item.shown + ", " + state[1:]
        item.memo.clear()
        item.memo[ping_base] = encoded
    return encoded


def settings_json(value: Service) -> str:
    """`service_settings` encoded as the start of the service's JSON object (no closing
    brace), for `listed_page`."""
    return json.dumps(service_settings(value))[:-1]


def service_settings(value: Service) -> dict[str, Any]:
    """What `service` shows of a service's settings: all but its state and ping URL, the same
    for every read until the settings change."""
    return {
        "id": value.id,
        "owner_id": value.owner_id,
        "public": value.public,
        "name": value.name,
        "url": None if value.heartbeat else masked_url(value.url),
        "kind": value.kind,
        "interval_seconds": value.interval_seconds,
        "timeout_seconds": value.timeout_seconds,
        "created_at": timestamp(value.created_at),
        "alert_policy": policy(value.alert_policy or AlertPolicy()),
        "check_options": masked_options(value.check_options),
        "warnings": warnings(value),
        "confirm_down_after": value.confirm_down_after,
        "confirm_up_after": value.confirm_up_after,
        "retry_interval_seconds": value.retry_interval_seconds,
        "tags": list(value.tags),
        "group": value.group,
        "depends_on": list(value.depends_on),
        "locations": list(value.locations),
        "quorum": value.quorum,
    }


def service_state(value: Service, ping_base: str, reveal_key: bool) -> dict[str, Any]:
    """What `service` shows of a service's state (what checks, pings and pauses change), and
    its ping URL."""
    m = value.metric
    return {
        "heartbeat": heartbeat(value.heartbeat) if value.heartbeat else None,
        "ping_url": ping_url(ping_base, value.ping_key, reveal_key) if value.ping_key else None,
        "paused": value.paused,
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
        "uptime": uptime(value.uptime),
        "alert_state": value.alert_state,
        "flapping": value.flapping,
        "failing_locations": list(value.failing_locations),
        "stale_locations": list(value.stale_locations),
        "managed": value.managed,
    }


def heartbeat(value: HeartbeatView) -> dict[str, Any]:
    """A heartbeat's schedule and what it has heard."""
    return {
        **value.schedule.to_json(),
        "last_ping_at": timestamp(value.last_ping_at),
        "due_at": timestamp(value.due_at),
        "late_at": timestamp(value.late_at),
        "running": [
            {"rid": rid or None, "started_at": timestamp(started)} for rid, started in value.running
        ],
    }


def ping_url(base: str, key: str, reveal: bool) -> str:
    """A heartbeat's ping URL; unless `reveal`, with all but the start of its key masked."""
    return f"{base}/ping/{key if reveal else key[:4] + MASK}"


def ping(value: PingRecord) -> dict[str, Any]:
    """A ping of a heartbeat's log."""
    return {
        "id": value.id,
        "received_at": timestamp(value.received_at),
        "kind": value.kind,
        "exit_status": value.exit_status,
        "rid": value.rid,
        "duration_ms": value.duration_ms,
        "body": value.body,
        "source": value.source,
        "user_agent": value.user_agent,
    }


def uptime(value: Uptime | None) -> dict[str, float | None]:
    """Availability over the last 24 h, 7 d and 30 d."""
    if value is None:
        return {"24h": None, "7d": None, "30d": None}
    return {"24h": value.day, "7d": value.week, "30d": value.month}


def bucket(value: Bucket) -> dict[str, Any]:
    """One hour's or day's checks as the history shows them."""
    return {
        "start": timestamp(value.start),
        "checks": value.checks,
        "successful": value.successful,
        "availability_percent": value.availability_percent,
        "avg_response_time_ms": value.avg_response_time_ms,
        "max_response_time_ms": value.max_response_time_ms,
    }


def user(value: User) -> dict[str, Any]:
    """An account as the API shows it (never its password hash)."""
    return {
        "id": value.id,
        "email": value.email,
        "is_admin": value.is_admin,
        "created_at": timestamp(value.created_at),
    }


def api_token(value: ApiToken) -> dict[str, Any]:
    """An API token without its secret."""
    return {
        "id": value.id,
        "name": value.name,
        "read_only": value.read_only,
        "created_at": timestamp(value.created_at),
        "expires_at": timestamp(value.expires_at),
    }


def policy(value: AlertPolicy) -> dict[str, Any]:
    """An alert policy without its secrets: webhook secrets show as `has_secret`, webhook URLs
    masked as a service's URL is, apprise URLs (which carry tokens) as scheme://host."""
    shown = value.to_json()
    shown["webhooks"] = [
        {"url": masked_url(w.url), "has_secret": bool(w.secret)} for w in value.webhooks
    ]
    shown["apprise_urls"] = [redact("apprise", url) for url in value.apprise_urls]
    return shown


def stats(value: Stats) -> dict[str, Any]:
    """Statistics of a range as the API shows them."""
    return {
        "since": timestamp(value.since),
        "until": timestamp(value.until),
        "checks": value.checks,
        "successful": value.successful,
        "failed": value.failed,
        "availability_percent": value.availability_percent,
        "response_time_ms": value.response_time_ms,
        "ttfb_ms": value.ttfb_ms,
        "status_codes": value.status_codes,
        "downtime_seconds": value.downtime_seconds,
        "downtime_periods": value.downtime_periods,
        "percentiles": value.percentiles,
        "phases_ms": value.phases_ms,
        "steps_ms": value.steps_ms,
        "sla": {
            "availability_percent": value.sla_availability_percent,
            "excluded_seconds": value.maintenance_seconds,
        },
    }


def alert(value: Alert, deliveries: list[DeliveryView]) -> dict[str, Any]:
    """An alert with the delivery status of each receiver."""
    return {
        "id": value.id,
        "service_id": value.service_id,
        "service_name": value.service_name,
        "kind": value.kind,
        "rule": value.rule,
        "message": value.message,
        "availability_percent": value.availability_percent,
        "window_seconds": value.window_seconds,
        "time": timestamp(value.raised_at),
        "downtime_seconds": value.downtime_seconds,
        "suppressed_by": value.suppressed_by,
        "held": value.held,
        "delivery_status": delivery_status(deliveries),
        "deliveries": [
            {
                "channel": d.channel,
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "delivered_at": timestamp(d.delivered_at),
            }
            for d in deliveries
        ],
    }


def delivery_status(deliveries: list[DeliveryView]) -> str:
    """One word for all receivers: none, pending, delivered, failed or partial."""
    statuses = {d.status for d in deliveries}
    if not statuses:
        return "none"
    if "pending" in statuses:
        return "pending"
    if statuses == {"delivered"}:
        return "delivered"
    return "failed" if statuses == {"failed"} else "partial"


def tick(value: Tick) -> dict[str, Any]:
    """A stored check result as the API shows it: every field of the result (times as RFC
    3339), with the certificate's days remaining at the check."""
    r = value.result
    fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(CheckResult)}
    shown = {k: timestamp(v) if isinstance(v, datetime) else v for k, v in fields.items()}
    shown["steps"] = json.loads(r.steps) if r.steps else None
    expires = r.cert_expires_at
    return {
        "checked_at": timestamp(value.checked_at),
        **shown,
        "cert_days_remaining": (
            (expires - value.checked_at).total_seconds() / 86400 if expires else None
        ),
        "in_maintenance": value.in_maintenance,
        "location": value.location,
    }


def service_stats_page(value: Overview) -> Response:
    """A page of the dense view as its JSON answer, `{data, total, next_cursor}`, each row as
    `service_stats` shows it, encoded by orjson: the json module takes 9 ms for 500 rows."""
    body = {
        "data": [service_stats(f) for f in value.items],
        "total": value.total,
        "next_cursor": value.next_cursor,
    }
    return Response(orjson.dumps(body), 200, media_type=JSON["Content-Type"])


def service_stats(value: Figures) -> dict[str, Any]:
    """A row of the dense view as the API shows it."""
    return {
        "id": value.id,
        "name": value.name,
        "group": value.group,
        "kind": value.kind,
        "public": value.public,
        "tags": list(value.tags),
        "status": value.status,
        "last_checked_at": timestamp(value.last_checked_at),
        "response_time_ms": value.response_time_ms,
        "uptime_24h": value.uptime_24h,
        "uptime_30d": value.uptime_30d,
        "hourly": {
            "checks": list(value.hourly.checks),
            "availability_percent": list(value.hourly.availability_percent),
            "avg_response_time_ms": list(value.hourly.avg_response_time_ms),
        },
    }


def page(value: Page, item: Any) -> dict[str, Any]:
    """A page as `{data, next_cursor}`, each item shown by `item`."""
    return {"data": [item(v) for v in value.items], "next_cursor": value.next_cursor}


def occurrence(value: tuple[datetime, datetime] | None) -> dict[str, Any] | None:
    """An occurrence of a maintenance window as `{starts_at, ends_at}`, or None."""
    if value is None:
        return None
    return {"starts_at": timestamp(value[0]), "ends_at": timestamp(value[1])}


def maintenance(value: Planned) -> dict[str, Any]:
    """A maintenance window as the API shows it, with its current and next occurrence."""
    w, s = value.window, value.window.schedule
    return {
        "id": w.id,
        "title": w.title,
        "service_ids": list(w.service_ids),
        "tags": list(w.tags),
        "starts_at": timestamp(s.starts_at),
        "ends_at": timestamp(s.ends_at),
        "rrule": s.rrule,
        "duration_seconds": s.duration_seconds,
        "timezone": s.timezone,
        "active": value.active,
        "current": occurrence(value.current),
        "next": occurrence(value.next),
        "created_at": timestamp(w.created_at),
        "updated_at": timestamp(w.updated_at),
        "managed": w.managed,
    }


def status_maintenance(value: Upcoming) -> dict[str, Any]:
    """A window on the status view: its ongoing or next occurrence and the services it
    covers that the reader sees."""
    return {
        "id": value.id,
        "title": value.title,
        "active": value.active,
        "starts_at": timestamp(value.starts_at),
        "ends_at": timestamp(value.ends_at),
        "services": [{"id": i, "name": name} for i, name in value.services],
    }


def location(value: Location) -> dict[str, Any]:
    """A location with its health; its pollers when the caller may see them."""
    shown: dict[str, Any] = {
        "name": value.name,
        "status": value.status,
        "live_pollers": len(value.live_owners),
        "last_seen_at": timestamp(value.last_seen_at),
    }
    if value.pollers:
        shown["pollers"] = [
            {
                "host": p.host,
                "version": p.version,
                "started_at": timestamp(p.started_at),
                "last_seen_at": timestamp(p.last_seen_at),
                "stopped_at": timestamp(p.stopped_at),
                "status": "live" if p.owner in value.live_owners else "stale",
            }
            for p in value.pollers
        ]
    return shown


def location_result(state: LocationState, live: bool) -> dict[str, Any]:
    """What one of a service's named locations says of it, and whether it is live."""
    confirmed = {"uptime": "up", "downtime": "down", None: None}[state.confirmed]
    return {
        "location": state.location,
        "live": live,
        "confirmed": confirmed,
        "confirmed_at": timestamp(state.confirmed_at),
        "last_checked_at": timestamp(state.last_checked_at),
        "up": state.last_up,
        "error": state.last_error,
        "response_time_ms": state.last_response_time_ms,
    }


def written_incident(value: Reported) -> dict[str, Any]:
    """A written incident as its account sees it, with its updates, newest first."""
    return incident_fields(value)


def status_incident(value: Reported) -> dict[str, Any]:
    """An incident, written or automatic, as the status pages show it."""
    return {
        **written_incident(value),
        "source": value.source,
        "description": value.description,
    }


def public_status_page(value: StatusPage) -> dict[str, Any]:
    """What a status page shows of itself."""
    return {
        "slug": value.slug,
        "title": value.title,
        "description": value.description,
        "logo": value.logo,
        "link": value.link,
    }


def status_page(value: StatusPage) -> dict[str, Any]:
    """A status page as its account sees it."""
    return {
        **public_status_page(value),
        "service_ids": list(value.service_ids),
        "created_at": timestamp(value.created_at),
        "updated_at": timestamp(value.updated_at),
    }
