"""services, ticks, metrics and events

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False, now: bool = False) -> sa.Column:
    default = sa.func.now() if now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def _service_fk() -> sa.Column:
    return sa.Column(
        "service_id",
        sa.BigInteger,
        sa.ForeignKey("services.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("timeout_seconds", sa.Double, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.text("false")),
        _timestamp("created_at", now=True),
        _timestamp("updated_at", now=True),
        _timestamp("next_check_at", now=True),
        sa.Column("lease_owner", sa.Text, nullable=True),
        _timestamp("lease_expires_at", nullable=True),
        sa.CheckConstraint(
            "interval_seconds BETWEEN 1 AND 86400", name="ck_services_interval_range"
        ),
        sa.CheckConstraint(
            "timeout_seconds >= 0.1 AND timeout_seconds <= 60"
            " AND timeout_seconds <= interval_seconds",
            name="ck_services_timeout_range",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_services"),
        sa.UniqueConstraint("name", name="uq_services_name"),
    )
    op.create_index(
        "ix_services_due", "services", ["next_check_at"], postgresql_where=sa.text("NOT paused")
    )

    op.create_table(
        "service_ticks",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _service_fk(),
        _timestamp("checked_at"),
        sa.Column("up", sa.Boolean, nullable=False),
        sa.Column("response_time_ms", sa.Double, nullable=True),
        sa.Column("ttfb_ms", sa.Double, nullable=True),
        sa.Column("status_code", sa.SmallInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_service_ticks"),
    )
    op.create_index(
        "ix_service_ticks_service_time", "service_ticks", ["service_id", "checked_at", "id"]
    )

    op.create_table(
        "service_metrics",
        sa.Column(
            "service_id",
            sa.BigInteger,
            sa.ForeignKey("services.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tick_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("up_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("down_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("uptime_percent", sa.Double, nullable=True),
        sa.Column("average_response_time_ms", sa.Double, nullable=True),
        sa.Column("max_response_time_ms", sa.Double, nullable=True),
        _timestamp("last_checked_at", nullable=True),
        sa.PrimaryKeyConstraint("service_id", name="pk_service_metrics"),
    )

    op.create_table(
        "service_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _service_fk(),
        sa.Column("event", sa.String(16), nullable=False),
        _timestamp("date_started"),
        _timestamp("date_ended", nullable=True),
        sa.CheckConstraint("event IN ('uptime', 'downtime')", name="ck_service_events_event_kind"),
        sa.CheckConstraint(
            "date_ended IS NULL OR date_ended >= date_started",
            name="ck_service_events_event_order",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_service_events"),
    )
    op.create_index("ix_service_events_service_id_id", "service_events", ["service_id", "id"])
    op.create_index(
        "uq_service_events_open",
        "service_events",
        ["service_id"],
        unique=True,
        postgresql_where=sa.text("date_ended IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("service_events")
    op.drop_table("service_metrics")
    op.drop_table("service_ticks")
    op.drop_table("services")
