"""SQLAlchemy table definitions; the Alembic migrations build exactly this schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _service_ref() -> Column:
    """The owning service; its rows go when the service is deleted."""
    return Column(
        "service_id", BigInteger, ForeignKey("services.id", ondelete="CASCADE"), nullable=False
    )


services = Table(
    "services",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("timeout_seconds", Double, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Scheduling: the slot the service is due in, and the poller holding it until the lease ends.
    Column("next_check_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_owner", Text, nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("interval_seconds BETWEEN 1 AND 86400", name="interval_range"),
    CheckConstraint(
        "timeout_seconds >= 0.1 AND timeout_seconds <= 60 AND timeout_seconds <= interval_seconds",
        name="timeout_range",
    ),
    Index("ix_services_due", "next_check_at", postgresql_where=text("NOT paused")),
)

service_ticks = Table(
    "service_ticks",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _service_ref(),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("up", Boolean, nullable=False),
    Column("response_time_ms", Double, nullable=True),
    Column("ttfb_ms", Double, nullable=True),
    Column("status_code", SmallInteger, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_service_ticks_service_time", "service_id", "checked_at", "id"),
)

service_metrics = Table(
    "service_metrics",
    metadata,
    Column(
        "service_id",
        BigInteger,
        ForeignKey("services.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tick_count", BigInteger, nullable=False, server_default=text("0")),
    Column("up_count", BigInteger, nullable=False, server_default=text("0")),
    Column("down_count", BigInteger, nullable=False, server_default=text("0")),
    Column("uptime_percent", Double, nullable=True),
    Column("average_response_time_ms", Double, nullable=True),
    Column("max_response_time_ms", Double, nullable=True),
    Column("last_checked_at", DateTime(timezone=True), nullable=True),
)

service_events = Table(
    "service_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _service_ref(),
    Column("event", String(16), nullable=False),
    Column("date_started", DateTime(timezone=True), nullable=False),
    Column("date_ended", DateTime(timezone=True), nullable=True),
    CheckConstraint("event IN ('uptime', 'downtime')", name="event_kind"),
    CheckConstraint("date_ended IS NULL OR date_ended >= date_started", name="event_order"),
    Index("ix_service_events_service_id_id", "service_id", "id"),
    # At most one open event per service.
    Index(
        "uq_service_events_open",
        "service_id",
        unique=True,
        postgresql_where=text("date_ended IS NULL"),
    ),
)
