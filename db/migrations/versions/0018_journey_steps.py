"""the steps of a journey's check

A journey check (several HTTP requests, one check) records each step it ran, as JSON text, in
the tick. Other kinds leave it NULL, so adding the column changes only the catalogue.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_ticks", sa.Column("steps", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("service_ticks", "steps")
