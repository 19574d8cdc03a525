"""Daily partitions of the raw ticks: made on demand (also by several processes at once),
found, and dropped whole by retention."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, create_engine, text

from statuschecker.polling import retention
from statuschecker.store import partitions


def test_partitions_are_made_once_found_and_dropped_whole(db: Engine) -> None:
    days = [date(2030, 1, 1), date(2030, 1, 2), date(2030, 1, 3)]
    with db.begin() as conn:
        partitions.ensure(conn, days)
        partitions.ensure(conn, days[:1])  # known: nothing to do
        assert set(days) <= set(partitions.existing(conn))
        conn.execute(
            text(
                "INSERT INTO services (name, url, kind, interval_seconds, timeout_seconds) "
                "VALUES ('a', 'http://a.test/', 'http', 60, 5)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO service_ticks (service_id, checked_at, up) "
                "VALUES (1, '2030-01-02T23:59:59Z', true), (1, '2030-01-03T00:00:00Z', true)"
            )
        )
    now = datetime(2030, 1, 5, 12, tzinfo=UTC)
    assert retention.prune(db, timedelta(days=2), now=now)[-2:] == days[:2]
    with db.connect() as conn:
        left = set(partitions.existing(conn))
        ticks = conn.execute(text("SELECT checked_at FROM service_ticks")).scalars().all()
        pruned_before = conn.execute(text("SELECT pruned_before FROM tick_pruning")).scalar()
    assert not left & set(days[:2]) and days[2] in left
    assert {now.date(), (now + timedelta(days=1)).date()} <= left, "today and tomorrow are made"
    assert ticks == [datetime(2030, 1, 3, tzinfo=UTC)]
    assert pruned_before == datetime(2030, 1, 3, tzinfo=UTC)


def test_processes_making_the_same_partition_at_once_all_succeed(db: Engine) -> None:
    day = date(2031, 6, 1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def make() -> None:
        engine = create_engine(db.url)  # each "process" its own connection and memory
        partitions._known.clear()
        try:
            barrier.wait()
            with engine.begin() as conn:
                partitions.ensure(conn, [day])
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with db.connect() as conn:
        assert day in partitions.existing(conn)
