"""services checked from several locations

A service may name the locations it is checked from and the quorum that decides it down. Each
named location has its own schedule, lease and confirmed state in service_locations; the
services' own schedule (and the index the pollers claim through) keeps the services checked from
anywhere, as before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "services",
        sa.Column(
            "locations", ARRAY(sa.String(40)), nullable=False, server_default=sa.text("'{}'")
        ),
    )
    op.add_column("services", sa.Column("quorum", sa.SmallInteger(), nullable=True))
    op.add_column(
        "services",
        sa.Column(
            "failing_locations",
            ARRAY(sa.String(40)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.create_check_constraint(
        op.f("ck_services_quorum_range"),
        "services",
        "quorum BETWEEN 1 AND cardinality(locations) AND cardinality(locations) <= 16",
    )
    op.drop_index("ix_services_due", table_name="services")
    op.create_index(
        "ix_services_due",
        "services",
        ["next_check_at"],
        postgresql_where=sa.text("NOT paused AND locations = '{}'"),
    )
    op.create_table(
        "service_locations",
        sa.Column(
            "service_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "services.id",
                ondelete="CASCADE",
                name="fk_service_locations_service_id_services",
            ),
            nullable=False,
        ),
        sa.Column("location", sa.String(40), nullable=False),
        sa.Column(
            "next_check_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_kind", sa.String(16), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_reason", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.String(16), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_up", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_response_time_ms", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("service_id", "location", name="pk_service_locations"),
        sa.CheckConstraint(
            "run_kind IN ('uptime', 'downtime')", name=op.f("ck_service_locations_run_kind")
        ),
        sa.CheckConstraint(
            "confirmed IN ('uptime', 'downtime')", name=op.f("ck_service_locations_confirmed_kind")
        ),
    )
    op.create_index("ix_service_locations_due", "service_locations", ["location", "next_check_at"])


def downgrade() -> None:
    op.drop_table("service_locations")
    op.drop_index("ix_services_due", table_name="services")
    op.create_index(
        "ix_services_due", "services", ["next_check_at"], postgresql_where=sa.text("NOT paused")
    )
    op.drop_constraint(op.f("ck_services_quorum_range"), "services")
    op.drop_column("services", "failing_locations")
    op.drop_column("services", "quorum")
    op.drop_column("services", "locations")
