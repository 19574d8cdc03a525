"""incidents written by people, and status pages besides /

Written incidents with their updates, status pages at /status/{slug}, and an index that reads
the checks' downtimes newest first across services, for the status pages' incident lists.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status IN ('investigating', 'identified', 'monitoring', 'resolved')"


def _owner(table: str) -> sa.Column:
    return sa.Column(
        "owner_id",
        sa.BigInteger(),
        sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f(f"fk_{table}_owner_id_users")),
        nullable=True,
    )


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False)


def _times() -> list[sa.Column]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        for name in ("created_at", "updated_at")
    ]


def upgrade() -> None:
    op.create_table(
        "incidents",
        _id(),
        _owner("incidents"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("impact", sa.String(16), nullable=False),
        sa.Column(
            "service_ids", ARRAY(sa.BigInteger()), nullable=False, server_default=sa.text("'{}'")
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        *_times(),
        sa.CheckConstraint(
            "impact IN ('minor', 'major', 'critical')", name=op.f("ck_incidents_impact_kind")
        ),
        sa.CheckConstraint(STATUSES, name=op.f("ck_incidents_status_kind")),
        sa.CheckConstraint(
            "(status = 'resolved') = (resolved_at IS NOT NULL)",
            name=op.f("ck_incidents_resolved_when"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_owner_id_id", "incidents", ["owner_id", "id"])
    op.create_index("ix_incidents_started_at_id", "incidents", ["started_at", "id"])
    op.create_table(
        "incident_updates",
        _id(),
        sa.Column(
            "incident_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "incidents.id",
                ondelete="CASCADE",
                name=op.f("fk_incident_updates_incident_id_incidents"),
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(STATUSES, name=op.f("ck_incident_updates_status_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    op.create_index("ix_incident_updates_incident_id_id", "incident_updates", ["incident_id", "id"])
    op.create_table(
        "status_pages",
        _id(),
        _owner("status_pages"),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column(
            "service_ids", ARRAY(sa.BigInteger()), nullable=False, server_default=sa.text("'{}'")
        ),
        *_times(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_pages")),
        sa.UniqueConstraint("slug", name=op.f("uq_status_pages_slug")),
    )
    op.create_index("ix_status_pages_owner_id_id", "status_pages", ["owner_id", "id"])
    op.create_index("ix_service_events_date_started_id", "service_events", ["date_started", "id"])


def downgrade() -> None:
    op.drop_index("ix_service_events_date_started_id", "service_events")
    op.drop_table("status_pages")
    op.drop_table("incident_updates")
    op.drop_table("incidents")
