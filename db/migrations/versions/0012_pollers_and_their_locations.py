"""pollers and their locations

Every poller reports itself (its lease owner id, location, host, version) every few seconds and
when it stops, so that a location whose pollers have all gone quiet is known to be stale.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pollers",
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("location", sa.String(40), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("owner", name="pk_pollers"),
    )


def downgrade() -> None:
    op.drop_table("pollers")
