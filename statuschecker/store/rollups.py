"""Hourly rollups of ticks: written with the ticks, read for long ranges and uptime."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from statuschecker.model import Bucket, CheckOutcome, Hourly, Uptime
from statuschecker.rules import histogram
from statuschecker.rules.buckets import GRANULARITIES, bucket_of, hour_of, outcome_of
from statuschecker.store.arrays import column, floats

# One row per (service, granularity, bucket, location) of the batch, added to what the bucket
# holds; the sparse histograms are merged key by key.
_UPSERT_ROLLUPS = text(
    """
    INSERT INTO service_rollups AS r (service_id, bucket_hours, bucket_start, location, checks,
        successful, rt_count, rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max, rt_histogram,
        maintenance_checks, maintenance_successful)
    SELECT service_id, bucket_hours, bucket_start, location, checks, successful, rt_count, rt_sum,
           rt_max, ttfb_count, ttfb_sum, ttfb_max, CAST(rt_histogram AS jsonb),
           maintenance_checks, maintenance_successful
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:bucket_hours AS smallint[]),
                CAST(:bucket_start AS timestamptz[]), CAST(:location AS text[]),
                CAST(:checks AS integer[]),
                CAST(:successful AS integer[]), CAST(:rt_count AS integer[]),
                CAST(:rt_sum AS float8[]), CAST(:rt_max AS float8[]),
                CAST(:ttfb_count AS integer[]), CAST(:ttfb_sum AS float8[]),
                CAST(:ttfb_max AS float8[]), CAST(:rt_histogram AS text[]),
                CAST(:maintenance_checks AS integer[]), CAST(:maintenance_successful AS integer[]))
         AS d(service_id, bucket_hours, bucket_start, location, checks, successful, rt_count,
              rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max, rt_histogram, maintenance_checks,
              maintenance_successful)
    ON CONFLICT (service_id, bucket_hours, bucket_start, location) DO UPDATE SET
        checks = r.checks + excluded.checks,
        successful = r.successful + excluded.successful,
        maintenance_checks = r.maintenance_checks + excluded.maintenance_checks,
        maintenance_successful = r.maintenance_successful + excluded.maintenance_successful,
        rt_count = r.rt_count + excluded.rt_count,
        rt_sum = r.rt_sum + excluded.rt_sum,
        rt_max = greatest(r.rt_max, excluded.rt_max),
        ttfb_count = r.ttfb_count + excluded.ttfb_count,
        ttfb_sum = r.ttfb_sum + excluded.ttfb_sum,
        ttfb_max = greatest(r.ttfb_max, excluded.ttfb_max),
        rt_histogram = (
            SELECT coalesce(jsonb_object_agg(k, coalesce((r.rt_histogram ->> k)::int, 0)
                                               + coalesce((excluded.rt_histogram ->> k)::int, 0)),
                            '{}'::jsonb)
            FROM jsonb_object_keys(r.rt_histogram || excluded.rt_histogram) AS k
        )
    """
)

# One row per (service, granularity, bucket, location, outcome) of the batch, added to its count.
_UPSERT_OUTCOMES = text(
    """
    INSERT INTO service_rollup_outcomes AS o (service_id, bucket_hours, bucket_start, location,
        outcome, count)
    SELECT * FROM unnest(CAST(:service_id AS bigint[]), CAST(:bucket_hours AS smallint[]),
                         CAST(:bucket_start AS timestamptz[]), CAST(:location AS text[]),
                         CAST(:outcome AS text[]), CAST(:count AS integer[]))
    ON CONFLICT (service_id, bucket_hours, bucket_start, location, outcome)
    DO UPDATE SET count = o.count + excluded.count
    """
)


@dataclass
class _Bucket:
    checks: int = 0
    successful: int = 0
    maintenance_checks: int = 0
    maintenance_successful: int = 0
    rt: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def add(conn: Connection, outcomes: list[CheckOutcome]) -> None:
    """Fold outcomes into their services' hourly and daily rollups.

    1. Sum the outcomes per service, bucket and location here (a bucket appears once per
       statement, as ON CONFLICT requires).
    2. Upsert every bucket of the batch, both granularities, in one statement.
    3. Upsert every bucket's outcome counts in one statement.
    """
    buckets: dict[tuple[int, int, datetime, str], _Bucket] = defaultdict(_Bucket)
    for outcome in outcomes:
        result = outcome.result
        key = outcome_of(result)
        for hours in GRANULARITIES:
            start = bucket_of(outcome.checked_at, hours)
            bucket = buckets[(outcome.service_id, hours, start, outcome.location)]
            bucket.checks += 1
            bucket.outcomes[key] += 1
            bucket.maintenance_checks += outcome.in_maintenance
            if result.up:
                bucket.successful += 1
                bucket.maintenance_successful += outcome.in_maintenance
                if result.response_time_ms is not None:
                    bucket.rt.append(result.response_time_ms)
                if result.ttfb_ms is not None:
                    bucket.ttfb.append(result.ttfb_ms)
    if not buckets:
        return
    keys = sorted(buckets)
    filled = [buckets[key] for key in keys]
    conn.execute(
        _UPSERT_ROLLUPS,
        {
            "service_id": column(key[0] for key in keys),
            "bucket_hours": column(key[1] for key in keys),
            "bucket_start": column(key[2] for key in keys),
            "location": column(key[3] for key in keys),
            "checks": column(b.checks for b in filled),
            "successful": column(b.successful for b in filled),
            "maintenance_checks": column(b.maintenance_checks for b in filled),
            "maintenance_successful": column(b.maintenance_successful for b in filled),
            "rt_count": column(len(b.rt) for b in filled),
            "rt_sum": floats(sum(b.rt) for b in filled),
            "rt_max": floats(max(b.rt, default=None) for b in filled),
            "ttfb_count": column(len(b.ttfb) for b in filled),
            "ttfb_sum": floats(sum(b.ttfb) for b in filled),
            "ttfb_max": floats(max(b.ttfb, default=None) for b in filled),
            "rt_histogram": column(json.dumps(histogram.count(b.rt)) for b in filled),
        },
    )
    counted = [
        (key, outcome, n)
        for key, b in zip(keys, filled, strict=True)
        for outcome, n in sorted(b.outcomes.items())
    ]
    conn.execute(
        _UPSERT_OUTCOMES,
        {
            "service_id": column(key[0] for key, _, _ in counted),
            "bucket_hours": column(key[1] for key, _, _ in counted),
            "bucket_start": column(key[2] for key, _, _ in counted),
            "location": column(key[3] for key, _, _ in counted),
            "outcome": column(outcome for _, outcome, _ in counted),
            "count": column(n for _, _, n in counted),
        },
    )


_UPTIME = text(
    """
    SELECT service_id,
           100.0 * sum(successful) FILTER (WHERE bucket_start >= :day)
                 / nullif(sum(checks) FILTER (WHERE bucket_start >= :day), 0) AS day,
           100.0 * sum(successful) FILTER (WHERE bucket_start >= :week)
                 / nullif(sum(checks) FILTER (WHERE bucket_start >= :week), 0) AS week,
           100.0 * sum(successful) / nullif(sum(checks), 0) AS month
    FROM service_rollups
    WHERE service_id = ANY(:ids) AND bucket_hours = 1 AND bucket_start >= :month
    GROUP BY service_id
    """
)


def uptime(conn: Connection, service_ids: list[int], now: datetime) -> dict[int, Uptime]:
    """Availability over the last 24 h, 7 d and 30 d from the rollups, for each service; the
    windows start at the top of the hour they begin in."""
    start = hour_of(now)
    rows = conn.execute(
        _UPTIME,
        {
            "ids": service_ids,
            "day": start - timedelta(hours=24),
            "week": start - timedelta(days=7),
            "month": start - timedelta(days=30),
        },
    )
    found = {
        row.service_id: Uptime(_float(row.day), _float(row.week), _float(row.month)) for row in rows
    }
    return {sid: found.get(sid, Uptime(None, None, None)) for sid in service_ids}


# A bucket's rows over every location (:location NULL) or one location's.
_SERIES = text(
    """
    SELECT bucket_start, sum(checks) AS checks, sum(successful) AS successful,
           sum(rt_count) AS rt_count, sum(rt_sum) AS rt_sum, max(rt_max) AS rt_max
    FROM service_rollups
    WHERE service_id = :service_id AND bucket_hours = :hours AND bucket_start >= :since
      AND (CAST(:location AS text) IS NULL OR location = :location)
    GROUP BY bucket_start
    """
)


def series(
    conn: Connection,
    service_id: int,
    hours: int,
    count: int,
    now: datetime,
    location: str | None = None,
) -> list[Bucket]:
    """The last `count` hourly (1) or daily (24) buckets of a service up to the one `now` falls
    in, oldest first, from every location or from `location`; a bucket without checks has
    zeros and no figures."""
    last = bucket_of(now, hours)
    starts = [last - timedelta(hours=hours * back) for back in range(count - 1, -1, -1)]
    params = {"service_id": service_id, "hours": hours, "since": starts[0], "location": location}
    rows = conn.execute(_SERIES, params)
    found = {row.bucket_start: row for row in rows}
    buckets = []
    for start in starts:
        row = found.get(start)
        if row is None:
            buckets.append(Bucket(start, 0, 0, None, None))
            continue
        average = row.rt_sum / row.rt_count if row.rt_count else None
        buckets.append(Bucket(start, row.checks, row.successful, average, row.rt_max))
    return buckets


@dataclass(frozen=True, slots=True)
class Current:
    """A service's rollups from the current hour on, with its tick count and its last check's
    response time read in the same snapshot: checks and successful ones of its hourly rows
    (for the 24 hours) and of its daily rows from today on (for the 30 days), and the current
    hour as `hourly` shows it."""

    ticks: int
    day: tuple[int, int]
    month: tuple[int, int]
    hour: tuple[int, float | None, float | None]
    response_time_ms: float | None  # None when it got no response, or was never checked

    @property
    def before(self) -> int:
        """The service's checks recorded before the current hour. The recorder adds each
        check to the tick count and to the rollups in one transaction, so this changes
        exactly when a row of a closed hour or day does."""
        return self.ticks - self.day[0]


# The last tick is found by `last_checked_at`, so each lookup visits one day's partition.
_CURRENT = text(
    """
    SELECT s.id, coalesce(m.tick_count, 0) AS ticks, last.response_time_ms,
           coalesce(sum(b.checks) FILTER (WHERE b.hourly), 0)::bigint AS day_checks,
           coalesce(sum(b.successful) FILTER (WHERE b.hourly), 0)::bigint AS day_successful,
           coalesce(sum(b.checks) FILTER (WHERE NOT b.hourly), 0)::bigint AS month_checks,
           coalesce(sum(b.successful) FILTER (WHERE NOT b.hourly), 0)::bigint AS month_successful,
           coalesce(max(b.checks) FILTER (WHERE b.this_hour), 0) AS checks,
           max(b.availability) FILTER (WHERE b.this_hour) AS availability,
           max(b.avg_rt) FILTER (WHERE b.this_hour) AS avg_rt
    FROM unnest(CAST(:ids AS bigint[])) AS s(id)
    LEFT JOIN service_metrics m ON m.service_id = s.id
    LEFT JOIN LATERAL (
        SELECT t.response_time_ms FROM service_ticks t
        WHERE t.service_id = s.id AND t.checked_at = m.last_checked_at
        ORDER BY t.id DESC LIMIT 1
    ) last ON true
    LEFT JOIN (
        SELECT service_id, bucket_hours = 1 AS hourly,
               bucket_hours = 1 AND bucket_start = :hour AS this_hour, sum(checks) AS checks,
               sum(successful) AS successful,
               round(100.0 * sum(successful) / nullif(sum(checks), 0), 2)::float8 AS availability,
               round((sum(rt_sum) / nullif(sum(rt_count), 0))::numeric, 2)::float8 AS avg_rt
        FROM service_rollups
        WHERE service_id = ANY(:ids)
          AND ((bucket_hours = 1 AND bucket_start >= :hour)
               OR (bucket_hours = 24 AND bucket_start >= :today))
        GROUP BY service_id, bucket_hours, bucket_start
    ) b ON b.service_id = s.id
    GROUP BY s.id, m.tick_count, last.response_time_ms
    """
)


def current(conn: Connection, service_ids: list[int], now: datetime) -> dict[int, Current]:
    """Each service's rollups from the hour `now` falls in (and its UTC day) on."""
    params = {"ids": column(service_ids), "hour": hour_of(now), "today": bucket_of(now, 24)}
    return {
        row.id: Current(
            row.ticks,
            (row.day_checks, row.day_successful),
            (row.month_checks, row.month_successful),
            (row.checks, row.availability, row.avg_rt),
            row.response_time_ms,
        )
        for row in conn.execute(_CURRENT, params)
    }


_CLOSED = text(
    """
    SELECT service_id,
           coalesce(sum(checks) FILTER (WHERE bucket_hours = 1), 0)::bigint AS day_checks,
           coalesce(sum(successful) FILTER (WHERE bucket_hours = 1), 0)::bigint AS day_successful,
           coalesce(sum(checks) FILTER (WHERE bucket_hours = 24), 0)::bigint AS month_checks,
           coalesce(sum(successful) FILTER (WHERE bucket_hours = 24), 0)::bigint
             AS month_successful
    FROM service_rollups
    WHERE service_id = ANY(:ids)
      AND ((bucket_hours = 1 AND bucket_start >= :day AND bucket_start < :hour)
           OR (bucket_hours = 24 AND bucket_start >= :month AND bucket_start < :today))
    GROUP BY service_id
    """
)


def closed(
    conn: Connection, service_ids: list[int], now: datetime
) -> dict[int, tuple[tuple[int, int], tuple[int, int]]]:
    """Each service's checks and successful ones in the 24 hours before the one `now` falls
    in, and in the 29 UTC days before its day (services without any are left out)."""
    hour, today = hour_of(now), bucket_of(now, 24)
    params = {
        "ids": column(service_ids),
        "day": hour - timedelta(hours=24),
        "hour": hour,
        "month": today - timedelta(days=29),
        "today": today,
    }
    return {
        row.service_id: (
            (row.day_checks, row.day_successful),
            (row.month_checks, row.month_successful),
        )
        for row in conn.execute(_CLOSED, params)
    }


_HOURLY = text(
    """
    SELECT s.id,
           array_agg(coalesce(r.checks, 0) ORDER BY h.start) AS checks,
           array_agg(round(100.0 * r.successful / nullif(r.checks, 0), 2)::float8
                     ORDER BY h.start) AS availability,
           array_agg(round(r.avg_rt::numeric, 2)::float8 ORDER BY h.start) AS avg_rt
    FROM unnest(CAST(:ids AS bigint[])) AS s(id)
    CROSS JOIN generate_series(CAST(:since AS timestamptz), CAST(:last AS timestamptz),
                               interval '1 hour') AS h(start)
    LEFT JOIN (
        SELECT service_id, bucket_start, sum(checks) AS checks, sum(successful) AS successful,
               sum(rt_sum) / nullif(sum(rt_count), 0) AS avg_rt
        FROM service_rollups
        WHERE service_id = ANY(:ids) AND bucket_hours = 1 AND bucket_start >= :since
              AND bucket_start <= :last
        GROUP BY service_id, bucket_start
    ) r ON r.service_id = s.id AND r.bucket_start = h.start
    GROUP BY s.id
    """
)


def hourly(
    conn: Connection, service_ids: list[int], since: datetime, last: datetime
) -> dict[int, Hourly]:
    """Each service's hours from the one starting at `since` to the one starting at `last`,
    oldest first, for sparklines: checks (0 for an hour without), availability and average
    response time in ms (None for an hour without), to a hundredth; one row a service, made
    in the database."""
    params = {"ids": column(service_ids), "since": since, "last": last}
    return {
        row.id: Hourly(tuple(row.checks), tuple(row.availability), tuple(row.avg_rt))
        for row in conn.execute(_HOURLY, params)
    }


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
