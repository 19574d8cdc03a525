"""Queries on what happened to a service: its events and its raw ticks, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, text

from statuschecker.model import DEFAULT_LOCATION, Event, EventKind, Page, Tick
from statuschecker.store import cursor, result_columns
from statuschecker.store.tables import service_events, service_ticks


def events_page(
    conn: Connection,
    service_id: int,
    *,
    limit: int,
    after: str | None = None,
    kind: EventKind | None = None,
) -> Page[Event]:
    """A service's events (of one kind, if given), newest first (ids grow with time within one
    service)."""
    query = cursor.in_id_order(
        select(service_events).where(service_events.c.service_id == service_id),
        service_events.c.id,
        limit=limit,
        after=after,
        descending=True,
    )
    if kind is not None:
        query = query.where(service_events.c.event == kind)
    rows = [
        Event(
            r["id"],
            r["service_id"],
            r["event"],
            r["date_started"],
            r["date_ended"],
            r["reason"],
            r["caused_by"],
        )
        for r in conn.execute(query).mappings()
    ]
    return cursor.page(rows, limit, lambda e: (e.id,))


def ticks_page(
    conn: Connection,
    service_id: int,
    *,
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    location: str | None = None,
) -> Page[Tick]:
    """A service's ticks in [since, until), newest first; from `location` only when given."""
    t = service_ticks.c
    selected = select(service_ticks).where(t.service_id == service_id)
    if location is not None:
        stored = result_columns.stored_location(location)
        selected = selected.where(t.location.is_(None) if stored is None else t.location == stored)
    query = cursor.newest_first(
        selected,
        t.checked_at,
        t.id,
        limit=limit,
        since=since,
        until=until,
        after=after,
    )
    rows = [
        Tick(
            id=r["id"],
            service_id=r["service_id"],
            checked_at=r["checked_at"],
            result=result_columns.result_of(r),
            in_maintenance=r["in_maintenance"],
            location=r["location"] or DEFAULT_LOCATION,
        )
        for r in conn.execute(query).mappings()
    ]
    return cursor.page(rows, limit, lambda tick: (tick.checked_at, tick.id))


_MARK_PRUNED = text(
    """
    INSERT INTO tick_pruning (id, pruned_before) VALUES (1, :before)
    ON CONFLICT (id) DO UPDATE
    SET pruned_before = greatest(tick_pruning.pruned_before, excluded.pruned_before)
    """
)


def mark_pruned(conn: Connection, before: datetime) -> None:
    """Note that raw ticks checked before `before` may be gone (statistics trust raw ticks
    only after the newest such mark)."""
    conn.execute(_MARK_PRUNED, {"before": before})


def pruned_before(conn: Connection) -> datetime | None:
    """Raw ticks before this time may have been pruned (None: never pruned)."""
    return conn.execute(text("SELECT pruned_before FROM tick_pruning")).scalar()
