"""one tick per service and moment

A batch written again after its commit was lost in transit must not store its ticks twice: the
recorder inserts with ON CONFLICT on (service_id, checked_at), which needs this unique index in
place of the plain one. Duplicates already stored are removed first (the oldest row is kept).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM service_ticks a USING service_ticks b WHERE a.service_id = b.service_id "
        "AND a.checked_at = b.checked_at AND a.id > b.id"
    )
    op.execute("DROP INDEX ix_service_ticks_service_time")
    op.execute(
        "CREATE UNIQUE INDEX uq_service_ticks_service_time "
        "ON service_ticks (service_id, checked_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX uq_service_ticks_service_time")
    op.execute(
        "CREATE INDEX ix_service_ticks_service_time ON service_ticks (service_id, checked_at, id)"
    )
