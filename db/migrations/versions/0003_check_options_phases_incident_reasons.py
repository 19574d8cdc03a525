"""check options, timing phases and incident reasons

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_events", sa.Column("reason", sa.Text(), nullable=True))
    op.add_column("service_ticks", sa.Column("dns_ms", sa.Double(), nullable=True))
    op.add_column("service_ticks", sa.Column("connect_ms", sa.Double(), nullable=True))
    op.add_column("service_ticks", sa.Column("tls_ms", sa.Double(), nullable=True))
    op.add_column(
        "service_ticks", sa.Column("cert_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("service_ticks", sa.Column("packet_loss_percent", sa.Double(), nullable=True))
    op.add_column(
        "services",
        sa.Column(
            "check_options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("services", "check_options")
    op.drop_column("service_ticks", "packet_loss_percent")
    op.drop_column("service_ticks", "cert_expires_at")
    op.drop_column("service_ticks", "tls_ms")
    op.drop_column("service_ticks", "connect_ms")
    op.drop_column("service_ticks", "dns_ms")
    op.drop_column("service_events", "reason")
