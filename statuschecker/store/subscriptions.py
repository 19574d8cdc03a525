"""Queries on status pages' webhook subscriptions: subscribing, ending one (by its token or
by the page's account), listing them, and putting an event in the outbox of every subscriber
of the pages that show a service."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from statuschecker.model import Page
from statuschecker.store import cursor
from statuschecker.store.tables import page_deliveries, page_subscriptions, services, status_pages

_s = page_subscriptions


def create(
    conn: Connection, page_id: int, url: str, secret: str | None, token_hash: str
) -> tuple[int, datetime]:
    """Subscribe `url` to a page; its id and when."""
    row = conn.execute(
        insert(_s)
        .values(page_id=page_id, url=url, secret=secret, token_hash=token_hash)
        .returning(_s.c.id, _s.c.created_at)
    ).one()
    return row.id, row.created_at


def count(conn: Connection, page_id: int) -> int:
    """How many subscriptions a page has."""
    return int(conn.execute(select(func.count()).where(_s.c.page_id == page_id)).scalar_one())


def remove_by_token(conn: Connection, token_hash: str) -> bool:
    """End the subscription holding the token; whether there was one."""
    statement = delete(_s).where(_s.c.token_hash == token_hash).returning(_s.c.id)
    return conn.execute(statement).first() is not None


def remove(conn: Connection, page_id: int, subscription_id: int) -> bool:
    """End a subscription of a page; whether there was one."""
    statement = (
        delete(_s).where(_s.c.page_id == page_id, _s.c.id == subscription_id).returning(_s.c.id)
    )
    return conn.execute(statement).first() is not None


def list_page(conn: Connection, page_id: int, *, limit: int, after: str | None) -> Page[Any]:
    """A page's subscriptions in id order (id, url, whether signed, created_at), with each's
    deliveries pending and failed, `limit` at a time."""
    d = page_deliveries
    pending = func.count().filter(d.c.status == "pending")
    failed = func.count().filter(d.c.status == "failed")
    query = (
        select(
            _s.c.id,
            _s.c.url,
            (_s.c.secret.is_not(None)).label("signed"),
            _s.c.created_at,
            pending.label("pending"),
            failed.label("failed"),
        )
        .select_from(_s.outerjoin(d, d.c.subscription_id == _s.c.id))
        .where(_s.c.page_id == page_id)
        .group_by(_s.c.id)
    )
    query = cursor.in_id_order(query, _s.c.id, limit=limit, after=after)
    return cursor.page(list(conn.execute(query)), limit, lambda row: (row.id,))


def showing(conn: Connection, service_ids: Iterable[int]) -> list[tuple[Any, list[int]]]:
    """The status pages that show any of the services (the public ones among them), each with
    those services, in page id order."""
    ids = list(service_ids)
    if not ids:
        return []
    shown = select(services.c.id).where(
        services.c.id.in_(ids),
        services.c.public,
        services.c.id == func.any(status_pages.c.service_ids),
    )
    query = select(status_pages, func.array(shown.scalar_subquery()).label("shown")).order_by(
        status_pages.c.id
    )
    return [(row, list(row.shown)) for row in conn.execute(query) if row.shown]


def enqueue(conn: Connection, page_id: int, event: str, payload: dict[str, Any]) -> int:
    """Put `event` with its body in the outbox of each of the page's subscribers; how many."""
    statement = insert(page_deliveries).from_select(
        ["subscription_id", "event", "payload"],
        select(_s.c.id, literal(event), literal(payload, JSONB)).where(_s.c.page_id == page_id),
    )
    return conn.execute(statement).rowcount
