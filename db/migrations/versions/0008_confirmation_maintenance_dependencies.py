"""confirmation, maintenance windows, dependencies, flapping, degraded, groups and tags

Services gain their confirmation settings (null: the settings' defaults), tags, a group and
the services they depend on, and the state the rules keep between checks: the unconfirmed run
of outcomes against the confirmed state, whether the newest check fell in maintenance, and the
degraded, flapping and suppressed alert states. Ticks and rollups say which checks fell in a
maintenance window (availability without them is the SLA figure); incidents name the parent
that caused them; alerts grow their kinds and say when nobody was told. Maintenance windows
are a table of their own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FALSE = sa.text("false")


def upgrade() -> None:
    add = op.add_column
    add("services", sa.Column("confirm_down_after", sa.SmallInteger, nullable=True))
    add("services", sa.Column("confirm_up_after", sa.SmallInteger, nullable=True))
    add("services", sa.Column("retry_interval_seconds", sa.Integer, nullable=True))
    add(
        "services",
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")
        ),
    )
    add("services", sa.Column("group_name", sa.String(100), nullable=True))
    add(
        "services",
        sa.Column(
            "depends_on",
            postgresql.ARRAY(sa.BigInteger),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    add("services", sa.Column("run_kind", sa.String(16), nullable=True))
    add("services", sa.Column("run_count", sa.Integer, nullable=False, server_default="0"))
    add("services", sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True))
    add("services", sa.Column("run_reason", sa.Text, nullable=True))
    add("services", sa.Column("in_maintenance", sa.Boolean, nullable=False, server_default=_FALSE))
    add("services", sa.Column("degraded", sa.Boolean, nullable=False, server_default=_FALSE))
    add("services", sa.Column("flapping", sa.Boolean, nullable=False, server_default=_FALSE))
    add("services", sa.Column("alert_suppressed_by", sa.BigInteger, nullable=True))
    add("services", sa.Column("alert_cause_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_services_confirm_range"),
        "services",
        "confirm_down_after BETWEEN 1 AND 10 AND confirm_up_after BETWEEN 1 AND 10",
    )
    op.create_check_constraint(
        op.f("ck_services_retry_range"), "services", "retry_interval_seconds BETWEEN 1 AND 86400"
    )
    op.create_check_constraint(
        op.f("ck_services_run_kind"), "services", "run_kind IN ('uptime', 'downtime')"
    )
    op.create_index(op.f("ix_services_tags"), "services", ["tags"], postgresql_using="gin")

    add(
        "service_ticks",
        sa.Column("in_maintenance", sa.Boolean, nullable=False, server_default=_FALSE),
    )
    for name in ("maintenance_checks", "maintenance_successful"):
        add("service_rollups", sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    add("service_events", sa.Column("caused_by", sa.BigInteger, nullable=True))

    add("alerts", sa.Column("suppressed_by", sa.BigInteger, nullable=True))
    add("alerts", sa.Column("held", sa.Boolean, nullable=False, server_default=_FALSE))
    op.drop_constraint(op.f("ck_alerts_alert_kind"), "alerts", type_="check")
    op.create_check_constraint(
        op.f("ck_alerts_alert_kind"),
        "alerts",
        "kind IN ('down', 'recovered', 'degraded', 'flapping', 'stable')",
    )

    op.create_table(
        "maintenances",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "owner_id",
            sa.BigInteger,
            sa.ForeignKey(
                "users.id", ondelete="CASCADE", name=op.f("fk_maintenances_owner_id_users")
            ),
            nullable=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column(
            "service_ids",
            postgresql.ARRAY(sa.BigInteger),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rrule", sa.Text, nullable=True),
        sa.Column("duration_seconds", sa.Integer, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "(rrule IS NULL AND ends_at IS NOT NULL AND ends_at > starts_at)"
            " OR (rrule IS NOT NULL AND duration_seconds IS NOT NULL AND timezone IS NOT NULL)",
            name=op.f("ck_maintenances_one_off_or_recurring"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenances")),
    )
    op.create_index(op.f("ix_maintenances_owner_id_id"), "maintenances", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_table("maintenances")
    op.drop_constraint(op.f("ck_alerts_alert_kind"), "alerts", type_="check")
    op.execute("DELETE FROM alerts WHERE kind NOT IN ('down', 'recovered')")
    op.create_check_constraint(
        op.f("ck_alerts_alert_kind"), "alerts", "kind IN ('down', 'recovered')"
    )
    op.drop_column("alerts", "held")
    op.drop_column("alerts", "suppressed_by")
    op.drop_column("service_events", "caused_by")
    for name in ("maintenance_checks", "maintenance_successful"):
        op.drop_column("service_rollups", name)
    op.drop_column("service_ticks", "in_maintenance")
    op.drop_index(op.f("ix_services_tags"), "services")
    for name in (
        op.f("ck_services_confirm_range"),
        op.f("ck_services_retry_range"),
        op.f("ck_services_run_kind"),
    ):
        op.drop_constraint(name, "services", type_="check")
    for name in (
        "confirm_down_after",
        "confirm_up_after",
        "retry_interval_seconds",
        "tags",
        "group_name",
        "depends_on",
        "run_kind",
        "run_count",
        "run_started_at",
        "run_reason",
        "in_maintenance",
        "degraded",
        "flapping",
        "alert_suppressed_by",
        "alert_cause_seen_at",
    ):
        op.drop_column("services", name)
