"""Every service's current state in one query, for the Prometheus scrape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, and_, select, true

from statuschecker.model import Status
from statuschecker.rules.heartbeats import HeartbeatSchedule, late_at
from statuschecker.rules.status import status_of
from statuschecker.store.tables import service_events, service_metrics, service_ticks, services


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A service as the scrape shows it: its status; `up` is None until a state is confirmed;
    `response_time_ms` is the last check's (None when it got no response); for a heartbeat,
    its last ping and when it is late."""

    service_id: int
    name: str
    status: Status
    up: bool | None
    response_time_ms: float | None
    up_count: int
    down_count: int
    last_ping_at: datetime | None = None  # heartbeats: the last ping that finished a run
    late_at: datetime | None = None  # heartbeats: late without a ping by then (None: paused)


def _late_at(row: Row) -> datetime | None:
    """A heartbeat's late time (None for other kinds, and while paused)."""
    if row.heartbeat is None or row.paused:
        return None
    return late_at(HeartbeatSchedule.from_json(row.heartbeat), row.heartbeat_due_at)


def states(conn: Connection) -> list[ServiceState]:
    """Every service with its open event, running counts and last check's response time.

    The last tick is looked up by the service's `last_checked_at`, so run-time partition
    pruning visits one day's partition per service rather than all of them.
    """
    t = service_ticks.c
    m = service_metrics.c
    last = (
        select(t.response_time_ms)
        .where(t.service_id == services.c.id, t.checked_at == m.last_checked_at)
        .order_by(t.id.desc())
        .limit(1)
        .lateral("last_tick")
    )
    query = (
        select(
            services.c.id,
            services.c.name,
            services.c.paused,
            services.c.in_maintenance,
            services.c.run_kind,
            services.c.degraded,
            services.c.failing_locations,
            service_events.c.event,
            m.up_count,
            m.down_count,
            last.c.response_time_ms,
            services.c.last_ping_at,
            services.c.heartbeat,
            services.c.heartbeat_due_at,
        )
        .select_from(services)
        .outerjoin(service_metrics, m.service_id == services.c.id)
        .outerjoin(
            service_events,
            and_(
                service_events.c.service_id == services.c.id,
                service_events.c.date_ended.is_(None),
            ),
        )
        .outerjoin(last, true())
        .order_by(services.c.id)
    )
    return [
        ServiceState(
            service_id=row.id,
            name=row.name,
            status=status_of(
                paused=row.paused,
                confirmed=row.event,
                failing_unconfirmed=row.run_kind == "downtime",
                in_maintenance=row.in_maintenance,
                degraded=row.degraded,
                failing_somewhere=bool(row.failing_locations),
            ),
            up=None if row.event is None else row.event == "uptime",
            response_time_ms=row.response_time_ms,
            up_count=row.up_count or 0,
            down_count=row.down_count or 0,
            last_ping_at=row.last_ping_at,
            late_at=_late_at(row),
        )
        for row in conn.execute(query)
    ]
