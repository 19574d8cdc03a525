"""Queries on registered services: create, read, list, change, delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError

from statuschecker.errors import Conflict, NotFound
from statuschecker.model import (
    AlertPolicy,
    Event,
    HeartbeatView,
    Metric,
    Page,
    Service,
    Status,
    Visibility,
)
from statuschecker.rules.heartbeats import HeartbeatSchedule
from statuschecker.store import cursor
from statuschecker.store.tables import heartbeat_runs, service_events, service_metrics, services

EVERYTHING = Visibility()

_open_event = service_events.alias("open_event")

# Changing any of these makes the service due at once, so the change shows at the next check.
RESCHEDULING_FIELDS = frozenset(
    {"url", "interval_seconds", "timeout_seconds", "paused", "check_options", "heartbeat_due_at"}
)

# A heartbeat's open runs, oldest first: [[rid, started_at], ...] (null for other kinds).
_running = case(
    (
        services.c.heartbeat.is_not(None),
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(heartbeat_runs.c.rid, heartbeat_runs.c.started_at),
                    heartbeat_runs.c.started_at,
                )
            )
        )
        .where(heartbeat_runs.c.service_id == services.c.id)
        .scalar_subquery(),
    ),
)


def _service_select() -> Select:
    return (
        select(
            services.c.id,
            services.c.owner_id,
            services.c.public,
            services.c.name,
            services.c.url,
            services.c.kind,
            services.c.interval_seconds,
            services.c.timeout_seconds,
            services.c.paused,
            services.c.created_at,
            services.c.updated_at,
            services.c.alert_policy,
            services.c.alert_state,
            services.c.check_options,
            services.c.confirm_down_after,
            services.c.confirm_up_after,
            services.c.retry_interval_seconds,
            services.c.tags,
            services.c.group_name,
            services.c.depends_on,
            services.c.run_kind,
            services.c.in_maintenance,
            services.c.degraded,
            services.c.flapping,
            services.c.heartbeat,
            services.c.ping_key,
            services.c.heartbeat_due_at,
            services.c.last_ping_at,
            _running.label("running"),
            service_metrics.c.tick_count,
            service_metrics.c.up_count,
            service_metrics.c.down_count,
            service_metrics.c.uptime_percent,
            service_metrics.c.average_response_time_ms,
            service_metrics.c.max_response_time_ms,
            service_metrics.c.last_checked_at,
            _open_event.c.id.label("event_id"),
            _open_event.c.event,
            _open_event.c.date_started,
            _open_event.c.reason,
            _open_event.c.caused_by,
        )
        .select_from(services)
        .outerjoin(service_metrics, service_metrics.c.service_id == services.c.id)
        .outerjoin(
            _open_event,
            and_(_open_event.c.service_id == services.c.id, _open_event.c.date_ended.is_(None)),
        )
    )


def _to_service(row: RowMapping) -> Service:
    event = None
    if row["event_id"] is not None:
        event = Event(
            row["event_id"],
            row["id"],
            row["event"],
            row["date_started"],
            None,
            row["reason"],
            row["caused_by"],
        )
    metric = Metric(
        tick_count=row["tick_count"] or 0,
        up_count=row["up_count"] or 0,
        down_count=row["down_count"] or 0,
        uptime_percent=row["uptime_percent"],
        average_response_time_ms=row["average_response_time_ms"],
        max_response_time_ms=row["max_response_time_ms"],
        last_checked_at=row["last_checked_at"],
    )
    return Service(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        kind=row["kind"],
        interval_seconds=row["interval_seconds"],
        timeout_seconds=row["timeout_seconds"],
        paused=row["paused"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        latest_event=event,
        metric=metric,
        alert_policy=AlertPolicy().merged(row["alert_policy"]) if row["alert_policy"] else None,
        alert_state=row["alert_state"],
        check_options=row["check_options"],
        owner_id=row["owner_id"],
        public=row["public"],
        confirm_down_after=row["confirm_down_after"],
        confirm_up_after=row["confirm_up_after"],
        retry_interval_seconds=row["retry_interval_seconds"],
        tags=tuple(row["tags"]),
        group=row["group_name"],
        depends_on=tuple(row["depends_on"]),
        failing_unconfirmed=row["run_kind"] == "downtime",
        in_maintenance=row["in_maintenance"],
        degraded=row["degraded"],
        flapping=row["flapping"],
        heartbeat=_heartbeat(row),
        ping_key=row["ping_key"],
    )


def _heartbeat(row: RowMapping) -> HeartbeatView | None:
    if row["heartbeat"] is None:
        return None
    return HeartbeatView(
        HeartbeatSchedule.from_json(row["heartbeat"]),
        None if row["paused"] else row["heartbeat_due_at"],
        row["last_ping_at"],
        tuple((rid, datetime.fromisoformat(at)) for rid, at in row["running"] or ()),
    )


def status_sql() -> ColumnElement[str]:
    """A service's status as SQL, for filtering: the rule of statuschecker.rules.status
    (a test holds the two to the same answers)."""
    confirmed = _open_event.c.event
    return case(
        (services.c.paused, "paused"),
        (services.c.in_maintenance, "maintenance"),
        (confirmed == "downtime", "down"),
        (services.c.run_kind == "downtime", "pending"),
        (confirmed.is_(None), "unknown"),
        (services.c.degraded, "degraded"),
        else_="up",
    )


def within(visibility: Visibility) -> ColumnElement[bool]:
    """The condition that keeps a query on `services` to the services `visibility` admits."""
    if visibility.public_only:
        return services.c.public
    if visibility.owner_id is not None:
        own = services.c.owner_id == visibility.owner_id
        return or_(own, services.c.public) if visibility.with_public else own
    return true()


def _raise_if_duplicate_name(exc: IntegrityError, name: object) -> None:
    if "_name" in str(exc.orig) and "uq_services_" in str(exc.orig):
        raise Conflict(f"you already have a service named {name!r}") from exc


def create(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a service with empty metrics; Conflict when the name is taken."""
    try:
        with conn.begin_nested():
            service_id: int = conn.execute(
                insert(services).values(**values).returning(services.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        _raise_if_duplicate_name(exc, values.get("name"))
        raise
    conn.execute(insert(service_metrics).values(service_id=service_id))
    return service_id


def count_owned(conn: Connection, owner_id: int) -> int:
    """How many services an account has."""
    query = select(func.count()).select_from(services).where(services.c.owner_id == owner_id)
    return conn.execute(query).scalar_one()


def get(conn: Connection, service_id: int, visibility: Visibility = EVERYTHING) -> Service:
    """One service with its current state; NotFound if `visibility` has none with that id."""
    query = _service_select().where(services.c.id == service_id, within(visibility))
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no service with id {service_id}")
    return _to_service(row)


def get_by_name(conn: Connection, name: str, visibility: Visibility = EVERYTHING) -> Service:
    """The oldest service with this name that `visibility` admits, the account's own before
    others' public ones; NotFound if none has it."""
    query = _service_select().where(services.c.name == name, within(visibility))
    if visibility.owner_id is not None:
        query = query.order_by(case((services.c.owner_id == visibility.owner_id, 0), else_=1))
    row = conn.execute(query.order_by(services.c.id)).mappings().first()
    if row is None:
        raise NotFound(f"no service named {name!r}")
    return _to_service(row)


def get_many(conn: Connection, service_ids: Iterable[int]) -> list[Service]:
    """The services among `service_ids` that still exist."""
    query = _service_select().where(services.c.id.in_(list(service_ids)))
    return [_to_service(row) for row in conn.execute(query).mappings()]


def exists(conn: Connection, service_id: int, visibility: Visibility = EVERYTHING) -> bool:
    """Whether `visibility` has a service with this id."""
    query = select(services.c.id).where(services.c.id == service_id, within(visibility))
    return conn.execute(query).first() is not None


def list_page(
    conn: Connection,
    *,
    limit: int,
    after: str | None = None,
    status: Status | None = None,
    name: str | None = None,
    tag: str | None = None,
    visibility: Visibility = EVERYTHING,
) -> Page[Service]:
    """Services of `visibility` in id order, `limit` at a time, optionally filtered by status,
    name part and tag."""
    query = _service_select().where(within(visibility)).order_by(services.c.id).limit(limit + 1)
    if after is not None:
        (last_id,) = cursor.decode(after, int)
        query = query.where(services.c.id > last_id)
    if status is not None:
        query = query.where(status_sql() == status)
    if tag is not None:
        query = query.where(services.c.tags.contains([tag]))
    if name:
        query = query.where(services.c.name.icontains(name, autoescape=True))
    rows = [_to_service(row) for row in conn.execute(query).mappings()]
    return cursor.page(rows, limit, lambda s: (s.id,))


def change(conn: Connection, service_id: int, values: Mapping[str, Any]) -> None:
    """Apply `values` to a service; reschedule it when what or how it checks changed. The
    caller has found the service visible to it first."""
    extra: dict[str, Any] = {"updated_at": func.now()}
    if RESCHEDULING_FIELDS & values.keys():
        extra["next_check_at"] = func.now()
    statement = (
        update(services).where(services.c.id == service_id).values(**values, **extra)
    ).returning(services.c.id)
    try:
        with conn.begin_nested():
            found = conn.execute(statement).first()
    except IntegrityError as exc:
        _raise_if_duplicate_name(exc, values.get("name"))
        raise
    if found is None:
        raise NotFound(f"no service with id {service_id}")


def remove(conn: Connection, service_id: int, visibility: Visibility = EVERYTHING) -> list[int]:
    """Delete a service `visibility` admits and, by cascade, its ticks, metrics and events;
    the services that depended on it no longer do (their ids are returned)."""
    statement = (
        delete(services)
        .where(services.c.id == service_id, within(visibility))
        .returning(services.c.id)
    )
    if conn.execute(statement).first() is None:
        raise NotFound(f"no service with id {service_id}")
    dependants = conn.execute(
        update(services)
        .where(services.c.depends_on.contains([service_id]))
        .values(depends_on=func.array_remove(services.c.depends_on, service_id))
        .returning(services.c.id)
    )
    return list(dependants.scalars())


def owned_by(owner_id: int | None) -> ColumnElement[bool]:
    """The condition that keeps a query on `services` to one account's (for None: those
    without an owner)."""
    owner = services.c.owner_id
    return owner.is_(None) if owner_id is None else owner == owner_id


def dependency_graph(conn: Connection, owner_id: int | None) -> dict[int, tuple[int, ...]]:
    """The services of an account (those without an owner for None) that depend on others,
    with the ids they depend on."""
    query = select(services.c.id, services.c.depends_on).where(
        owned_by(owner_id), func.cardinality(services.c.depends_on) > 0
    )
    return {row.id: tuple(row.depends_on) for row in conn.execute(query)}


def owned_ids(conn: Connection, owner_id: int | None, ids: Iterable[int]) -> set[int]:
    """Those of `ids` that are services of the account (without an owner for None)."""
    query = select(services.c.id).where(services.c.id.in_(list(ids)), owned_by(owner_id))
    return set(conn.execute(query).scalars())


def names(conn: Connection, service_ids: Iterable[int], visibility: Visibility) -> dict[int, str]:
    """The names of those of the services `visibility` admits."""
    query = select(services.c.id, services.c.name).where(
        services.c.id.in_(list(service_ids)), within(visibility)
    )
    return {row.id: row.name for row in conn.execute(query)}
