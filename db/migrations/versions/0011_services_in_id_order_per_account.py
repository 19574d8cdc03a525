"""services in id order per account

A page of an account's services (`WHERE owner_id = ? ORDER BY id LIMIT ?`) reads that account's
index entries in order and stops at the page's end, whatever the planner's statistics say.
Without it, a planner that had not yet analysed a freshly registered account (10,000 services
in a few seconds) sorted all of them for every page: 40-90 ms per page instead of 0.4 ms.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_services_owner_id_id", "services", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_services_owner_id_id", table_name="services")
