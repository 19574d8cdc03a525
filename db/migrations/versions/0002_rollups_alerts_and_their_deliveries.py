"""rollups, alerts and their deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("availability_percent", sa.Double(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("downtime_seconds", sa.Double(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('down', 'recovered')", name=op.f("ck_alerts_alert_kind")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_alerts_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_raised_at_id", "alerts", ["raised_at", "id"], unique=False)
    op.create_index("ix_alerts_service_id_id", "alerts", ["service_id", "id"], unique=False)
    op.create_table(
        "service_rollup_outcomes",
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket_hours", sa.SmallInteger(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_rollup_outcomes_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "service_id",
            "bucket_hours",
            "bucket_start",
            "outcome",
            name=op.f("pk_service_rollup_outcomes"),
        ),
        sa.CheckConstraint(
            "bucket_hours IN (1, 24)", name=op.f("ck_service_rollup_outcomes_bucket_hours_kind")
        ),
    )
    op.create_table(
        "service_rollups",
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket_hours", sa.SmallInteger(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("successful", sa.Integer(), nullable=False),
        sa.Column("rt_count", sa.Integer(), nullable=False),
        sa.Column("rt_sum", sa.Double(), nullable=False),
        sa.Column("rt_max", sa.Double(), nullable=True),
        sa.Column("ttfb_count", sa.Integer(), nullable=False),
        sa.Column("ttfb_sum", sa.Double(), nullable=False),
        sa.Column("ttfb_max", sa.Double(), nullable=True),
        sa.Column("rt_histogram", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_rollups_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "bucket_hours", "bucket_start", name=op.f("pk_service_rollups")
        ),
        sa.CheckConstraint(
            "bucket_hours IN (1, 24)", name=op.f("ck_service_rollups_bucket_hours_kind")
        ),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('webhook', 'apprise')", name=op.f("ck_alert_deliveries_channel_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_alert_deliveries_status_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"], unique=False)
    op.create_index(
        "ix_alert_deliveries_due",
        "alert_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.add_column(
        "services",
        sa.Column("alert_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "services",
        sa.Column(
            "alert_state", sa.String(length=16), server_default=sa.text("'ok'"), nullable=False
        ),
    )
    op.add_column(
        "services", sa.Column("alert_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "tick_pruning",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("pruned_before", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_tick_pruning_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tick_pruning")),
    )
    op.create_index(
        "ix_service_events_service_end",
        "service_events",
        ["service_id", sa.text("coalesce(date_ended, 'infinity'::timestamptz)")],
    )
    op.create_index(
        "ix_service_ticks_checked_at_brin", "service_ticks", ["checked_at"], postgresql_using="brin"
    )
    op.create_check_constraint(
        op.f("ck_services_alert_state_kind"), "services", "alert_state IN ('ok', 'alerting')"
    )


def downgrade() -> None:
    op.drop_index("ix_service_ticks_checked_at_brin", table_name="service_ticks")
    op.drop_index("ix_service_events_service_end", table_name="service_events")
    op.drop_table("tick_pruning")
    op.drop_constraint(op.f("ck_services_alert_state_kind"), "services", type_="check")
    op.drop_column("services", "alert_changed_at")
    op.drop_column("services", "alert_state")
    op.drop_column("services", "alert_policy")
    op.drop_index(
        "ix_alert_deliveries_due",
        table_name="alert_deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("service_rollups")
    op.drop_table("service_rollup_outcomes")
    op.drop_index("ix_alerts_service_id_id", table_name="alerts")
    op.drop_index("ix_alerts_raised_at_id", table_name="alerts")
    op.drop_table("alerts")
