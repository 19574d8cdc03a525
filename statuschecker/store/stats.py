"""Aggregates over a service's raw ticks and hourly rollups, and its downtime in a range."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from statuschecker.model import CheckResult
from statuschecker.rules import histogram
from statuschecker.rules.buckets import Source, outcome_of
from statuschecker.store.result_columns import stored_location


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums that add up across raw ticks and rollups alike."""

    checks: int = 0
    successful: int = 0
    rt_count: int = 0
    rt_sum: float = 0.0
    rt_max: float | None = None
    ttfb_count: int = 0
    ttfb_sum: float = 0.0
    ttfb_max: float | None = None
    maintenance_checks: int = 0
    maintenance_successful: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.checks + other.checks,
            self.successful + other.successful,
            self.rt_count + other.rt_count,
            self.rt_sum + other.rt_sum,
            _max(self.rt_max, other.rt_max),
            self.ttfb_count + other.ttfb_count,
            self.ttfb_sum + other.ttfb_sum,
            _max(self.ttfb_max, other.ttfb_max),
            self.maintenance_checks + other.maintenance_checks,
            self.maintenance_successful + other.maintenance_successful,
        )


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


# A part of a range is read from raw ticks or from rollups of 1 or 24 hours, from every location
# (:location NULL) or from one (a tick of the default location stores NULL).

_RANGE = {
    "raw": "checked_at >= :since AND checked_at < :until AND (CAST(:location AS text) IS NULL"
    " OR location IS NOT DISTINCT FROM CAST(:stored_location AS text))",
    "rollup": "bucket_hours = :hours AND bucket_start >= :since AND bucket_start < :until"
    " AND (CAST(:location AS text) IS NULL OR location = :location)",
}

_RAW_TOTALS = text(
    f"""
    SELECT count(*) AS checks,
           count(*) FILTER (WHERE up) AS successful,
           count(response_time_ms) FILTER (WHERE up) AS rt_count,
           coalesce(sum(response_time_ms) FILTER (WHERE up), 0) AS rt_sum,
           max(response_time_ms) FILTER (WHERE up) AS rt_max,
           count(ttfb_ms) FILTER (WHERE up) AS ttfb_count,
           coalesce(sum(ttfb_ms) FILTER (WHERE up), 0) AS ttfb_sum,
           max(ttfb_ms) FILTER (WHERE up) AS ttfb_max,
           count(*) FILTER (WHERE in_maintenance) AS maintenance_checks,
           count(*) FILTER (WHERE in_maintenance AND up) AS maintenance_successful
    FROM service_ticks WHERE service_id = :sid AND {_RANGE["raw"]}
    """
)

_ROLLUP_TOTALS = text(
    f"""
    SELECT coalesce(sum(checks), 0) AS checks,
           coalesce(sum(successful), 0) AS successful,
           coalesce(sum(rt_count), 0) AS rt_count,
           coalesce(sum(rt_sum), 0) AS rt_sum,
           max(rt_max) AS rt_max,
           coalesce(sum(ttfb_count), 0) AS ttfb_count,
           coalesce(sum(ttfb_sum), 0) AS ttfb_sum,
           max(ttfb_max) AS ttfb_max,
           coalesce(sum(maintenance_checks), 0) AS maintenance_checks,
           coalesce(sum(maintenance_successful), 0) AS maintenance_successful
    FROM service_rollups WHERE service_id = :sid AND {_RANGE["rollup"]}
    """
)

_RAW_OUTCOMES = text(
    f"""
    SELECT status_code, error, count(*) AS n FROM service_ticks
    WHERE service_id = :sid AND {_RANGE["raw"]} GROUP BY status_code, error
    """
)

_ROLLUP_OUTCOMES = text(
    f"""
    SELECT outcome, sum(count) AS n FROM service_rollup_outcomes
    WHERE service_id = :sid AND {_RANGE["rollup"]} GROUP BY outcome
    """
)

_RAW_RESPONSE_TIMES = text(
    f"""
    SELECT response_time_ms FROM service_ticks
    WHERE service_id = :sid AND {_RANGE["raw"]} AND up AND response_time_ms IS NOT NULL
    """
)

_ROLLUP_HISTOGRAM = text(
    f"""
    SELECT h.key, sum(h.value::int) AS n
    FROM service_rollups, jsonb_each_text(rt_histogram) AS h
    WHERE service_id = :sid AND {_RANGE["rollup"]} GROUP BY h.key
    """
)

_EXACT_PERCENTILES = text(
    f"""
    SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY response_time_ms)
    FROM service_ticks
    WHERE service_id = :sid AND {_RANGE["raw"]} AND up AND response_time_ms IS NOT NULL
    """
)

# Downtime periods overlapping [since, until), each clipped to the range (an open one ends now);
# the filter on the period's end matches the index ix_service_events_service_end.
_DOWNTIME = text(
    """
    SELECT count(*) AS periods,
           coalesce(sum(extract(epoch FROM
               least(coalesce(date_ended, :now), :until) - greatest(date_started, :since))), 0)
               AS seconds
    FROM service_events
    WHERE service_id = :sid AND event = 'downtime'
      AND coalesce(date_ended, 'infinity'::timestamptz) > :since
      AND date_started < :until AND coalesce(date_ended, :now) > :since
    """
)


def _params(
    source: Source, service_id: int, since: datetime, until: datetime, location: str | None
) -> dict:
    stored = None if location is None else stored_location(location)
    return {
        "sid": service_id,
        "since": since,
        "until": until,
        "hours": source,
        "location": location,
        "stored_location": stored,
    }


def totals(
    conn: Connection,
    source: Source,
    service_id: int,
    since: datetime,
    until: datetime,
    location: str | None = None,
) -> Totals:
    """Sums over raw ticks (`source="raw"`) or rollups of 1 or 24 hours in [since, until)."""
    query = _RAW_TOTALS if source == "raw" else _ROLLUP_TOTALS
    row = conn.execute(query, _params(source, service_id, since, until, location)).one()
    return Totals(**row._mapping)


def outcomes(
    conn: Connection,
    source: Source,
    service_id: int,
    since: datetime,
    until: datetime,
    location: str | None = None,
) -> dict[str, int]:
    """Checks per status code or failure reason in [since, until)."""
    counted: dict[str, int] = defaultdict(int)
    params = _params(source, service_id, since, until, location)
    if source == "raw":
        for row in conn.execute(_RAW_OUTCOMES, params):
            key = outcome_of(CheckResult(up=False, status_code=row.status_code, error=row.error))
            counted[key] += row.n
    else:
        for row in conn.execute(_ROLLUP_OUTCOMES, params):
            counted[row.outcome] += int(row.n)
    return dict(counted)


def response_histogram(
    conn: Connection,
    source: Source,
    service_id: int,
    since: datetime,
    until: datetime,
    location: str | None = None,
) -> dict[int, int]:
    """Successful checks' response times per histogram bucket in [since, until)."""
    params = _params(source, service_id, since, until, location)
    if source == "raw":
        values = conn.execute(_RAW_RESPONSE_TIMES, params).scalars()
        return histogram.merge([histogram.count(values)])
    return {int(row.key): int(row.n) for row in conn.execute(_ROLLUP_HISTOGRAM, params)}


def exact_percentiles(
    conn: Connection, service_id: int, since: datetime, until: datetime, location: str | None = None
) -> tuple[float | None, float | None, float | None]:
    """p50, p95 and p99 of successful checks' response times, from the raw ticks."""
    values = conn.execute(
        _EXACT_PERCENTILES, _params("raw", service_id, since, until, location)
    ).scalar_one()
    if values is None:
        return None, None, None
    return values[0], values[1], values[2]


PHASES = {
    "dns": "dns_ms",
    "connect": "connect_ms",
    "tls": "tls_ms",
    "ttfb": "ttfb_ms",
    "total": "response_time_ms",
}
_PHASES = text(
    "SELECT "
    + ", ".join(
        f"avg({column}) AS {name}_avg, "
        f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {column}) AS {name}_p95"
        for name, column in PHASES.items()
    )
    + f" FROM service_ticks WHERE service_id = :sid AND {_RANGE['raw']} AND up"
)


def phases(
    conn: Connection, service_id: int, since: datetime, until: datetime, location: str | None = None
) -> dict[str, dict[str, float | None]]:
    """Average and p95 of each timing phase of successful checks, from the raw ticks."""
    row = conn.execute(_PHASES, _params("raw", service_id, since, until, location)).one()._mapping
    return {name: {"avg": row[f"{name}_avg"], "p95": row[f"{name}_p95"]} for name in PHASES}


_STEPS = text(
    "SELECT s.n, s.step->>'name' AS name, count(*) AS runs,"
    " count(*) FILTER (WHERE NOT (s.step->>'up')::boolean) AS failed,"
    " avg((s.step->>'response_time_ms')::float8) FILTER (WHERE (s.step->>'up')::boolean) AS avg,"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY (s.step->>'response_time_ms')::float8)"
    " FILTER (WHERE (s.step->>'up')::boolean) AS p95"
    " FROM service_ticks, jsonb_array_elements(steps::jsonb) WITH ORDINALITY AS s(step, n)"
    f" WHERE service_id = :sid AND {_RANGE['raw']} AND steps IS NOT NULL"
    " GROUP BY s.n, name ORDER BY s.n, runs DESC"
)


def steps(
    conn: Connection, service_id: int, since: datetime, until: datetime, location: str | None = None
) -> list[dict[str, Any]]:
    """Each journey step's runs, failures, and average and p95 response time of its successful
    runs, in the journey's order, from the raw ticks (empty for other kinds)."""
    rows = conn.execute(_STEPS, _params("raw", service_id, since, until, location))
    return [
        {"name": r.name, "runs": r.runs, "failed": r.failed, "avg": r.avg, "p95": r.p95}
        for r in rows
    ]


def downtime(
    conn: Connection, service_id: int, since: datetime, until: datetime, now: datetime
) -> tuple[float, int]:
    """Seconds of downtime in [since, until) and how many downtime periods touch it."""
    row = conn.execute(
        _DOWNTIME, {**_params("raw", service_id, since, until, None), "now": now}
    ).one()
    return float(row.seconds), int(row.periods)
