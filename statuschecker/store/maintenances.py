"""Queries on maintenance windows: create, read, list, change, delete, and the windows that
cover services (for the recorder, the statistics and the status view)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    any_,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from statuschecker.errors import NotFound
from statuschecker.model import Page, Visibility
from statuschecker.rules.maintenance import Schedule, Window
from statuschecker.store import cursor
from statuschecker.store import services as service_store
from statuschecker.store.arrays import column
from statuschecker.store.ownership import owned_within, remove_owned
from statuschecker.store.tables import maintenances, services

EVERYTHING = Visibility()


def _to_schedule(row: Any) -> Schedule:
    return Schedule(
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        rrule=row.rrule,
        duration_seconds=row.duration_seconds,
        timezone=row.timezone,
    )


def _to_window(row: RowMapping | Any) -> Window:
    return Window(
        id=row.id,
        owner_id=row.owner_id,
        title=row.title,
        service_ids=tuple(row.service_ids),
        tags=tuple(row.tags),
        schedule=_to_schedule(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        managed=row.managed,
    )


def within(visibility: Visibility) -> ColumnElement[bool]:
    """The windows `visibility` may see and change (see `owned_within`)."""
    return owned_within(maintenances.c.owner_id, visibility)


def create(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a window; its id."""
    statement = insert(maintenances).values(**values).returning(maintenances.c.id)
    window_id: int = conn.execute(statement).scalar_one()
    return window_id


def get(conn: Connection, window_id: int, visibility: Visibility = EVERYTHING) -> Window:
    """One window; NotFound if `visibility` has none with that id."""
    query = select(maintenances).where(maintenances.c.id == window_id, within(visibility))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no maintenance window with id {window_id}")
    return _to_window(row)


def all_owned(conn: Connection, owner_id: int | None) -> list[Window]:
    """Every window of an account (those without an owner for None), in id order."""
    owner = maintenances.c.owner_id
    mine = owner.is_(None) if owner_id is None else owner == owner_id
    query = select(maintenances).where(mine).order_by(maintenances.c.id)
    return [_to_window(row) for row in conn.execute(query)]


def list_page(
    conn: Connection, *, limit: int, after: str | None = None, visibility: Visibility = EVERYTHING
) -> Page[Window]:
    """Windows of `visibility` in id (creation) order, `limit` at a time."""
    query = cursor.in_id_order(
        select(maintenances).where(within(visibility)), maintenances.c.id, limit=limit, after=after
    )
    rows = [_to_window(row) for row in conn.execute(query)]
    return cursor.page(rows, limit, lambda w: (w.id,))


def change(conn: Connection, window_id: int, values: Mapping[str, Any]) -> None:
    """Apply `values` to a window (the caller has found it visible to it first)."""
    statement = (
        update(maintenances)
        .where(maintenances.c.id == window_id)
        .values(**values, updated_at=func.now())
        .returning(maintenances.c.id)
    )
    if conn.execute(statement).first() is None:
        raise NotFound(f"no maintenance window with id {window_id}")


def remove(conn: Connection, window_id: int, visibility: Visibility = EVERYTHING) -> None:
    """Delete a window `visibility` admits (the checks it marked stay marked)."""
    remove_owned(
        conn,
        maintenances,
        maintenances.c.id == window_id,
        visibility,
        f"no maintenance window with id {window_id}",
    )


_COVERING = text(
    """
    WITH s(id, owner_id) AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:owners AS bigint[]))
    ), t(id, tag) AS (
        SELECT * FROM unnest(CAST(:tag_ids AS bigint[]), CAST(:tags AS text[]))
    )
    SELECT s.id AS service_id, m.starts_at, m.ends_at, m.rrule, m.duration_seconds, m.timezone
    FROM s JOIN maintenances m
      ON (m.owner_id = s.owner_id OR (m.owner_id IS NULL AND s.owner_id IS NULL))
     AND (s.id = ANY(m.service_ids)
          OR m.tags && ARRAY(SELECT t.tag FROM t WHERE t.id = s.id))
    ORDER BY s.id, m.id
    """
)


def covering(
    conn: Connection, services: Mapping[int, tuple[int | None, Sequence[str]]]
) -> dict[int, list[Schedule]]:
    """The schedules of the windows covering each service, given service id -> (owner id,
    tags): the windows of the same owner (of nobody, for a service of nobody) that name the
    service or share a tag with it. One query for the whole batch; services no window covers
    are left out."""
    if not services:
        return {}
    ids = list(services)
    tag_pairs = [(sid, tag) for sid, (_, tags) in services.items() for tag in tags]
    rows = conn.execute(
        _COVERING,
        {
            "ids": column(ids),
            "owners": column(services[sid][0] for sid in ids),
            "tag_ids": column(sid for sid, _ in tag_pairs),
            "tags": column(tag for _, tag in tag_pairs),
        },
    )
    found: dict[int, list[Schedule]] = {}
    for row in rows:
        found.setdefault(row.service_id, []).append(_to_schedule(row))
    return found


def on_status(
    conn: Connection, visibility: Visibility
) -> list[tuple[Window, list[tuple[int, str]]]]:
    """Every window that covers a service `visibility` admits, with those services (id,
    name) in id order; windows in id order."""
    covered = and_(
        or_(
            services.c.owner_id == maintenances.c.owner_id,
            and_(services.c.owner_id.is_(None), maintenances.c.owner_id.is_(None)),
        ),
        or_(
            services.c.id == any_(maintenances.c.service_ids),
            services.c.tags.op("&&")(maintenances.c.tags),
        ),
    )
    query = (
        select(maintenances, services.c.id.label("service_id"), services.c.name.label("name"))
        .select_from(maintenances.join(services, covered))
        .where(service_store.within(visibility))
        .order_by(maintenances.c.id, services.c.id)
    )
    windows: dict[int, tuple[Window, list[tuple[int, str]]]] = {}
    for row in conn.execute(query):
        if row.id not in windows:
            windows[row.id] = (_to_window(row), [])
        windows[row.id][1].append((row.service_id, row.name))
    return list(windows.values())
