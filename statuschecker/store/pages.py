"""Queries on status pages: create, read (by slug), list, change, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from statuschecker.errors import Conflict, NotFound
from statuschecker.model import Page, StatusPage, Visibility
from statuschecker.store import cursor
from statuschecker.store.ownership import owned_within, remove_owned
from statuschecker.store.tables import status_pages

EVERYTHING = Visibility()


def within(visibility: Visibility) -> ColumnElement[bool]:
    """The pages `visibility` may see and change (see `owned_within`)."""
    return owned_within(status_pages.c.owner_id, visibility)


def _to_page(row: Any) -> StatusPage:
    return StatusPage(
        id=row.id,
        owner_id=row.owner_id,
        slug=row.slug,
        title=row.title,
        description=row.description,
        logo=row.logo,
        link=row.link,
        service_ids=tuple(row.service_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create(conn: Connection, values: Mapping[str, Any]) -> StatusPage:
    """Insert a page; Conflict when its slug is taken."""
    try:
        with conn.begin_nested():
            row = conn.execute(insert(status_pages).values(**values).returning(status_pages)).one()
    except IntegrityError as exc:
        if "uq_status_pages_slug" in str(exc.orig):
            raise Conflict(f"a status page at /status/{values['slug']} exists already") from exc
        raise
    return _to_page(row)


def get(conn: Connection, slug: str, visibility: Visibility = EVERYTHING) -> StatusPage:
    """The page at `slug`; NotFound if `visibility` has none there."""
    query = select(status_pages).where(status_pages.c.slug == slug, within(visibility))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no status page at /status/{slug}")
    return _to_page(row)


def list_page(
    conn: Connection, *, limit: int, after: str | None = None, visibility: Visibility = EVERYTHING
) -> Page[StatusPage]:
    """Pages of `visibility` in id (creation) order, `limit` at a time."""
    query = cursor.in_id_order(
        select(status_pages).where(within(visibility)), status_pages.c.id, limit=limit, after=after
    )
    rows = [_to_page(row) for row in conn.execute(query)]
    return cursor.page(rows, limit, lambda p: (p.id,))


def change(conn: Connection, page_id: int, values: Mapping[str, Any]) -> StatusPage:
    """Apply `values` to a page (the caller has found it visible to it first)."""
    statement = (
        update(status_pages)
        .where(status_pages.c.id == page_id)
        .values(**values, updated_at=func.now())
        .returning(status_pages)
    )
    return _to_page(conn.execute(statement).one())


def remove(conn: Connection, slug: str, visibility: Visibility = EVERYTHING) -> None:
    """Delete the page at `slug` if `visibility` admits it."""
    remove_owned(
        conn,
        status_pages,
        status_pages.c.slug == slug,
        visibility,
        f"no status page at /status/{slug}",
    )
