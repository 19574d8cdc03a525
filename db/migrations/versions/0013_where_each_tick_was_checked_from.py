"""where each tick was checked from

A tick records the location of the poller that made it; NULL for the default location, so that
an installation with one location stores no more than before. Adding a nullable column without a
default changes only the catalogue, whatever the table's size.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_ticks", sa.Column("location", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("service_ticks", "location")
