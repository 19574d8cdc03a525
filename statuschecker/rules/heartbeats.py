"""Heartbeat rules: a heartbeat service reports in by itself, and these decide when its next
ping is due, when it is late and why, and whether a finished or started run is down. Pure: no
database, no clock, no I/O; times in and out are aware UTC datetimes."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from statuschecker.timefmt import duration, rfc3339

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
MAX_RUNS = 100  # runs a heartbeat keeps open at once; a start beyond it forgets the oldest
PingKind = Literal["start", "success", "fail"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatSchedule:
    """When pings are expected: every `interval_seconds`, or at the times of a 5-field `cron`
    expression read on the wall clock of `timezone` (UTC if unset); late after `grace_seconds`
    more. The optional limits judge runs: longer than `max_duration_seconds` or shorter than
    `min_duration_seconds` (start to finish), closer than `min_gap_seconds` to the previous
    success, or started and unfinished for `start_grace_seconds` (else `max_duration_seconds`)."""

    grace_seconds: int
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str | None = None
    max_duration_seconds: int | None = None
    min_duration_seconds: int | None = None
    min_gap_seconds: int | None = None
    start_grace_seconds: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The schedule as stored and shown."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> HeartbeatSchedule:
        """A schedule as `to_json` wrote it."""
        return cls(**value)


def validate(schedule: HeartbeatSchedule) -> None:
    """Raise ValueError naming, in a user's words, the first thing wrong with `schedule`.

    A 5-field cron expression cannot fire more than once a minute, so there is no lower bound
    to check on it; seconds and years (6 or 7 fields, which croniter would accept) are refused.
    """
    if (schedule.interval_seconds is None) == (schedule.cron is None):
        raise ValueError("a heartbeat needs either interval_seconds or cron, not both or neither")
    if schedule.timezone is not None and schedule.cron is None:
        raise ValueError("timezone applies to a cron schedule only")
    for name, least in (
        ("interval_seconds", 1),
        ("grace_seconds", 0),
        ("max_duration_seconds", 1),
        ("min_duration_seconds", 0),
        ("min_gap_seconds", 0),
        ("start_grace_seconds", 1),
    ):
        value = getattr(schedule, name)
        if value is not None and value < least:
            must = "positive" if least else "0 or more"
            raise ValueError(f"{name} must be {must}, not {value}")
    low, high = schedule.min_duration_seconds, schedule.max_duration_seconds
    if low is not None and high is not None and low >= high:
        raise ValueError(
            f"min_duration_seconds ({low}) must be less than max_duration_seconds ({high})"
        )
    if schedule.cron is not None:
        zone = _zone(schedule.timezone)
        _check_cron(schedule.cron, zone)


def next_due(schedule: HeartbeatSchedule, after: datetime) -> datetime:
    """When the next ping is due after a success at `after`.

    1. An interval schedule: `after` plus the interval.
    2. A cron schedule: the first occurrence strictly after `after` on the wall clock of the
       schedule's zone, in UTC. `0 3 * * *` in Europe/Berlin is 02:00Z in winter, 01:00Z in
       summer.
    3. A time the clock skips (spring forward: 02:30 in Berlin on the last Sunday of March) is
       due when the gap ends, at 03:00 local (croniter's answer).
    4. A time the clock repeats (fall back: 02:30 in Berlin on the last Sunday of October) is
       due once, the first time, when its minute and hour fields name fixed values (`30 2`);
       when either starts with `*` (`*/15 * * * *`, `0 */2 * * *`) it is due in both passes.
       Points 3 and 4 are how Vixie cron and cronie run jobs across the change.
    """
    if schedule.cron is None:
        assert schedule.interval_seconds is not None
        return after + timedelta(seconds=schedule.interval_seconds)
    zone = _zone(schedule.timezone)
    minute, hour = schedule.cron.split()[:2]
    fixed_time = not (minute.startswith("*") or hour.startswith("*"))
    occurrences = croniter(schedule.cron, after.astimezone(zone))
    while True:
        due: datetime = occurrences.get_next(datetime)
        if not (fixed_time and _second_pass(due, zone)):
            return due.astimezone(UTC)


def late_at(schedule: HeartbeatSchedule, due: datetime) -> datetime:
    """When a heartbeat whose next ping is due at `due` is late without it: plus the grace."""
    return due + timedelta(seconds=schedule.grace_seconds)


def lateness_reason(last_ping: datetime | None, due: datetime, now: datetime) -> str:
    """Why a late service is down: `no ping for 7m 12s (due at 2026-12-06T14:03:00Z)`, or `no
    ping yet (due at ...)` if no run ever finished."""
    at = rfc3339(due.replace(microsecond=0))
    if last_ping is None:
        return f"no ping yet (due at {at})"
    return f"no ping for {duration((now - last_ping).total_seconds())} (due at {at})"


def judge_run(
    schedule: HeartbeatSchedule,
    started_at: datetime | None,
    finished_at: datetime,
    previous_success: datetime | None,
    exit_status: int | None,
    failed: bool,
) -> tuple[bool, str | None, float | None]:
    """The verdict of a finishing ping: (up, reason if down, the run's duration in ms).

    1. The duration is from the run's start ping to `finished_at`; None without a start ping
       or when the start is later than the finish (a clock stepped back).
    2. Down, first reason wins: a non-zero exit status (`exit status 2`); a fail ping
       (`failure reported`); longer than `max_duration_seconds`; shorter than
       `min_duration_seconds`; sooner than `min_gap_seconds` after the previous success ping
       (not judged against a success stamped later: this ping came out of order, from
       another API process, and the one before it is not known).
    3. Otherwise up.
    """
    seconds = None
    if started_at is not None and started_at <= finished_at:
        seconds = (finished_at - started_at).total_seconds()
    duration_ms = None if seconds is None else seconds * 1000
    if exit_status:
        return False, f"exit status {exit_status}", duration_ms
    if failed:
        return False, "failure reported", duration_ms
    longest, shortest = schedule.max_duration_seconds, schedule.min_duration_seconds
    if seconds is not None and longest is not None and seconds > longest:
        reason = f"ran for {_span(seconds)}, longer than the {duration(longest)} allowed"
        return False, reason, duration_ms
    if seconds is not None and shortest is not None and seconds < shortest:
        reason = (
            f"finished in {_span(seconds)}, sooner than the {duration(shortest)} expected: "
            "it probably did nothing"
        )
        return False, reason, duration_ms
    gap = schedule.min_gap_seconds
    if gap is not None and previous_success is not None and previous_success <= finished_at:
        since = (finished_at - previous_success).total_seconds()
        if since < gap:
            reason = (
                f"pinged {_span(since)} after the previous success, closer than the "
                f"{duration(gap)} allowed: it runs too often"
            )
            return False, reason, duration_ms
    return True, None, duration_ms


def start_overdue(schedule: HeartbeatSchedule, started_at: datetime, now: datetime) -> str | None:
    """Why a run started at `started_at` and still unfinished at `now` is down (`started 12m
    ago and not finished (allowed 10m)`), or None: within `start_grace_seconds` (else
    `max_duration_seconds`), or neither is set."""
    allowed = schedule.start_grace_seconds
    if allowed is None:
        allowed = schedule.max_duration_seconds
    if allowed is None:
        return None
    elapsed = (now - started_at).total_seconds()
    if elapsed <= allowed:
        return None
    # Whole seconds up, so that a run found just past its allowance never reads as within it.
    ago = duration(math.ceil(elapsed))
    return f"started {ago} ago and not finished (allowed {duration(allowed)})"


# How each of the reasons above begins, and what it counts as among a service's outcomes
# (the reasons themselves carry times, which would make every one an outcome of its own).
_OUTCOMES = (
    ("no ping ", "late"),
    ("ran for ", "ran too long"),
    ("finished in ", "finished too soon"),
    ("pinged ", "ran too often"),
    ("started ", "did not finish"),
)


def outcome(reason: str) -> str | None:
    """The outcome a heartbeat's failure counts as (`late`, `ran too long`, ...), None for a
    reason not of the rules above (`exit status 2`, `failure reported` count as they are)."""
    return next((name for start, name in _OUTCOMES if reason.startswith(start)), None)


def _span(seconds: float) -> str:
    """A run's length: tenths under a minute (`0.4s`, `12s`), else as `duration` writes it.
    Tenths are cut, not rounded, so 4.96s is never shown as the 5s limit it fell short of."""
    if seconds >= 60:
        return duration(seconds)
    tenths = int(seconds * 10)
    return f"{tenths // 10}s" if tenths % 10 == 0 else f"{tenths / 10}s"


def _zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (UTC if None)."""
    if name is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ValueError: names ZoneInfo refuses outright (empty, absolute, `..`).
        raise ValueError(f"unknown time zone {name!r}") from None


def _second_pass(local: datetime, zone: ZoneInfo) -> bool:
    """Whether `local` is the repeat of a wall-clock time the zone's clock shows twice."""
    first = local.replace(tzinfo=None).replace(tzinfo=zone, fold=0)
    return first.astimezone(UTC) != local.astimezone(UTC)


def _check_cron(expression: str, zone: ZoneInfo) -> None:
    """Raise ValueError unless `expression` is a 5-field cron expression that fires again."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            f"invalid cron expression {expression!r}: it needs 5 fields "
            f"({' '.join(CRON_FIELDS)}), not {len(fields)}"
        )
    # croniter names the expression but not the field: try each field alone to name it.
    for index, (name, part) in enumerate(zip(CRON_FIELDS, fields, strict=True)):
        alone = " ".join(part if i == index else "*" for i in range(len(CRON_FIELDS)))
        try:
            croniter(alone)
        except (CroniterError, ValueError) as error:
            raise ValueError(
                f"invalid cron expression {expression!r}: {name} field {part!r}: "
                f"{_croniter_why(error)}"
            ) from None
    start = datetime(2000, 1, 1, tzinfo=UTC).astimezone(zone)
    try:
        croniter(expression, start).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(
            f"cron expression {expression!r} never fires: no date matches it"
        ) from None
    except (CroniterError, ValueError) as error:
        raise ValueError(
            f"invalid cron expression {expression!r}: {_croniter_why(error)}"
        ) from None


def _croniter_why(error: Exception) -> str:
    """croniter's reason without the expression it repeats: `[61 * * * *] is not acceptable,
    out of range` gives `out of range`."""
    why = re.sub(r"^\[[^\]]*\]\s*", "", str(error))
    why = re.sub(r"^is not acceptable[,.]?\s*", "", why)
    why = re.sub(r" in field \d+", "", why)
    return why or "not acceptable"


def period_seconds(schedule: HeartbeatSchedule, at: datetime) -> int:
    """How long the schedule waits between pings around `at`: its interval, or for a cron
    schedule the time between its next two due times."""
    if schedule.interval_seconds is not None:
        return schedule.interval_seconds
    first = next_due(schedule, at)
    return max(1, round((next_due(schedule, first) - first).total_seconds()))


@dataclass(frozen=True, slots=True)
class OpenRun:
    """A run that sent its start ping and no finishing ping yet; `overdue` once found
    running too long (it is reported once)."""

    started_at: datetime
    overdue: bool = False


@dataclass(slots=True)
class Heard:
    """What a heartbeat service has heard, as the pings of a batch change it: when its next
    ping is due, its last finishing and last successful pings, its open runs by run id (''
    without one)."""

    schedule: HeartbeatSchedule
    due_at: datetime
    last_ping_at: datetime | None = None
    last_success_at: datetime | None = None
    runs: dict[str, OpenRun] = field(default_factory=dict)

    @property
    def late_at(self) -> datetime:
        """When the service is late without a ping (`late_at`)."""
        return late_at(self.schedule, self.due_at)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a ping that finished a run, or of a look at a silent heartbeat."""

    up: bool
    reason: str | None = None
    duration_ms: float | None = None


def hear(
    heard: Heard, kind: PingKind, at: datetime, rid: str = "", exit_status: int | None = None
) -> Verdict | None:
    """Apply one ping received `at` to `heard`; the verdict of a finishing ping (None for a
    start).

    1. `start` opens the run `rid` (again, if it was open: a restarted run); beyond
       `MAX_RUNS` open runs the oldest is forgotten.
    2. `success` and `fail` close the run `rid` (if one was started) and are judged by
       `judge_run` against the previous success; either one makes the next ping due one
       schedule step after `at` (a job that ran and failed is not also late).
    3. A ping older than one heard already (two API processes commit their batches in their
       own order) is judged, but moves neither the due time nor the last pings back.
    """
    if kind == "start":
        heard.runs.pop(rid, None)
        heard.runs[rid] = OpenRun(at)
        while len(heard.runs) > MAX_RUNS:
            del heard.runs[next(iter(heard.runs))]
        return None
    run = heard.runs.pop(rid, None)
    up, reason, duration_ms = judge_run(
        heard.schedule,
        run.started_at if run else None,
        at,
        heard.last_success_at,
        exit_status,
        failed=kind == "fail",
    )
    if heard.last_ping_at is None or at > heard.last_ping_at:
        heard.due_at = next_due(heard.schedule, at)
        heard.last_ping_at = at
    if kind == "success" and (heard.last_success_at is None or at > heard.last_success_at):
        heard.last_success_at = at
    return Verdict(up, reason, duration_ms)


def silence(heard: Heard, now: datetime) -> Verdict | None:
    """The verdict on a heartbeat the pollers found due at `now`: down when a run has been
    open too long (`start_overdue`; each run reported once) or when no ping came by its late
    time (`lateness_reason`; the next due time then moves past `now`, so one missed ping is
    one failure); None when neither, because a ping came meanwhile."""
    reasons = []
    for rid, run in heard.runs.items():
        why = None if run.overdue else start_overdue(heard.schedule, run.started_at, now)
        if why is not None:
            heard.runs[rid] = OpenRun(run.started_at, overdue=True)
            reasons.append(why)
    if heard.late_at <= now:
        reasons.append(lateness_reason(heard.last_ping_at, heard.due_at, now))
        heard.due_at = _first_due_not_late(heard.schedule, heard.due_at, now)
    return Verdict(False, "; ".join(reasons)) if reasons else None


def next_look(heard: Heard) -> datetime:
    """When the pollers should look at the heartbeat next: its late time, or sooner when an
    open run will have run too long by then."""
    schedule = heard.schedule
    allowed = schedule.start_grace_seconds or schedule.max_duration_seconds
    looks = [heard.late_at]
    if allowed is not None:
        looks += [
            run.started_at + timedelta(seconds=allowed)
            for run in heard.runs.values()
            if not run.overdue
        ]
    return min(looks)


def _first_due_not_late(schedule: HeartbeatSchedule, due: datetime, now: datetime) -> datetime:
    """The first due time of the schedule, from `due` on, whose late time is after `now`."""
    grace = timedelta(seconds=schedule.grace_seconds)
    if schedule.interval_seconds is None:
        return next_due(schedule, max(due, now - grace))
    step = timedelta(seconds=schedule.interval_seconds)
    missed = (now - grace - due) // step + 1
    return due + step * max(missed, 1)
