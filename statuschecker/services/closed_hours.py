"""The dense view's figures from the rollups, read cheaply: what a service's closed hours and
days hold is read once an hour and kept with what its current hour and day hold, and read
again only when its tick count moved.

The recorder adds each check to its service's tick count and to its rollups in one
transaction, so an unchanged tick count means unchanged rollups. When it moved, the current
hour and day are read again with the tick count; a closed hour's rows change too when a check
made in it is recorded late (a check that ran across the hour, results held while the
database was away, another location's poller), and then, and only then, do the checks
recorded before the current hour (`Current.before`) change: the closed part is read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from statuschecker.model import Hourly
from statuschecker.rules.buckets import hour_of
from statuschecker.store import rollups
from statuschecker.store.rollups import Current

_NO_CHECKS = ((0, 0), (0, 0))


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a service's recorded checks give the dense view: its last check's response time,
    its availability over the last 24 hours (whole hours and the current one) and 30 days
    (whole UTC days and today), None without checks, and its last 24 hours."""

    response_time_ms: float | None
    uptime_24h: float | None
    uptime_30d: float | None
    hourly: Hourly


@dataclass(frozen=True, slots=True)
class _Closed:
    day: tuple[int, int]  # (checks, successful) in the 24 hours before the current one
    month: tuple[int, int]  # in the 29 UTC days before today
    hours: Hourly  # the 23 hours before the current one


@dataclass(frozen=True, slots=True)
class _Kept:
    current: Current
    closed: _Closed
    shown: Recorded  # what the two make


class ClosedHours:
    """The services' rollups as last read, kept for the hour they were read in."""

    def __init__(self) -> None:
        self._held: tuple[datetime | None, dict[int, _Kept]] = (None, {})

    def recorded(
        self, conn: Connection, ticks: Mapping[int, int], now: datetime
    ) -> dict[int, Recorded]:
        """What the services of `ticks` (each one's tick count as read with its row) have
        recorded, at `now`.

        1. Services whose tick count is the one kept with them this hour are not read.
        2. The others' current hour and day and last check are read (one statement).
        3. Of those, the ones not kept this hour, or with checks recorded before the current
           hour since they were kept, have their closed part read (two more: sums, hours).
        """
        hour = hour_of(now)
        held, kept = self._held  # one read: the parts and the hour they are of
        if held != hour:
            kept = {}
            self._held = (hour, kept)
        prior = {sid: kept.get(sid) for sid in ticks}
        found = {
            sid: k.shown
            for sid, k in prior.items()
            if k is not None and k.current.ticks == ticks[sid]
        }
        moved = [sid for sid in ticks if sid not in found]
        if not moved:
            return found
        current = rollups.current(conn, moved, now)
        stale = [
            sid
            for sid in moved
            if (k := prior[sid]) is None or k.current.before != current[sid].before
        ]
        closed = self._closed(conn, stale, hour, now) if stale else {}
        for sid in moved:
            k = prior[sid]
            made = _kept(current[sid], closed[sid] if k is None or sid in closed else k.closed)
            kept[sid], found[sid] = made, made.shown
        return found

    @staticmethod
    def _closed(
        conn: Connection, service_ids: list[int], hour: datetime, now: datetime
    ) -> dict[int, _Closed]:
        sums = rollups.closed(conn, service_ids, now)
        hours = rollups.hourly(
            conn, service_ids, hour - timedelta(hours=23), hour - timedelta(hours=1)
        )
        return {sid: _Closed(*sums.get(sid, _NO_CHECKS), hours[sid]) for sid in service_ids}


def _kept(current: Current, closed: _Closed) -> _Kept:
    checks, availability, avg_rt = current.hour
    hourly = Hourly(
        (*closed.hours.checks, checks),
        (*closed.hours.availability_percent, availability),
        (*closed.hours.avg_response_time_ms, avg_rt),
    )
    shown = Recorded(
        current.response_time_ms,
        _percent(closed.day, current.day),
        _percent(closed.month, current.month),
        hourly,
    )
    return _Kept(current, closed, shown)


def _percent(closed: tuple[int, int], current: tuple[int, int]) -> float | None:
    checks, successful = closed[0] + current[0], closed[1] + current[1]
    return 100.0 * successful / checks if checks else None
