"""Pruning raw ticks past their retention; the hourly rollups keep the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from statuschecker.store.history import prune_ticks
from statuschecker.store.rollups import hour_of

log = structlog.get_logger(__name__)

PRUNE_BATCH = 10_000


def prune(engine: Engine, retention: timedelta, now: datetime | None = None) -> int:
    """Delete ticks older than `retention` (to the whole hour) in short transactions, so
    recording is never held up for long; return how many went."""
    before = hour_of((now or datetime.now(UTC)) - retention)
    total = 0
    while True:
        with engine.begin() as conn:
            deleted = prune_ticks(conn, before, PRUNE_BATCH)
        total += deleted
        if deleted < PRUNE_BATCH:
            break
    if total:
        log.info("ticks.pruned", count=total, before=before.isoformat())
    return total
