"""Windowed statistics of one service, from raw ticks where they are kept and exact, and from
hourly rollups where the range is long or the ticks were pruned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection

from statuschecker.rules import buckets, histogram, maintenance
from statuschecker.rules.buckets import Part, hour_of
from statuschecker.rules.maintenance import Schedule
from statuschecker.store import stats as queries
from statuschecker.store.history import pruned_before

SUMMARY_WINDOWS = {
    "10m": timedelta(minutes=10),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "365d": timedelta(days=365),
}


@dataclass(frozen=True, slots=True)
class Stats:
    """What a range of checks adds up to. Response-time figures cover successful checks."""

    since: datetime
    until: datetime
    checks: int
    successful: int
    availability_percent: float | None
    response_time_ms: dict[str, float | None]
    ttfb_ms: dict[str, float | None]
    status_codes: dict[str, int]
    downtime_seconds: float | None  # None from one location: downtime is the vote's
    downtime_periods: int | None
    percentiles: Literal["exact", "estimated"]
    phases_ms: dict[str, dict[str, float | None]]
    steps_ms: list[dict[str, Any]] = field(default_factory=list)  # a journey's, when exact
    sla_availability_percent: float | None = None  # of the checks outside maintenance
    maintenance_seconds: float = 0.0  # of the range, covered by maintenance windows

    @property
    def failed(self) -> int:
        """Checks that did not succeed."""
        return self.checks - self.successful


def compute(
    conn: Connection,
    service_id: int,
    since: datetime,
    until: datetime,
    now: datetime,
    retention: timedelta,
    schedules: Sequence[Schedule] = (),
    location: str | None = None,
) -> Stats:
    """Statistics of [since, until), of the checks from every location or from `location`
    only. Downtime is decided over all of a service's locations, so it is not reported for one.

    Raw ticks count as complete from the later of the retention's cut-off and the point up to
    which ticks were actually pruned (so a range is right even if ticks were pruned under
    another retention setting).

    1. A range of at most 24 h whose ticks are all still kept is computed from the raw ticks,
       percentiles (exact) and timing phases included.
    2. Otherwise whole days come from the daily rollups, whole hours around them from the
       hourly ones, and the partial hours at either end from raw ticks; an end hour whose
       ticks were already pruned is taken whole from its rollup, so the range reported widens
       to that hour. Percentiles are estimated from the merged histograms (within 10 %);
       timing phases are not reported (None).
    """
    cutoff, pruned = hour_of(now - retention), pruned_before(conn)
    horizon = cutoff if pruned is None else max(cutoff, pruned)
    planned = buckets.plan(since, until, horizon)
    found = _from_parts(
        conn, service_id, planned.parts, planned.since, planned.until, now, planned.exact, location
    )
    covered = maintenance.covered_seconds(schedules, found.since, min(found.until, now))
    return replace(found, maintenance_seconds=covered)


def _from_parts(
    conn: Connection,
    service_id: int,
    parts: list[Part],
    since: datetime,
    until: datetime,
    now: datetime,
    exact: bool,
    location: str | None,
) -> Stats:
    totals = queries.Totals()
    codes: dict[str, int] = {}
    for source, start, end in parts:
        totals = totals + queries.totals(conn, source, service_id, start, end, location)
        for key, n in queries.outcomes(conn, source, service_id, start, end, location).items():
            codes[key] = codes.get(key, 0) + n
    phases: dict[str, dict[str, float | None]] = {
        name: {"avg": None, "p95": None} for name in queries.PHASES
    }
    steps: list[dict[str, Any]] = []
    if exact:
        p50, p95, p99 = queries.exact_percentiles(conn, service_id, since, until, location)
        phases = queries.phases(conn, service_id, since, until, location)
        steps = queries.steps(conn, service_id, since, until, location)
    else:
        merged = histogram.merge(
            queries.response_histogram(conn, source, service_id, start, end, location)
            for source, start, end in parts
        )
        p50, p95, p99 = (histogram.quantile(merged, q, totals.rt_max) for q in (0.5, 0.95, 0.99))
    down_seconds: float | None = None
    down_periods: int | None = None
    if location is None:
        down_seconds, down_periods = queries.downtime(conn, service_id, since, until, now)
    return Stats(
        since=since,
        until=until,
        checks=totals.checks,
        successful=totals.successful,
        availability_percent=_percent(totals.successful, totals.checks),
        sla_availability_percent=_percent(
            totals.successful - totals.maintenance_successful,
            totals.checks - totals.maintenance_checks,
        ),
        response_time_ms={
            "avg": totals.rt_sum / totals.rt_count if totals.rt_count else None,
            "max": totals.rt_max,
            "p50": p50,
            "p95": p95,
            "p99": p99,
        },
        ttfb_ms={
            "avg": totals.ttfb_sum / totals.ttfb_count if totals.ttfb_count else None,
            "max": totals.ttfb_max,
        },
        status_codes=codes,
        downtime_seconds=down_seconds,
        downtime_periods=down_periods,
        percentiles="exact" if exact else "estimated",
        phases_ms=phases,
        steps_ms=steps,
    )


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None
