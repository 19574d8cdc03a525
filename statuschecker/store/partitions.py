"""The daily partitions of `service_ticks`: made before ticks of a day arrive, dropped whole
when the day is past its retention."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

PARENT = "service_ticks"
_PREFIX = f"{PARENT}_p"

# The partitions this process has seen made, per database.
_known: dict[str, set[date]] = {}
_known_lock = threading.Lock()


def name_of(day: date) -> str:
    """The partition holding the ticks of `day` (UTC): service_ticks_p20261123."""
    return f"{_PREFIX}{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    """The UTC day `moment` falls in."""
    return moment.astimezone(UTC).date()


def ensure(conn: Connection, days: Iterable[date]) -> None:
    """Make the partitions of `days` that do not exist yet. Each process remembers the ones it
    has seen, so a batch of today's ticks costs no statement; a partition another process made
    at the same moment counts as made."""
    known = _known_in(conn)
    with _known_lock:
        missing = sorted(set(days) - known)
    if missing:
        found = existing(conn)
        with _known_lock:
            known.update(found)
            missing = sorted(set(days) - known)
    for day in missing:
        start = datetime.combine(day, time(), UTC)
        bounds = f"FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
        statement = (
            f"CREATE TABLE IF NOT EXISTS {name_of(day)} PARTITION OF {PARENT} FOR VALUES {bounds}"
        )
        try:
            with conn.begin_nested():
                conn.execute(text(statement))
        except (ProgrammingError, IntegrityError) as exc:  # made at the same moment elsewhere
            if "already exists" not in str(exc.orig) and "duplicate key" not in str(exc.orig):
                raise
        with _known_lock:
            known.add(day)


def existing(conn: Connection) -> list[date]:
    """The days that have a partition, oldest first."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    ).scalars()
    return sorted(
        datetime.strptime(n.removeprefix(_PREFIX), "%Y%m%d").date()
        for n in names
        if n.startswith(_PREFIX)
    )


def drop_before(conn: Connection, before: datetime) -> list[date]:
    """Drop the partitions whose whole day ends at or before `before`; the days dropped."""
    gone = [
        d for d in existing(conn) if datetime.combine(d, time(), UTC) + timedelta(days=1) <= before
    ]
    for day in gone:
        conn.execute(text(f"DROP TABLE IF EXISTS {name_of(day)}"))
    known = _known_in(conn)
    with _known_lock:
        known.difference_update(gone)
    return gone


def _known_in(conn: Connection) -> set[date]:
    """The days known to have partitions in `conn`'s database."""
    with _known_lock:
        return _known.setdefault(str(conn.engine.url), set())
