"""the stale locations of a service's last verdict

A service checked from several locations names, besides the live locations it failed from, the
named locations that counted for neither side because none of their pollers reported. Adding a
column whose default is a constant changes only the catalogue.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "services",
        sa.Column(
            "stale_locations", ARRAY(sa.String(40)), nullable=False, server_default=sa.text("'{}'")
        ),
    )


def downgrade() -> None:
    op.drop_column("services", "stale_locations")
