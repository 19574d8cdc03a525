"""The schema comes from the Alembic migrations and matches the table definitions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.store import rollups
from statuschecker.store.engine import alembic_config, migrate
from statuschecker.store.tables import metadata

ONE_SERVICE = text(
    "INSERT INTO services (name, url, kind, interval_seconds, timeout_seconds) "
    "VALUES ('a', 'http://a.test/', 'http', 60, 5)"
)


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
            conn.execute(ONE_SERVICE)
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


def test_processes_starting_together_migrate_once(make_database: Callable[[], str]) -> None:
    """Every role migrates at start; several starting at once must not trip over each other."""
    url = make_database()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a migration hangs"
    assert errors == []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_rollups_per_location_fold_back_into_one_on_downgrade(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = create_engine(url)
    hour = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ok = CheckResult(up=True, response_time_ms=10.0, ttfb_ms=5.0, status_code=200)
    down = CheckResult(up=False, error="connection refused")
    batch = [
        CheckOutcome(1, hour, ok),
        CheckOutcome(1, hour + timedelta(minutes=1), ok, location="a"),
        CheckOutcome(1, hour + timedelta(minutes=2), down, location="a"),
        CheckOutcome(1, hour + timedelta(minutes=3), ok, location="b"),
    ]
    hourly = text(
        "SELECT checks, successful, rt_count, rt_histogram FROM service_rollups"
        " WHERE bucket_hours = 1"
    )
    outcomes = text(
        "SELECT outcome, count FROM service_rollup_outcomes WHERE bucket_hours = 1 ORDER BY 1"
    )
    try:
        with engine.begin() as conn:
            conn.execute(ONE_SERVICE)
            rollups.add(conn, batch)
            located = text(
                "SELECT location, checks FROM service_rollups WHERE bucket_hours = 24 ORDER BY 1"
            )
            assert conn.execute(located).all() == [("a", 2), ("b", 1), ("default", 1)]
        command.downgrade(config, "0014")
        with engine.connect() as conn:
            (checks, successful, timed, counted), *others = conn.execute(hourly).all()
            assert others == []
            assert (checks, successful, timed, sum(counted.values())) == (4, 3, 3, 3)
            assert conn.execute(outcomes).all() == [("200", 3), ("connection refused", 1)]
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT DISTINCT location FROM service_rollups")).all() == [
                ("default",)
            ]
    finally:
        engine.dispose()
