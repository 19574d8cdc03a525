"""Database engine construction and schema migration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from statuschecker.resources import MIGRATIONS_DIR

if TYPE_CHECKING:  # alembic is imported where it is used: a poller worker never migrates
    from alembic.config import Config

MIGRATION_LOCK = 0x5C4D16  # the advisory lock key every migrating process takes


def sqlalchemy_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` URLs and name the psycopg 3 driver explicitly."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"statuschecker needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_db_engine(url: str, pool_size: int = 10) -> Engine:
    """A pooled engine that survives a database restart (connections are pinged on checkout)."""
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10, "application_name": "statuschecker"},
    )


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at our migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest). Processes that start together take
    turns under an advisory lock (concurrent migrations would wait on each other's DDL for
    ever); those after the first find nothing left to do."""
    from alembic import command

    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()
