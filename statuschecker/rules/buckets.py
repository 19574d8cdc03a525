"""Time buckets: the hourly and daily (UTC) buckets that rollups count checks in, how a check
is counted in them, and which sources answer a statistics range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from statuschecker.model import CheckResult
from statuschecker.rules import heartbeats

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRANULARITIES = (1, 24)  # hours per bucket: hourly and daily rollups
EXACT_LIMIT = timedelta(hours=24)
"""The longest range answered from raw ticks alone, with exact percentiles."""

Source = Literal["raw", 1, 24]
"""Where a part of a range is read: raw ticks, hourly or daily rollups."""
Part = tuple[Source, datetime, datetime]


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_of(moment: datetime, hours: int) -> datetime:
    """The start of the hourly (1) or daily (24, UTC) bucket `moment` falls in."""
    start = hour_of(moment.astimezone(UTC))
    return start.replace(hour=0) if hours == 24 else start


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    """The first hour (or UTC day) boundary at or after `moment`."""
    start = bucket_of(moment, 24 if step == DAY else 1)
    return start if start == moment else start + step


def outcome_of(result: CheckResult) -> str:
    """How a check ended, for counting: its status code, or the reason when no response came
    (`timeout`, `connection refused`, `DNS failure`, ...), or what a heartbeat's failure
    counts as (`late`, `ran too long`, ...; `heartbeats.outcome`)."""
    if result.status_code is not None:
        return str(result.status_code)
    error = result.error or "unknown"
    reason = heartbeats.outcome(error) or error.split(":")[0].split(" (")[0].strip()
    return reason[:64] or "unknown"


@dataclass(frozen=True, slots=True)
class Plan:
    """How to answer a range: its parts and the range they cover (which an end hour whose
    ticks were pruned widens), and whether it is exact (raw ticks only)."""

    parts: list[Part]
    since: datetime
    until: datetime
    exact: bool


def plan(since: datetime, until: datetime, horizon: datetime) -> Plan:
    """The parts that answer [since, until) when raw ticks are complete from `horizon` on.

    1. A range of at most 24 h whose ticks are all still kept is read from the raw ticks.
    2. Otherwise whole days come from the daily rollups, whole hours around them from the
       hourly ones, and the partial hours at either end from raw ticks; an end hour whose
       ticks were already pruned is taken whole from its rollup, so the range widens to it.
    """
    if since >= horizon and until - since <= EXACT_LIMIT:
        return Plan([("raw", since, until)], since, until, True)
    first, last = ceil_to(since, HOUR), hour_of(until)
    if first > last:  # both ends inside one hour
        first = last
    parts: list[Part] = []
    if since < first:
        if hour_of(since) >= horizon:
            parts.append(("raw", since, first))
        else:
            since = first = hour_of(since)
    if last < until:
        if last >= horizon:
            parts.append(("raw", last, until))
        else:
            until = last = last + HOUR
    return Plan(parts + whole_hours(first, last), since, until, False)


def whole_hours(first: datetime, last: datetime) -> list[Part]:
    """[first, last), on hour boundaries, as daily rollups where whole UTC days fit and hourly
    rollups around them."""
    if first >= last:
        return []
    day_first, day_last = ceil_to(first, DAY), bucket_of(last, 24)
    if day_first >= day_last:
        return [(1, first, last)]
    parts: list[Part] = [(24, day_first, day_last)]
    if first < day_first:
        parts.append((1, first, day_first))
    if day_last < last:
        parts.append((1, day_last, last))
    return parts
