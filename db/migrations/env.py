"""Alembic environment: runs the migrations online against the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from statuschecker.store.engine import sqlalchemy_url
from statuschecker.store.tables import metadata
from statuschecker.system.config import Settings

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    if not url:
        raise RuntimeError("set STATUSCHECKER_DATABASE_URL or run `statuschecker migrate`")
    return sqlalchemy_url(url)


def run_migrations_online() -> None:
    """Run every pending migration in one transaction."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run against a database")
run_migrations_online()
