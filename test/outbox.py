"""Rows of the alert outbox written straight into the database: a service, an alert of it, a
delivery of the alert, and reading a delivery back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from statuschecker.store.tables import alert_deliveries, alerts, services

RAISED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def add_service(db: Engine, name: str = "api") -> int:
    with db.begin() as conn:
        return conn.execute(
            insert(services)
            .values(
                name=name,
                url="http://127.0.0.1:1/health",
                kind="http",
                interval_seconds=30,
                timeout_seconds=5,
            )
            .returning(services.c.id)
        ).scalar_one()


def add_alert(db: Engine, service_id: int, kind: str = "down", **values: Any) -> int:
    row = {
        "service_id": service_id,
        "kind": kind,
        "rule": "availability",
        "message": f"Service api is {kind}. availability=50.0%",
        "availability_percent": 50.0,
        "window_seconds": 120,
        "raised_at": RAISED_AT,
        **values,
    }
    with db.begin() as conn:
        return conn.execute(insert(alerts).values(row).returning(alerts.c.id)).scalar_one()


def add_delivery(
    db: Engine, alert_id: int, target: str, channel: str = "webhook", **values: Any
) -> int:
    with db.begin() as conn:
        return conn.execute(
            insert(alert_deliveries)
            .values(alert_id=alert_id, channel=channel, target=target, **values)
            .returning(alert_deliveries.c.id)
        ).scalar_one()


def delivery(db: Engine, delivery_id: int) -> Any:
    with db.connect() as conn:
        return conn.execute(
            select(alert_deliveries).where(alert_deliveries.c.id == delivery_id)
        ).one()
