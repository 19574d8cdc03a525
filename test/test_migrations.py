"""The schema comes from the Alembic migrations and matches the table definitions."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

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


def test_partitioning_keeps_the_ticks_both_ways(make_database: Callable[[], str]) -> None:
    url = make_database()
    config = alembic_config(url)
    command.upgrade(config, "0004")
    engine = create_engine(url)
    count_by_table = text(
        "SELECT tableoid::regclass::text, count(*) FROM service_ticks GROUP BY 1 ORDER BY 1"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO services (name, url, kind, interval_seconds, timeout_seconds) "
                    "VALUES ('a', 'http://a.test/', 'http', 60, 5)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO service_ticks (service_id, checked_at, up) VALUES "
                    "(1, '2026-01-01T23:59:59Z', true), (1, '2026-01-02T00:00:00Z', false)"
                )
            )
        command.upgrade(config, "head")
        with engine.begin() as conn:
            assert conn.execute(count_by_table).all() == [
                ("service_ticks_p20260101", 1),
                ("service_ticks_p20260102", 1),
            ]
            new_id = conn.execute(
                text(
                    "INSERT INTO service_ticks (service_id, checked_at, up) "
                    "VALUES (1, '2026-01-02T01:00:00Z', true) RETURNING id"
                )
            ).scalar_one()
            assert new_id == 3
        command.downgrade(config, "0004")
        command.upgrade(config, "head")
        command.downgrade(config, "0004")
        with engine.connect() as conn:
            assert conn.execute(count_by_table).all() == [("service_ticks", 3)]
    finally:
        engine.dispose()
