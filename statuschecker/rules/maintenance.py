"""Maintenance windows as rules, without I/O: when a window's occurrences are, whether one
covers a moment, and how much of a range they cover.

A window is one-off, [starts_at, ends_at), or recurring: an RFC 5545 RRULE evaluated in an IANA
time zone with DTSTART = starts_at in that zone, each occurrence lasting `duration_seconds`;
`ends_at`, if set, stops the recurrence (no occurrence starts at or after it). The rule's
times are wall-clock times of the zone (dateutil generates them so from an aware DTSTART), so
"every Sunday 02:00 Europe/Berlin" is 01:00Z in winter and 00:00Z in summer; a duration is
real seconds, added in UTC.

Evaluation stays cheap however old a rule is: dateutil always iterates from DTSTART, so a
rule is evaluated from a DTSTART moved forward by whole periods to just before the moment
asked about (with the fields DTSTART implies written into the rule, the occurrences are the
same), and never more than MAX_OCCURRENCES are expanded for one answer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

Occurrence = tuple[datetime, datetime]
"""One occurrence of a window: [start, end) in UTC."""

MAX_OCCURRENCES = 50_000
"""The most occurrences one answer expands (an hourly window over five years is 43,800)."""
MAX_COUNT = 10_000
MAX_INTERVAL = 1_000
NEXT_HORIZON = timedelta(days=3660)
"""How far ahead the next occurrence is looked for."""

FREQUENCIES = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
}
TOO_FREQUENT = frozenset({"MINUTELY", "SECONDLY"})
RULE_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "WKST",
        "BYSETPOS",
        "BYMONTH",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYDAY",
        "BYHOUR",
        "BYMINUTE",
        "BYSECOND",
    }
)
"""The RFC 5545 RRULE parts a window may use (UNTIL is `ends_at`, DTSTART is `starts_at`)."""
# Given none of these, dateutil takes the day of a yearly, monthly or weekly rule from DTSTART.
_DAY_PARTS = frozenset({"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"})
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_UNIT = {YEARLY: "years", MONTHLY: "months", WEEKLY: "weeks", DAILY: "days", HOURLY: "hours"}
# Rules are tried for emptiness from a DTSTART moved to this year: dateutil's iteration of a
# rule with no occurrence runs to year 9999, and the calendar repeats every 400 years.
_EMPTINESS_FROM = datetime(9999 - 401, 1, 1)
# A rule moved to start before a moment starts this much earlier still, for wall-clock times
# that a DST change makes ambiguous or skips.
_FOLD_MARGIN = timedelta(hours=3)
_DATEUTIL_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a maintenance window is: one-off (`starts_at`, `ends_at`) or recurring (`rrule`,
    `duration_seconds`, `timezone`, from `starts_at`, until `ends_at` if set)."""

    starts_at: datetime
    ends_at: datetime | None = None
    rrule: str | None = None
    duration_seconds: int | None = None
    timezone: str | None = None

    @property
    def recurring(self) -> bool:
        """Whether the window recurs (has a rule)."""
        return self.rrule is not None

    def validated(self) -> Schedule:
        """This schedule, or ValueError saying what is wrong with it (see `validate`)."""
        validate(self)
        return self


@dataclass(frozen=True, slots=True)
class Window:
    """A stored maintenance window: what it covers (services named and services carrying any
    of the tags, of its owner's account) and when (its schedule)."""

    id: int
    owner_id: int | None
    title: str
    service_ids: tuple[int, ...]
    tags: tuple[str, ...]
    schedule: Schedule
    created_at: datetime
    updated_at: datetime
    managed: bool = False  # created or adopted by a configuration apply (which may delete it)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def validate(schedule: Schedule) -> None:
    """ValueError, with a message naming what is wrong, unless `schedule` is one of:

    1. one-off: no rule, duration or zone, and `ends_at` after `starts_at`;
    2. recurring: a rule (one RRULE, FREQ HOURLY or coarser, no UNTIL or DTSTART) with
       `duration_seconds` and a known `timezone`, `ends_at` (if any) after `starts_at`, and
       at least one occurrence before `ends_at`.
    """
    if schedule.starts_at.tzinfo is None or (
        schedule.ends_at is not None and schedule.ends_at.tzinfo is None
    ):
        raise ValueError("starts_at and ends_at need a UTC offset")
    if schedule.ends_at is not None and schedule.ends_at <= schedule.starts_at:
        raise ValueError("ends_at must be after starts_at")
    if schedule.rrule is None:
        given = [
            name
            for name, value in (
                ("duration_seconds", schedule.duration_seconds),
                ("timezone", schedule.timezone),
            )
            if value is not None
        ]
        if given:
            raise ValueError(
                f"{' and '.join(given)} belong to a recurring window: give rrule too, or leave"
                " them out for a one-off window"
            )
        if schedule.ends_at is None:
            raise ValueError(
                "a one-off window needs ends_at (a recurring one needs rrule, duration_seconds"
                " and timezone)"
            )
        return
    missing = [
        name
        for name, value in (
            ("duration_seconds", schedule.duration_seconds),
            ("timezone", schedule.timezone),
        )
        if value is None
    ]
    if missing:
        raise ValueError(f"a recurring window needs {' and '.join(missing)} besides rrule")
    if schedule.duration_seconds is not None and schedule.duration_seconds < 1:
        raise ValueError("duration_seconds must be at least 1")
    compiled = _compile(schedule)
    if not _occurs_at_all(compiled):
        raise ValueError(f"rrule {schedule.rrule!r} has no occurrence at all")
    if next(_recurrences(compiled, schedule.starts_at), None) is None:
        raise ValueError(
            f"rrule {schedule.rrule!r} has no occurrence between starts_at and ends_at"
        )


def occurrences(schedule: Schedule, since: datetime, until: datetime) -> list[Occurrence]:
    """The occurrences overlapping [since, until), earliest first, in UTC (at most
    MAX_OCCURRENCES of them)."""
    found: list[Occurrence] = []
    for start, end in _iterate(schedule, since):
        if start >= until or len(found) >= MAX_OCCURRENCES:
            break
        found.append((start, end))
    return found


def covers(schedule: Schedule, at: datetime) -> bool:
    """Whether an occurrence of `schedule` covers the moment `at` (start included, end not).
    Cheap for any rule: it looks back only one duration from `at`."""
    return bool(occurrences(schedule, at, at + timedelta(microseconds=1)))


def covered(schedules: Iterable[Schedule], at: datetime) -> bool:
    """Whether any of `schedules` covers the moment `at`."""
    return any(covers(schedule, at) for schedule in schedules)


def current_and_next(
    schedule: Schedule, now: datetime
) -> tuple[Occurrence | None, Occurrence | None]:
    """The occurrence covering `now` (the latest to start, when several do) and the first to
    start after `now` (within NEXT_HORIZON), each None when there is none."""
    current: Occurrence | None = None
    for occurrence in _iterate(schedule, now):
        start = occurrence[0]
        if start > now:
            return current, occurrence if start < now + NEXT_HORIZON else None
        current = occurrence
    return current, None


def covered_seconds(schedules: Iterable[Schedule], since: datetime, until: datetime) -> float:
    """How many seconds of [since, until) the occurrences of `schedules` cover, each moment
    counted once however many windows cover it."""
    spans = sorted(
        (max(start, since), min(end, until))
        for schedule in schedules
        for start, end in occurrences(schedule, since, until)
    )
    total = timedelta()
    reached: datetime | None = None
    for start, end in spans:
        if reached is not None and start < reached:
            start = reached
        if end > start:
            total += end - start
            reached = end
    return total.total_seconds()


# How it is done.


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A recurring schedule ready to evaluate: its rule with the fields DTSTART implies
    written out (so it can start from another DTSTART) and its DTSTART in the zone."""

    rule: rrule  # DTSTART = starts_at in the zone, UNTIL just before ends_at
    zone: ZoneInfo
    start: datetime  # starts_at as a wall-clock time of the zone, naive
    freq: int
    interval: int
    counted: bool
    duration: timedelta
    ends_at: datetime | None


@functools.lru_cache(maxsize=4096)
def _compile(schedule: Schedule) -> _Compiled:
    """Parse and check a recurring schedule's rule and zone (ValueError naming what is
    wrong); cached, as the recorder asks about the same windows at every check."""
    assert schedule.rrule is not None and schedule.timezone is not None
    assert schedule.duration_seconds is not None
    tz = zone(schedule.timezone)
    local = schedule.starts_at.astimezone(tz)
    parts = _parts(schedule.rrule)
    freq = FREQUENCIES[parts["FREQ"]]
    explicit = _explicit(parts, local)
    text = ";".join(f"{name}={value}" for name, value in explicit.items())
    until = None if schedule.ends_at is None else schedule.ends_at - timedelta(microseconds=1)
    try:
        rule = rrulestr(text, dtstart=local)
        assert isinstance(rule, rrule)
        rule = rule.replace(until=until)
    except _DATEUTIL_ERRORS as exc:
        raise ValueError(f"rrule {schedule.rrule!r} is invalid: {exc}") from None
    return _Compiled(
        rule=rule,
        zone=tz,
        start=local.replace(tzinfo=None),
        freq=freq,
        interval=int(parts.get("INTERVAL", "1")),
        counted="COUNT" in parts,
        duration=timedelta(seconds=schedule.duration_seconds),
        ends_at=schedule.ends_at,
    )


def _parts(text: str) -> dict[str, str]:
    """The parts of one RRULE, NAME -> VALUE in upper case; ValueError naming the part that is
    wrong: not NAME=VALUE, unknown, given twice, not understood, or out of bounds."""
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if not body or ":" in body or any(c.isspace() for c in body):
        raise ValueError(
            "rrule must be one RRULE such as 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2', without DTSTART,"
            " RDATE or EXDATE lines (starts_at says when it begins)"
        )
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, equals, value = (s.strip().upper() for s in part.partition("="))
        if not equals or not name or not value:
            raise ValueError(f"rrule part {part!r} is not NAME=VALUE")
        if name == "UNTIL":
            raise ValueError("rrule cannot hold UNTIL: ends_at says when the recurrence stops")
        if name == "DTSTART":
            raise ValueError("rrule cannot hold DTSTART: starts_at says when it begins")
        if name not in RULE_PARTS:
            raise ValueError(f"rrule part {part!r}: unknown part {name}")
        if name in parts:
            raise ValueError(f"rrule gives {name} twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise ValueError("rrule needs FREQ (YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY)")
    if freq in TOO_FREQUENT:
        raise ValueError(
            f"rrule FREQ={freq} is too frequent for a maintenance window: HOURLY is the finest"
        )
    if freq not in FREQUENCIES:
        raise ValueError(
            f"rrule part 'FREQ={freq}': FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY"
        )
    for name, low, high in (("INTERVAL", 1, MAX_INTERVAL), ("COUNT", 1, MAX_COUNT)):
        if name in parts and not (parts[name].isdigit() and low <= int(parts[name]) <= high):
            raise ValueError(
                f"rrule part '{name}={parts[name]}': {name} must be a whole number from {low}"
                f" to {high}"
            )
    for name, value in parts.items():
        try:
            rrulestr(f"FREQ={freq};{name}={value}", dtstart=datetime(2000, 1, 1))
        except _DATEUTIL_ERRORS as exc:
            raise ValueError(f"rrule part '{name}={value}' is invalid: {exc}") from None
    return parts


def _explicit(parts: dict[str, str], start: datetime) -> dict[str, str]:
    """`parts` with what dateutil would take from DTSTART `start` written out, as dateutil
    takes it (`rrule.__init__`): the day of a yearly, monthly or weekly rule that names none,
    and the hour, minute and second where the rule does not name them."""
    explicit = dict(parts)
    freq = parts["FREQ"]
    if not _DAY_PARTS & parts.keys():
        if freq == "YEARLY":
            explicit.setdefault("BYMONTH", str(start.month))
            explicit["BYMONTHDAY"] = str(start.day)
        elif freq == "MONTHLY":
            explicit["BYMONTHDAY"] = str(start.day)
        elif freq == "WEEKLY":
            explicit["BYDAY"] = _WEEKDAYS[start.weekday()]
    if freq != "HOURLY":
        explicit.setdefault("BYHOUR", str(start.hour))
    explicit.setdefault("BYMINUTE", str(start.minute))
    explicit.setdefault("BYSECOND", str(start.second))
    return explicit


def _moved_start(start: datetime, freq: int, interval: int, target: datetime) -> datetime:
    """The latest of `start` plus whole multiples of `interval` periods that is at least one
    such multiple before `target` (naive wall-clock times; `start` itself when none is).
    Moved so, a rule yields the same occurrences from `target` on: the periods keep their
    phase, and the first period (which dateutil may cut at DTSTART) ends before `target`."""
    if target <= start:
        return start
    delta = target - start
    if freq == HOURLY:
        periods = int(delta.total_seconds() // 3600)
    elif freq == DAILY:
        periods = delta.days
    elif freq == WEEKLY:
        periods = delta.days // 7
    elif freq == MONTHLY:
        periods = (target.year - start.year) * 12 + target.month - start.month - 1
    else:
        periods = target.year - start.year - 1
    steps = periods // interval - 1
    if steps <= 0:
        return start
    return start + relativedelta(**{_UNIT[freq]: steps * interval})  # type: ignore[arg-type]


def _occurs_at_all(compiled: _Compiled) -> bool:
    """Whether the rule has any occurrence, ignoring COUNT and UNTIL (checked from a DTSTART
    moved to four centuries before dateutil's last year, so an empty rule is known in well
    under a second)."""
    start = _moved_start(compiled.start, compiled.freq, compiled.interval, _EMPTINESS_FROM)
    try:
        probe = compiled.rule.replace(dtstart=start, until=None, count=None)
        return next(iter(probe), None) is not None
    except _DATEUTIL_ERRORS:
        return False


def _recurrences(compiled: _Compiled, since: datetime) -> Iterator[Occurrence]:
    """The occurrences ending after `since`, earliest first, in UTC; each start once (a
    wall-clock time skipped by a DST change comes out as the moment after the jump, which an
    hourly rule also reaches by its next hour)."""
    after = since - compiled.duration
    rule = compiled.rule
    if not compiled.counted:
        target = after.astimezone(compiled.zone).replace(tzinfo=None) - _FOLD_MARGIN
        start = _moved_start(compiled.start, compiled.freq, compiled.interval, target)
        if start != compiled.start:
            rule = _moved(compiled, start)
    last: datetime | None = None
    for local in rule.xafter(after, inc=False):
        start_utc = local.astimezone(UTC)
        if last is not None and start_utc <= last:
            continue
        last = start_utc
        yield start_utc, start_utc + compiled.duration


@functools.lru_cache(maxsize=4096)
def _moved(compiled: _Compiled, start: datetime) -> rrule:
    """The compiled rule from another (naive, wall-clock) DTSTART."""
    return compiled.rule.replace(dtstart=start.replace(tzinfo=compiled.zone))


def _iterate(schedule: Schedule, since: datetime) -> Iterator[Occurrence]:
    """The occurrences of `schedule` ending after `since`, earliest first, in UTC."""
    if schedule.rrule is None:
        if schedule.ends_at is not None and schedule.ends_at > since:
            yield schedule.starts_at.astimezone(UTC), schedule.ends_at.astimezone(UTC)
        return
    if schedule.ends_at is not None and since >= schedule.ends_at + _duration(schedule):
        return
    try:
        compiled = _compile(schedule)
    except ValueError:
        # Checked when it was stored; only a time zone dropped from tzdata since can make
        # it fail now. Such a window covers nothing rather than stopping what asks.
        return
    yield from _recurrences(compiled, since)


def _duration(schedule: Schedule) -> timedelta:
    return timedelta(seconds=schedule.duration_seconds or 0)
