"""services and maintenance windows managed by configuration

A service or maintenance window that `POST /v1/config:apply` created, or found stored under a
name its document declares, is managed by configuration: a later apply with `prune` deletes it
when the document no longer declares it, and never touches one that is not. Adding a column
whose default is a constant changes only the catalogue.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("services", "maintenances")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("managed", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "managed")
