"""Pruning raw ticks and heartbeats' pings past their retention; the hourly rollups keep the
history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import structlog
from sqlalchemy import Engine

from statuschecker.store import heartbeats, partitions
from statuschecker.store.history import mark_pruned

log = structlog.get_logger(__name__)


def prune(engine: Engine, retention: timedelta, now: datetime | None = None) -> list[date]:
    """Drop the daily partitions of raw ticks whose whole day is older than `retention`, so the
    ticks kept reach back at least `retention` (up to a day more), and make the partitions of
    today and tomorrow, so that recording seldom has to; heartbeats' pings older than the
    ticks kept go too. Returns the days dropped."""
    now = now or datetime.now(UTC)
    before = datetime.combine(partitions.day_of(now - retention), time(), UTC)
    with engine.begin() as conn:
        mark_pruned(conn, before)
        dropped = partitions.drop_before(conn, before)
        pings = heartbeats.prune(conn, before)
        partitions.ensure(
            conn, [partitions.day_of(now), partitions.day_of(now + timedelta(days=1))]
        )
    if dropped or pings:
        days = [d.isoformat() for d in dropped]
        log.info("ticks.pruned", days=days, pings=pings, before=before.isoformat())
    return dropped
