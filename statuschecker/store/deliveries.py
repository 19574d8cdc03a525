"""The notification outboxes (alerts' deliveries to receivers, and status pages' deliveries to
their subscribers): claiming due deliveries under a lease, recording their outcomes, and showing
their state without secrets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import CTE, Connection, Table, extract, func, or_, select, update

from statuschecker.model import Delivery, DeliveryView, PageDelivery
from statuschecker.redaction import redact
from statuschecker.store.alerts import alert_of
from statuschecker.store.tables import (
    alert_deliveries,
    alerts,
    page_deliveries,
    page_subscriptions,
    services,
)

MAX_ERROR_CHARS = 500  # last_error is cut to this length

_d = alert_deliveries


def _due(table: Table, limit: int) -> CTE:
    """Pending rows of `table` whose attempt is due and that nobody holds (no lease, or a lease
    that ran out), oldest due first, skipping rows another notifier is claiming right now."""
    now = func.now()
    return (
        select(table.c.id)
        .where(
            table.c.status == "pending",
            table.c.next_attempt_at <= now,
            or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now),
        )
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )


def claim_due(conn: Connection, limit: int, lease_seconds: float) -> list[Delivery]:
    """Lease up to `limit` due deliveries, oldest due first, for `lease_seconds`.

    1. Pick pending rows whose attempt is due and that nobody holds (no lease, or a lease
       that ran out), skipping rows another notifier is claiming at this very moment.
    2. Lease them, so that no other notifier sends them while this one does; a notifier that
       dies loses them when the lease ends and they are sent again (at least once).
    3. Return them joined with their alert and service, in id order.
    """
    now = func.now()
    due = _due(_d, limit)
    claim = (
        update(_d)
        .where(
            _d.c.id == due.c.id,
            alerts.c.id == _d.c.alert_id,
            services.c.id == alerts.c.service_id,
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(
            _d.c.id,
            _d.c.channel,
            _d.c.target,
            _d.c.secret,
            _d.c.attempts,
            alerts.c.id.label("alert_id"),
            alerts.c.kind,
            alerts.c.rule,
            alerts.c.message,
            alerts.c.availability_percent,
            alerts.c.window_seconds,
            alerts.c.raised_at,
            alerts.c.downtime_seconds,
            alerts.c.suppressed_by,
            alerts.c.held,
            services.c.id.label("service_id"),
            services.c.name.label("service_name"),
            services.c.url.label("service_url"),
        )
    )
    deliveries = [
        Delivery(
            id=row["id"],
            channel=row["channel"],
            target=row["target"],
            secret=row["secret"],
            attempts=row["attempts"],
            alert=alert_of(row, id_key="alert_id"),
            service_url=row["service_url"],
        )
        for row in conn.execute(claim).mappings()
    ]
    return sorted(deliveries, key=lambda delivery: delivery.id)


def claim_page_due(conn: Connection, limit: int, lease_seconds: float) -> list[PageDelivery]:
    """Lease up to `limit` due deliveries to status pages' subscribers for `lease_seconds`, as
    `claim_due` does alerts', each with its subscription's URL and secret, in id order."""
    p = page_deliveries
    due = _due(p, limit)
    claim = (
        update(p)
        .where(p.c.id == due.c.id, page_subscriptions.c.id == p.c.subscription_id)
        .values(lease_expires_at=func.now() + timedelta(seconds=lease_seconds))
        .returning(
            p.c.id,
            p.c.attempts,
            p.c.event,
            p.c.payload,
            page_subscriptions.c.id.label("subscription_id"),
            page_subscriptions.c.url,
            page_subscriptions.c.secret,
        )
    )
    return sorted(
        (
            PageDelivery(
                id=row.id,
                subscription_id=row.subscription_id,
                url=row.url,
                secret=row.secret,
                attempts=row.attempts,
                event=row.event,
                payload=row.payload,
            )
            for row in conn.execute(claim)
        ),
        key=lambda delivery: delivery.id,
    )


def seconds_until_next_due(conn: Connection) -> float | None:
    """How long until the next unleased pending delivery of either outbox falls due (negative
    when overdue; None when nothing waits)."""
    found = [
        conn.execute(
            select(extract("epoch", func.min(t.c.next_attempt_at) - func.now())).where(
                t.c.status == "pending",
                or_(t.c.lease_expires_at.is_(None), t.c.lease_expires_at < func.now()),
            )
        ).scalar_one()
        for t in (alert_deliveries, page_deliveries)
    ]
    known = [float(seconds) for seconds in found if seconds is not None]
    return min(known) if known else None


def _table(page: bool) -> Table:
    return page_deliveries if page else alert_deliveries


def mark_delivered(conn: Connection, delivery_id: int, page: bool = False) -> None:
    """Record a successful attempt (of a page's delivery with `page`): the delivery is done."""
    t = _table(page)
    conn.execute(
        update(t)
        .where(t.c.id == delivery_id, t.c.status == "pending")
        .values(
            status="delivered",
            delivered_at=func.now(),
            attempts=t.c.attempts + 1,
            lease_expires_at=None,
            last_error=None,
        )
    )


def mark_failed_attempt(
    conn: Connection,
    delivery_id: int,
    error: str,
    retry_in_seconds: float | None,
    page: bool = False,
) -> None:
    """Record a failed attempt (of a page's delivery with `page`): try again in
    `retry_in_seconds`, or give up when None."""
    t = _table(page)
    values: dict[str, object] = {
        "attempts": t.c.attempts + 1,
        "last_error": error[:MAX_ERROR_CHARS],
        "lease_expires_at": None,
    }
    if retry_in_seconds is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = func.now() + timedelta(seconds=retry_in_seconds)
    conn.execute(update(t).where(t.c.id == delivery_id, t.c.status == "pending").values(values))


def for_alerts(conn: Connection, alert_ids: Iterable[int]) -> dict[int, list[DeliveryView]]:
    """The deliveries of each alert (an empty list for an alert without any), in id order."""
    views: dict[int, list[DeliveryView]] = {alert_id: [] for alert_id in alert_ids}
    if not views:
        return views
    rows = conn.execute(
        select(
            _d.c.id,
            _d.c.alert_id,
            _d.c.channel,
            _d.c.target,
            _d.c.status,
            _d.c.attempts,
            _d.c.last_error,
            _d.c.delivered_at,
            _d.c.next_attempt_at,
        )
        .where(_d.c.alert_id.in_(list(views)))
        .order_by(_d.c.alert_id, _d.c.id)
    )
    for row in rows:
        views[row.alert_id].append(
            DeliveryView(
                id=row.id,
                channel=row.channel,
                target=redact(row.channel, row.target),
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                delivered_at=row.delivered_at,
                next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            )
        )
    return views


def page_outbox(conn: Connection) -> dict[str, int]:
    """How many deliveries to status pages' subscribers wait and how many were given up."""
    p = page_deliveries
    query = (
        select(p.c.status, func.count())
        .where(p.c.status.in_(["pending", "failed"]))
        .group_by(p.c.status)
    )
    return {status: count for status, count in conn.execute(query).tuples()}
