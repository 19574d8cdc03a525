"""The notification outbox: claiming due deliveries under a lease, recording their outcomes,
and showing their state without secrets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Connection, extract, func, or_, select, update

from statuschecker.model import Delivery, DeliveryView
from statuschecker.redaction import redact
from statuschecker.store.alerts import alert_of
from statuschecker.store.tables import alert_deliveries, alerts, services

MAX_ERROR_CHARS = 500  # last_error is cut to this length

_d = alert_deliveries


def claim_due(conn: Connection, limit: int, lease_seconds: float) -> list[Delivery]:
    """Lease up to `limit` due deliveries, oldest due first, for `lease_seconds`.

    1. Pick pending rows whose attempt is due and that nobody holds (no lease, or a lease
       that ran out), skipping rows another notifier is claiming at this very moment.
    2. Lease them, so that no other notifier sends them while this one does; a notifier that
       dies loses them when the lease ends and they are sent again (at least once).
    3. Return them joined with their alert and service, in id order.
    """
    now = func.now()
    due = (
        select(_d.c.id)
        .where(
            _d.c.status == "pending",
            _d.c.next_attempt_at <= now,
            or_(_d.c.lease_expires_at.is_(None), _d.c.lease_expires_at < now),
        )
        .order_by(_d.c.next_attempt_at, _d.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
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


def seconds_until_next_due(conn: Connection) -> float | None:
    """How long until the next unleased pending delivery falls due (negative when overdue;
    None when nothing waits)."""
    seconds = conn.execute(
        select(extract("epoch", func.min(_d.c.next_attempt_at) - func.now())).where(
            _d.c.status == "pending",
            or_(_d.c.lease_expires_at.is_(None), _d.c.lease_expires_at < func.now()),
        )
    ).scalar_one()
    return float(seconds) if seconds is not None else None


def mark_delivered(conn: Connection, delivery_id: int) -> None:
    """Record a successful attempt: the delivery is done."""
    conn.execute(
        update(_d)
        .where(_d.c.id == delivery_id, _d.c.status == "pending")
        .values(
            status="delivered",
            delivered_at=func.now(),
            attempts=_d.c.attempts + 1,
            lease_expires_at=None,
            last_error=None,
        )
    )


def mark_failed_attempt(
    conn: Connection, delivery_id: int, error: str, retry_in_seconds: float | None
) -> None:
    """Record a failed attempt: try again in `retry_in_seconds`, or give up when None."""
    values: dict[str, object] = {
        "attempts": _d.c.attempts + 1,
        "last_error": error[:MAX_ERROR_CHARS],
        "lease_expires_at": None,
    }
    if retry_in_seconds is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = func.now() + timedelta(seconds=retry_in_seconds)
    conn.execute(update(_d).where(_d.c.id == delivery_id, _d.c.status == "pending").values(values))


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
