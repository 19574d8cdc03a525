"""The schema comes from the Alembic migrations and matches the table definitions."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from statuschecker.store.engine import alembic_config
from statuschecker.store.tables import metadata


def test_upgrade_matches_tables_and_downgrade_empties(make_database: Callable[[], str]) -> None:
    url = make_database()
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
            assert set(inspect(conn).get_table_names()) >= {
                "services",
                "service_ticks",
                "service_metrics",
                "service_events",
            }
        command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
