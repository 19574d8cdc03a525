"""readers' webhook subscriptions to status pages, and their outbox

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "page_subscriptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "page_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "status_pages.id",
                ondelete="CASCADE",
                name=op.f("fk_page_subscriptions_page_id_status_pages"),
            ),
            nullable=False,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_subscriptions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_page_subscriptions_token_hash")),
    )
    op.create_index("ix_page_subscriptions_page_id_id", "page_subscriptions", ["page_id", "id"])
    op.create_table(
        "page_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "subscription_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "page_subscriptions.id",
                ondelete="CASCADE",
                name=op.f("fk_page_deliveries_subscription_id_page_subscriptions"),
            ),
            nullable=False,
        ),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_page_deliveries_status_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_deliveries")),
    )
    op.create_index("ix_page_deliveries_subscription_id", "page_deliveries", ["subscription_id"])
    op.create_index(
        "ix_page_deliveries_due",
        "page_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("page_deliveries")
    op.drop_table("page_subscriptions")
