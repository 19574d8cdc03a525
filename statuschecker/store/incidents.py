"""Queries on incidents: written ones (create, read, list, change, delete, their updates), and
what the status pages show of them and of the checks' downtimes, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    any_,
    func,
    insert,
    or_,
    select,
    update,
)

from statuschecker.errors import NotFound
from statuschecker.model import IncidentUpdate, Page, Reported, Visibility
from statuschecker.store import cursor
from statuschecker.store import services as service_store
from statuschecker.store.ownership import owned_within, remove_owned
from statuschecker.store.tables import incident_updates, incidents, service_events, services

EVERYTHING = Visibility()
WRITTEN, AUTOMATIC = 1, 0
"""Each source's rank in the status pages' order: at the same start, written ones first."""

Key = tuple[datetime, int, int]
"""Where an incident stands in the status pages' order: (start, source rank, id), descending."""


def within(visibility: Visibility) -> ColumnElement[bool]:
    """The incidents `visibility` may see and change (see `owned_within`)."""
    return owned_within(incidents.c.owner_id, visibility)


def create(conn: Connection, values: Mapping[str, Any], message: str) -> int:
    """Insert an incident and its first update (of the incident's status); its id."""
    incident_id: int = conn.execute(
        insert(incidents).values(**values).returning(incidents.c.id)
    ).scalar_one()
    conn.execute(
        insert(incident_updates).values(
            incident_id=incident_id,
            status=values["status"],
            message=message,
            created_at=values.get("started_at", func.now()),
        )
    )
    return incident_id


def add_update(conn: Connection, incident_id: int, status: str, message: str) -> None:
    """Add an update; the incident takes its status, resolved from now when it is 'resolved'
    (its first resolution kept) and open again otherwise."""
    resolved = status == "resolved"
    conn.execute(
        insert(incident_updates).values(incident_id=incident_id, status=status, message=message)
    )
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(
            status=status,
            resolved_at=func.coalesce(incidents.c.resolved_at, func.now()) if resolved else None,
            updated_at=func.now(),
        )
    )


def count_updates(conn: Connection, incident_id: int) -> int:
    """How many updates an incident has."""
    query = select(func.count()).where(incident_updates.c.incident_id == incident_id)
    return int(conn.execute(query).scalar_one())


def change(conn: Connection, incident_id: int, values: Mapping[str, Any]) -> None:
    """Apply `values` to an incident (the caller has found it visible to it first)."""
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(**values, updated_at=func.now())
    )


def remove(conn: Connection, incident_id: int, visibility: Visibility = EVERYTHING) -> None:
    """Delete an incident `visibility` admits, with its updates."""
    remove_owned(
        conn,
        incidents,
        incidents.c.id == incident_id,
        visibility,
        f"no incident with id {incident_id}",
    )


def get(conn: Connection, incident_id: int, visibility: Visibility = EVERYTHING) -> Reported:
    """One incident with its updates and every service it names; NotFound if `visibility`
    has none with that id."""
    row = conn.execute(
        select(incidents).where(incidents.c.id == incident_id, within(visibility))
    ).first()
    if row is None:
        raise NotFound(f"no incident with id {incident_id}")
    return _written([row], conn, EVERYTHING)[0]


def list_page(
    conn: Connection, *, limit: int, after: str | None = None, visibility: Visibility = EVERYTHING
) -> Page[Reported]:
    """Incidents of `visibility`, newest started first, `limit` at a time."""
    query = cursor.newest_first(
        select(incidents).where(within(visibility)),
        incidents.c.started_at,
        incidents.c.id,
        limit=limit,
        after=after,
    )
    rows = _written(list(conn.execute(query)), conn, EVERYTHING)
    return cursor.page(rows, limit, lambda r: (r.started_at, r.id))


def on_status(
    conn: Connection,
    visibility: Visibility,
    page_ids: Sequence[int] | None,
    since: datetime,
    limit: int,
    before: Key | None,
) -> list[Reported]:
    """Up to `limit` incidents of each source that affect a service `visibility` admits (one
    of `page_ids` when given) and were going on at or after `since`, newest started first from
    before `before`; each names those services only. The caller merges the two."""
    shown = service_store.within(visibility)
    if page_ids is not None:
        shown = and_(shown, services.c.id.in_(list(page_ids)))
    affected = (
        select(services.c.id).where(services.c.id == any_(incidents.c.service_ids), shown).exists()
    )
    written = select(incidents).where(
        affected, or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= since)
    )
    written_rows = conn.execute(
        _before(written, incidents.c.started_at, incidents.c.id, WRITTEN, before, limit)
    )
    e = service_events
    automatic = (
        select(e, services.c.name)
        .join(services, services.c.id == e.c.service_id)
        .where(
            e.c.event == "downtime", shown, or_(e.c.date_ended.is_(None), e.c.date_ended >= since)
        )
    )
    automatic_rows = conn.execute(
        _before(automatic, e.c.date_started, e.c.id, AUTOMATIC, before, limit)
    )
    return _written(list(written_rows), conn, visibility, page_ids) + [
        _automatic(row) for row in automatic_rows
    ]


def _before(
    query: Select,
    started: ColumnElement,
    id_column: ColumnElement,
    rank: int,
    key: Key | None,
    limit: int,
) -> Select:
    """`query` newest first, past `key` in the merged order (start, rank, id) descending."""
    query = query.order_by(started.desc(), id_column.desc()).limit(limit)
    if key is None:
        return query
    at, last_rank, last_id = key
    if rank == last_rank:
        return query.where(or_(started < at, and_(started == at, id_column < last_id)))
    return query.where(started < at if rank > last_rank else started <= at)


def _written(
    rows: Sequence[Any],
    conn: Connection,
    visibility: Visibility,
    page_ids: Sequence[int] | None = None,
) -> list[Reported]:
    """Written incidents of `rows`, with their updates (newest first) and the services they
    name that `visibility` admits (of `page_ids`, when given)."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    updates: dict[int, list[IncidentUpdate]] = {}
    query = (
        select(incident_updates)
        .where(incident_updates.c.incident_id.in_(ids))
        .order_by(incident_updates.c.id.desc())
    )
    for u in conn.execute(query):
        updates.setdefault(u.incident_id, []).append(
            IncidentUpdate(u.id, u.status, u.message, u.created_at)
        )
    named = _names(conn, (sid for row in rows for sid in row.service_ids), visibility, page_ids)
    return [
        Reported(
            source="written",
            id=row.id,
            title=row.title,
            impact=row.impact,
            status=row.status,
            started_at=row.started_at,
            resolved_at=row.resolved_at,
            updated_at=row.updated_at,
            services=tuple((sid, named[sid]) for sid in row.service_ids if sid in named),
            updates=tuple(updates.get(row.id, ())),
            owner_id=row.owner_id,
        )
        for row in rows
    ]


def _names(
    conn: Connection,
    service_ids: Iterable[int],
    visibility: Visibility,
    page_ids: Sequence[int] | None,
) -> dict[int, str]:
    wanted = set(service_ids)
    if page_ids is not None:
        wanted &= set(page_ids)
    return service_store.names(conn, wanted, visibility) if wanted else {}


def _automatic(row: Any) -> Reported:
    """A downtime of a service, as an incident."""
    return Reported(
        source="automatic",
        id=row.id,
        title=f"{row.name} down",
        impact=None,
        status=None,
        started_at=row.date_started,
        resolved_at=row.date_ended,
        updated_at=row.date_ended or row.date_started,
        services=((row.service_id, row.name),),
        description=row.reason,
    )


def open_by_impact(conn: Connection) -> dict[str, int]:
    """How many written incidents go on, by impact (impacts without any left out)."""
    query = (
        select(incidents.c.impact, func.count())
        .where(incidents.c.resolved_at.is_(None))
        .group_by(incidents.c.impact)
    )
    return {impact: count for impact, count in conn.execute(query).tuples()}
