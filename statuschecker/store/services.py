"""Queries on registered services: create, read, list, change, delete."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    Select,
    Text,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.exc import IntegrityError

from statuschecker.errors import Conflict, InvalidInput, NotFound
from statuschecker.model import (
    ANY_SERVICE,
    AlertPolicy,
    Event,
    HeartbeatView,
    Metric,
    Page,
    Service,
    ServiceFilter,
    Visibility,
)
from statuschecker.rules.heartbeats import HeartbeatSchedule
from statuschecker.store import cursor, slots
from statuschecker.store.tables import (
    heartbeat_runs,
    service_events,
    service_metrics,
    services,
)

EVERYTHING = Visibility()
T = TypeVar("T")

# A service's open event, looked up by its own index for each service read (a LATERAL join,
# kept apart from the outer query by its LIMIT), whatever the planner thinks of the events
# table: one not analysed since thousands of services opened their first event looks nearly
# empty, and a join planned on that scanned it whole for every service of a page.
_open_event = (
    select(
        service_events.c.id,
        service_events.c.event,
        service_events.c.date_started,
        service_events.c.reason,
        service_events.c.caused_by,
    )
    .where(service_events.c.service_id == services.c.id, service_events.c.date_ended.is_(None))
    .limit(1)
    .lateral("open_event")
)

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


# What a service is shown with but for its state: changed by its account alone (a key rotated,
# a dependency deleted among them).
_SETTINGS = (
    services.c.owner_id,
    services.c.public,
    services.c.name,
    services.c.url,
    services.c.kind,
    services.c.interval_seconds,
    services.c.timeout_seconds,
    services.c.created_at,
    services.c.alert_policy,
    services.c.check_options,
    services.c.confirm_down_after,
    services.c.confirm_up_after,
    services.c.retry_interval_seconds,
    services.c.tags,
    services.c.group_name,
    services.c.depends_on,
    services.c.heartbeat,
    services.c.ping_key,
    services.c.locations,
    services.c.quorum,
    services.c.managed,
)
# A digest of them, equal for two reads of a service exactly when its settings are: a row's
# text form tells NULL from empty and quotes each field.
_SETTINGS_VERSION = func.md5(cast(func.row(*_SETTINGS), Text)).label("settings_version")
# What the checks, pings and rules change (`paused` and `updated_at` besides): its state.
_STATE = (
    services.c.id,
    services.c.paused,
    services.c.updated_at,
    services.c.alert_state,
    services.c.run_kind,
    services.c.in_maintenance,
    services.c.degraded,
    services.c.flapping,
    services.c.failing_locations,
    services.c.stale_locations,
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
_STATE_FIELDS = frozenset(
    {
        "paused",
        "updated_at",
        "latest_event",
        "metric",
        "alert_state",
        "failing_unconfirmed",
        "in_maintenance",
        "degraded",
        "flapping",
        "failing_locations",
        "stale_locations",
        "heartbeat",
        "uptime",
    }
)
_SETTINGS_FIELDS = tuple(f.name for f in fields(Service) if f.name not in _STATE_FIELDS)


def _with_metrics_and_event(query: Select) -> Select:
    return (
        query.select_from(services)
        .outerjoin(service_metrics, service_metrics.c.service_id == services.c.id)
        .outerjoin(_open_event, true())
    )


def _service_select(*extra: ColumnElement[Any]) -> Select:
    return _with_metrics_and_event(select(*_STATE, *_SETTINGS, *extra))


def _to_service(row: Row) -> Service:
    schedule = HeartbeatSchedule.from_json(row.heartbeat) if row.heartbeat is not None else None
    return _with_state(row, _state(row, schedule))


def _settings_only(row: Row) -> Service:
    """A service with its settings and none of its state (no event, metrics or uptime), from a
    row of `_SETTINGS` with its id, `paused` and `updated_at`."""
    schedule = HeartbeatSchedule.from_json(row.heartbeat) if row.heartbeat is not None else None
    state = {
        "paused": row.paused,
        "updated_at": row.updated_at,
        "latest_event": None,
        "metric": Metric(),
        "heartbeat": None if schedule is None else HeartbeatView(schedule, None, None),
    }
    return _with_state(row, state)


def _with_state(row: Row, state: Mapping[str, Any]) -> Service:
    return Service(
        id=row.id,
        name=row.name,
        url=row.url,
        kind=row.kind,
        interval_seconds=row.interval_seconds,
        timeout_seconds=row.timeout_seconds,
        created_at=row.created_at,
        alert_policy=AlertPolicy().merged(row.alert_policy) if row.alert_policy else None,
        check_options=row.check_options,
        owner_id=row.owner_id,
        public=row.public,
        confirm_down_after=row.confirm_down_after,
        confirm_up_after=row.confirm_up_after,
        retry_interval_seconds=row.retry_interval_seconds,
        tags=tuple(row.tags),
        group=row.group_name,
        depends_on=tuple(row.depends_on),
        ping_key=row.ping_key,
        locations=tuple(row.locations),
        quorum=row.quorum,
        managed=row.managed,
        **state,
    )


def _state(row: Row, schedule: HeartbeatSchedule | None) -> dict[str, Any]:
    """The fields of a Service that hold its state, from a row that starts with the `_STATE`
    columns (taken by position: a row's attributes cost more); a heartbeat's view with its
    `schedule`."""
    (
        service_id,
        paused,
        updated_at,
        alert_state,
        run_kind,
        in_maintenance,
        degraded,
        flapping,
        failing_locations,
        stale_locations,
        due_at,
        last_ping_at,
        running,
        tick_count,
        up_count,
        down_count,
        uptime_percent,
        average_response_time_ms,
        max_response_time_ms,
        last_checked_at,
        event_id,
        event,
        date_started,
        reason,
        caused_by,
    ) = row[: len(_STATE)]
    heartbeat = None
    if schedule is not None:
        heartbeat = HeartbeatView(
            schedule,
            None if paused else due_at,
            last_ping_at,
            tuple((rid, datetime.fromisoformat(at)) for rid, at in running or ()),
        )
    return {
        "paused": paused,
        "updated_at": updated_at,
        "latest_event": None
        if event_id is None
        else Event(event_id, service_id, event, date_started, None, reason, caused_by),
        "metric": Metric(
            tick_count or 0,
            up_count or 0,
            down_count or 0,
            uptime_percent,
            average_response_time_ms,
            max_response_time_ms,
            last_checked_at,
        ),
        "alert_state": alert_state,
        "failing_unconfirmed": run_kind == "downtime",
        "in_maintenance": in_maintenance,
        "degraded": degraded,
        "flapping": flapping,
        "failing_locations": tuple(failing_locations),
        "stale_locations": tuple(stale_locations),
        "heartbeat": heartbeat,
    }


@dataclass(frozen=True, slots=True)
class Kept:
    """What a service read before gives a later read of its state (`with_state`): the fields
    of its settings, and a heartbeat's schedule."""

    fields: Mapping[str, Any]
    schedule: HeartbeatSchedule | None


def kept(service: Service) -> Kept:
    """What `with_state` needs of `service` (as read with some `settings_version`)."""
    fields = {name: getattr(service, name) for name in _SETTINGS_FIELDS}
    heartbeat = service.heartbeat
    return Kept(fields, heartbeat.schedule if heartbeat is not None else None)


def with_state(settings: Kept, row: Row, **shown: Any) -> Service:
    """A service from its `settings`, kept from a read at the `settings_version` of `row` (a
    row of `state_page`), and the state in `row`; `shown` fields besides (its uptime)."""
    return Service(**settings.fields, **_state(row, settings.schedule), **shown)


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


def _raise_if_duplicate_name(exc: IntegrityError, name: object = None) -> None:
    if "_name" in str(exc.orig) and "uq_services_" in str(exc.orig):
        what = "like one of these (registered meanwhile)" if name is None else repr(name)
        raise Conflict(f"you already have a service named {what}") from exc


def _null(column: str) -> Any:
    """SQL NULL as a value of the column: null() for JSON, whose None is JSON's null."""
    return null() if isinstance(services.c[column].type, JSON) else None


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
    if values.get("locations"):
        slots.sync(conn, {service_id: values["locations"]})
    return service_id


def analyse_if_grown(conn: Connection) -> bool:
    """ANALYZE `services` when it holds a tenth more rows (and 50) than the planner last
    counted, as autovacuum would in its next round (up to a minute later): until then the
    planner takes an account that just registered thousands for a few dozen rows and sorts
    them all for every page. Whether it analysed."""
    grown = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM services) > 50 + 1.1 * greatest(reltuples, 0) "
            "FROM pg_class WHERE oid = 'services'::regclass"
        )
    ).scalar()
    if grown:
        conn.execute(text("ANALYZE services"))
    return bool(grown)


def create_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert services with empty metrics, one set-based statement per table (a multi-row
    INSERT per thousand rows); their ids, in the order of `rows`. A column some rows leave out
    gets what the database gives a single registration: `next_check_at` the transaction's
    now (due at once), any other SQL NULL. Conflict when a name is taken (the names are
    checked first; this is a registration that came between)."""
    columns = set().union(*rows)
    absent: dict[str, Any] = {c: _null(c) for c in columns}
    absent["next_check_at"] = conn.execute(select(func.now())).scalar_one()
    filled = [{c: row.get(c, absent[c]) for c in columns} for row in rows]
    statement = insert(services).returning(services.c.id, sort_by_parameter_order=True)
    try:
        with conn.begin_nested():
            ids = list(conn.execute(statement, filled).scalars())
    except IntegrityError as exc:
        _raise_if_duplicate_name(exc)
        raise
    conn.execute(insert(service_metrics), [{"service_id": i} for i in ids])
    named = {i: row["locations"] for i, row in zip(ids, rows, strict=True) if row.get("locations")}
    if named:
        slots.sync(conn, named)
    return ids


def taken_names(conn: Connection, owner_id: int | None, names: Iterable[str]) -> set[str]:
    """Those of `names` the account (those without an owner for None) has services named."""
    query = select(services.c.name).where(owned_by(owner_id), services.c.name.in_(list(names)))
    return set(conn.execute(query).scalars())


def count_owned(conn: Connection, owner_id: int) -> int:
    """How many services an account has."""
    query = select(func.count()).select_from(services).where(services.c.owner_id == owner_id)
    return conn.execute(query).scalar_one()


def get(conn: Connection, service_id: int, visibility: Visibility = EVERYTHING) -> Service:
    """One service with its current state; NotFound if `visibility` has none with that id."""
    query = _service_select().where(services.c.id == service_id, within(visibility))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no service with id {service_id}")
    return _to_service(row)


def get_by_name(conn: Connection, name: str, visibility: Visibility = EVERYTHING) -> Service:
    """The oldest service with this name that `visibility` admits, the account's own before
    others' public ones; NotFound if none has it."""
    query = _service_select().where(services.c.name == name, within(visibility))
    if visibility.owner_id is not None:
        query = query.order_by(case((services.c.owner_id == visibility.owner_id, 0), else_=1))
    row = conn.execute(query.order_by(services.c.id)).first()
    if row is None:
        raise NotFound(f"no service named {name!r}")
    return _to_service(row)


def get_many(conn: Connection, service_ids: Iterable[int]) -> list[Service]:
    """The services among `service_ids` that still exist."""
    query = _service_select().where(services.c.id.in_(list(service_ids)))
    return [_to_service(row) for row in conn.execute(query)]


def exists(conn: Connection, service_id: int, visibility: Visibility = EVERYTHING) -> bool:
    """Whether `visibility` has a service with this id."""
    query = select(services.c.id).where(services.c.id == service_id, within(visibility))
    return conn.execute(query).first() is not None


def all_owned(conn: Connection, owner_id: int | None) -> list[Service]:
    """Every service of an account (those without an owner for None), in id order, with its
    settings and none of its state (`_settings_only`)."""
    columns = (services.c.id, services.c.paused, services.c.updated_at, *_SETTINGS)
    query = select(*columns).where(owned_by(owner_id)).order_by(services.c.id)
    return [_settings_only(row) for row in conn.execute(query)]


def list_page(
    conn: Connection,
    *,
    limit: int,
    after: str | None = None,
    kept: ServiceFilter = ANY_SERVICE,
    visibility: Visibility = EVERYTHING,
) -> Page[Service]:
    """Services of `visibility` that `kept` keeps, in id order, `limit` at a time."""
    return _page(conn, True, _to_service, limit, after, kept, visibility)


def _page(
    conn: Connection,
    full: bool,
    item: Callable[[Row], T],
    limit: int,
    after: str | None,
    kept: ServiceFilter,
    visibility: Visibility,
) -> Page[T]:
    """A page of services in id order, each row read whole (`full`) or as its state and
    settings version, as `item` makes it."""
    status, name, tag = kept.status, kept.name, kept.tag
    query = _page_query(
        full,
        visibility.public_only,
        visibility.owner_id is not None,
        visibility.with_public,
        after is not None,
        status is not None,
        tag is not None,
        bool(name),
        kept.ids is not None,
    )
    values: dict[str, Any] = {"limit": limit + 1, "owner_id": visibility.owner_id}
    if kept.ids is not None:
        values["ids"] = list(kept.ids)
    if after is not None:
        (values["after"],) = cursor.decode(after, int)
    if status is not None:
        values["status"] = status
    if tag is not None:
        values["tags"] = [tag]
    if name:  # LIKE's wildcards in it taken literally, as autoescape would
        values["name"] = name.replace("/", "//").replace("%", "/%").replace("_", "/_")
    found = cursor.page(conn.execute(query, values).all(), limit, lambda row: (row.id,))
    return Page([item(row) for row in found.items], found.next_cursor)


@functools.cache
def _page_query(
    full: bool,
    public_only: bool,
    owned: bool,
    with_public: bool,
    after: bool,
    status: bool,
    tag: bool,
    name: bool,
    ids: bool,
) -> Select:
    """The statement of `_page` for one combination of what is given (values bound): built
    once, so that SQLAlchemy does not build it and its cache key again for every page."""
    if full:
        query = _service_select()
    else:
        query = _with_metrics_and_event(select(*_STATE, _SETTINGS_VERSION))
    if public_only:
        query = query.where(services.c.public)
    elif owned:
        own = services.c.owner_id == bindparam("owner_id")
        query = query.where(or_(own, services.c.public) if with_public else own)
    query = query.order_by(services.c.id).limit(bindparam("limit"))
    if after:
        query = query.where(services.c.id > bindparam("after"))
    if status:
        query = query.where(status_sql() == bindparam("status"))
    if tag:
        query = query.where(services.c.tags.contains(bindparam("tags", type_=ARRAY(Text))))
    if name:
        query = query.where(services.c.name.icontains(bindparam("name"), escape="/"))
    if ids:
        query = query.where(services.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    return query


def state_page(
    conn: Connection,
    *,
    limit: int,
    after: str | None = None,
    kept: ServiceFilter = ANY_SERVICE,
    visibility: Visibility = EVERYTHING,
) -> Page[Row]:
    """What `list_page` finds, as rows of each service's state and `settings_version` only:
    services whose settings are known as of that version need no more (see `with_state`)."""
    return _page(conn, False, lambda row: row, limit, after, kept, visibility)


class OverviewRow(NamedTuple):
    """What the dense view shows of a service from its own rows (`overview_rows`)."""

    id: int
    name: str
    group_name: str | None
    kind: str
    public: bool
    tags: list[str]
    status: str  # by `status_sql`
    last_checked_at: datetime | None
    tick_count: int | None  # how many checks it has recorded


def overview_rows(
    conn: Connection, kept: ServiceFilter, group: str | None, visibility: Visibility
) -> list[OverviewRow]:
    """Every service `visibility` admits and `kept` keeps (and of `group`, when given), as
    the dense view reads it. The rows become named tuples: thousands are read at a time, and
    a named tuple's fields are read several times faster than a `Row`'s."""
    query = _with_metrics_and_event(
        select(
            services.c.id,
            services.c.name,
            services.c.group_name,
            services.c.kind,
            services.c.public,
            services.c.tags,
            status_sql().label("status"),
            service_metrics.c.last_checked_at,
            service_metrics.c.tick_count,
        )  # in the order of OverviewRow's fields
    ).where(within(visibility))
    if kept.status is not None:
        query = query.where(status_sql() == kept.status)
    if kept.tag is not None:
        query = query.where(services.c.tags.contains([kept.tag]))
    if kept.name:
        query = query.where(services.c.name.icontains(kept.name, autoescape=True))
    if group is not None:
        query = query.where(services.c.group_name == group)
    return [OverviewRow._make(row) for row in conn.execute(query)]


def versioned(conn: Connection, service_ids: Iterable[int]) -> list[tuple[Service, str]]:
    """The services among `service_ids` that still exist, each with its `settings_version`."""
    query = _service_select(_SETTINGS_VERSION).where(services.c.id.in_(list(service_ids)))
    return [(_to_service(row), row.settings_version) for row in conn.execute(query)]


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
    if "locations" in values:
        slots.sync(conn, {service_id: values["locations"]})


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


def public_ids(conn: Connection, ids: Iterable[int]) -> set[int]:
    """Those of `ids` that are public services."""
    query = select(services.c.id).where(services.c.id.in_(list(ids)), services.c.public)
    return set(conn.execute(query).scalars())


def require_owned(conn: Connection, owner_id: int | None, ids: Iterable[int]) -> None:
    """InvalidInput naming those of `ids` that are no services of the account."""
    named = set(ids)
    missing = sorted(named - owned_ids(conn, owner_id, named))
    if missing:
        raise InvalidInput(f"no service with id {', '.join(map(str, missing))}")


def names(conn: Connection, service_ids: Iterable[int], visibility: Visibility) -> dict[int, str]:
    """The names of those of the services `visibility` admits."""
    query = select(services.c.id, services.c.name).where(
        services.c.id.in_(list(service_ids)), within(visibility)
    )
    return {row.id: row.name for row in conn.execute(query)}
