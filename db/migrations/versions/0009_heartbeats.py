"""heartbeats: services that report in by pinging

A service of kind `heartbeat` has no URL to check; it has a ping key (its ping URL's
credential), a schedule, the due time of its next ping, and the times of its last finishing
and last successful pings. Runs started and not finished are kept per run id, and every ping
is kept with the body its job sent: stored when it arrives, judged (`judged`) soon after.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _service_ref(table: str) -> sa.Column:
    return sa.Column(
        "service_id",
        sa.BigInteger,
        sa.ForeignKey(
            "services.id", ondelete="CASCADE", name=op.f(f"fk_{table}_service_id_services")
        ),
        nullable=False,
    )


def upgrade() -> None:
    add = op.add_column
    add("services", sa.Column("ping_key", sa.String(64), nullable=True))
    add("services", sa.Column("heartbeat", postgresql.JSONB, nullable=True))
    add("services", sa.Column("heartbeat_due_at", sa.DateTime(timezone=True), nullable=True))
    add("services", sa.Column("last_ping_at", sa.DateTime(timezone=True), nullable=True))
    add("services", sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_services_heartbeat_kind"),
        "services",
        "(kind = 'heartbeat') = (heartbeat IS NOT NULL AND ping_key IS NOT NULL)",
    )
    op.create_index(op.f("uq_services_ping_key"), "services", ["ping_key"], unique=True)

    op.create_table(
        "heartbeat_runs",
        _service_ref("heartbeat_runs"),
        sa.Column("rid", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("service_id", "rid", name=op.f("pk_heartbeat_runs")),
    )
    op.create_table(
        "pings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _service_ref("pings"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("exit_status", sa.SmallInteger, nullable=True),
        sa.Column("rid", sa.String(64), nullable=True),
        sa.Column("duration_ms", sa.Double, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.Column("judged", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.CheckConstraint("kind IN ('start', 'success', 'fail')", name=op.f("ck_pings_ping_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pings")),
    )
    op.create_index(op.f("ix_pings_service_id_id"), "pings", ["service_id", "id"])
    op.create_index(op.f("ix_pings_received_at"), "pings", ["received_at"])
    op.create_index(
        op.f("ix_pings_unjudged"),
        "pings",
        ["service_id", "id"],
        postgresql_where=sa.text("NOT judged"),
    )


def downgrade() -> None:
    op.drop_table("pings")
    op.drop_table("heartbeat_runs")
    op.execute("DELETE FROM services WHERE kind = 'heartbeat'")
    op.drop_index(op.f("uq_services_ping_key"), "services")
    op.drop_constraint(op.f("ck_services_heartbeat_kind"), "services", type_="check")
    for name in ("last_success_at", "last_ping_at", "heartbeat_due_at", "heartbeat", "ping_key"):
        op.drop_column("services", name)
