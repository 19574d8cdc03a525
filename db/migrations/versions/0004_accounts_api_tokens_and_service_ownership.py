"""accounts, api tokens and service ownership

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
    )
    op.create_index("ix_api_tokens_user_id_id", "api_tokens", ["user_id", "id"], unique=False)
    op.add_column("services", sa.Column("owner_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "services",
        sa.Column("public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.drop_constraint(op.f("uq_services_name"), "services", type_="unique")
    op.create_index(
        "ix_services_public", "services", ["id"], unique=False, postgresql_where=sa.text("public")
    )
    op.create_index("uq_services_owner_name", "services", ["owner_id", "name"], unique=True)
    op.create_index(
        "uq_services_unowned_name",
        "services",
        ["name"],
        unique=True,
        postgresql_where=sa.text("owner_id IS NULL"),
    )
    op.create_foreign_key(
        op.f("fk_services_owner_id_users"),
        "services",
        "users",
        ["owner_id"],
        ["id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_services_owner_id_users"), "services", type_="foreignkey")
    op.drop_index(
        "uq_services_unowned_name",
        table_name="services",
        postgresql_where=sa.text("owner_id IS NULL"),
    )
    op.drop_index("uq_services_owner_name", table_name="services")
    op.drop_index("ix_services_public", table_name="services", postgresql_where=sa.text("public"))
    op.create_unique_constraint(op.f("uq_services_name"), "services", ["name"])
    op.drop_column("services", "public")
    op.drop_column("services", "owner_id")
    op.drop_index("ix_api_tokens_user_id_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
