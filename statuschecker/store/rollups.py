"""Hourly rollups of ticks: written with the ticks, read for long ranges and uptime."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from statuschecker import histogram
from statuschecker.model import Bucket, CheckOutcome, CheckResult, Uptime

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRANULARITIES = (1, 24)  # hours per bucket: hourly and daily rollups

_UPSERT_ROLLUP = text(
    """
    INSERT INTO service_rollups AS r (service_id, bucket_hours, bucket_start, checks, successful,
        rt_count, rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max, rt_histogram)
    VALUES (:service_id, :bucket_hours, :bucket_start, :checks, :successful, :rt_count, :rt_sum,
        :rt_max, :ttfb_count, :ttfb_sum, :ttfb_max, CAST(:rt_histogram AS jsonb))
    ON CONFLICT (service_id, bucket_hours, bucket_start) DO UPDATE SET
        checks = r.checks + excluded.checks,
        successful = r.successful + excluded.successful,
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

_UPSERT_OUTCOME = text(
    """
    INSERT INTO service_rollup_outcomes AS o (service_id, bucket_hours, bucket_start, outcome,
        count)
    VALUES (:service_id, :bucket_hours, :bucket_start, :outcome, :count)
    ON CONFLICT (service_id, bucket_hours, bucket_start, outcome)
    DO UPDATE SET count = o.count + excluded.count
    """
)


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_of(moment: datetime, hours: int) -> datetime:
    """The start of the hourly (1) or daily (24, UTC) bucket `moment` falls in."""
    start = hour_of(moment.astimezone(UTC))
    return start.replace(hour=0) if hours == 24 else start


def outcome_of(result: CheckResult) -> str:
    """How a check ended, for counting: its status code, or the reason when no response came
    (`timeout`, `connection refused`, `DNS failure`, ...)."""
    if result.status_code is not None:
        return str(result.status_code)
    reason = (result.error or "unknown").split(":")[0].split(" (")[0].strip()
    return reason[:64] or "unknown"


@dataclass
class _Bucket:
    checks: int = 0
    successful: int = 0
    rt: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def add(conn: Connection, outcomes: list[CheckOutcome]) -> None:
    """Fold outcomes into their services' hourly and daily rollups (one upsert per service and
    bucket)."""
    buckets: dict[tuple[int, int, datetime], _Bucket] = defaultdict(_Bucket)
    for outcome in outcomes:
        result = outcome.result
        key = outcome_of(result)
        for hours in GRANULARITIES:
            bucket = buckets[(outcome.service_id, hours, bucket_of(outcome.checked_at, hours))]
            bucket.checks += 1
            bucket.outcomes[key] += 1
            if result.up:
                bucket.successful += 1
                if result.response_time_ms is not None:
                    bucket.rt.append(result.response_time_ms)
                if result.ttfb_ms is not None:
                    bucket.ttfb.append(result.ttfb_ms)
    rows = [
        {
            "service_id": service_id,
            "bucket_hours": hours,
            "bucket_start": start,
            "checks": b.checks,
            "successful": b.successful,
            "rt_count": len(b.rt),
            "rt_sum": sum(b.rt),
            "rt_max": max(b.rt, default=None),
            "ttfb_count": len(b.ttfb),
            "ttfb_sum": sum(b.ttfb),
            "ttfb_max": max(b.ttfb, default=None),
            "rt_histogram": json.dumps(histogram.count(b.rt)),
        }
        for (service_id, hours, start), b in sorted(buckets.items())
    ]
    conn.execute(_UPSERT_ROLLUP, rows)
    conn.execute(
        _UPSERT_OUTCOME,
        [
            {
                "service_id": sid,
                "bucket_hours": hours,
                "bucket_start": start,
                "outcome": outcome,
                "count": n,
            }
            for (sid, hours, start), b in sorted(buckets.items())
            for outcome, n in sorted(b.outcomes.items())
        ],
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


_SERIES = text(
    """
    SELECT bucket_start, checks, successful, rt_count, rt_sum, rt_max
    FROM service_rollups
    WHERE service_id = :service_id AND bucket_hours = :hours AND bucket_start >= :since
    """
)


def series(
    conn: Connection, service_id: int, hours: int, count: int, now: datetime
) -> list[Bucket]:
    """The last `count` hourly (1) or daily (24) buckets of a service up to the one `now` falls
    in, oldest first; a bucket without checks has zeros and no figures."""
    last = bucket_of(now, hours)
    starts = [last - timedelta(hours=hours * back) for back in range(count - 1, -1, -1)]
    rows = conn.execute(_SERIES, {"service_id": service_id, "hours": hours, "since": starts[0]})
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


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
