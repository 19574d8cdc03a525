"""a timeout may exceed the interval

A check still running when its next is due makes that one wait (the service stays leased
until it ends), so a timeout longer than the interval is a setting the API accepts and warns
about rather than a value the database refuses. The timeout keeps its own bounds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_services_timeout_range", "services", type_="check")
    op.create_check_constraint(
        "ck_services_timeout_range", "services", "timeout_seconds >= 0.1 AND timeout_seconds <= 60"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE services SET timeout_seconds = interval_seconds "
        "WHERE timeout_seconds > interval_seconds"
    )
    op.drop_constraint("ck_services_timeout_range", "services", type_="check")
    op.create_check_constraint(
        "ck_services_timeout_range",
        "services",
        "timeout_seconds >= 0.1 AND timeout_seconds <= 60 AND timeout_seconds <= interval_seconds",
    )
