"""The maintenance window rules, without a database: occurrences one-off and recurring
(across DST changes), coverage of a moment, the union of overlapping windows, and the
messages for schedules that cannot be accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from statuschecker.rules.maintenance import (
    MAX_OCCURRENCES,
    Occurrence,
    Schedule,
    covered,
    covered_seconds,
    covers,
    current_and_next,
    occurrences,
)

HOUR = timedelta(hours=1)
SUNDAY_2AM = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0"


def t(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


ONE_OFF = Schedule(t(3, 5, 22), t(3, 5, 23))
BERLIN_SUNDAYS = Schedule(t(1, 1), None, SUNDAY_2AM, 3600, "Europe/Berlin")
"""Every Sunday 02:00-03:00 Berlin time: 01:00Z in winter, 00:00Z in summer."""


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (t(3, 5, 21, 59), False),
        (t(3, 5, 22), True),  # the start is covered
        (t(3, 5, 22, 30), True),
        (t(3, 5, 22, 59), True),
        (t(3, 5, 23), False),  # the end is not
        (t(3, 6, 22, 30), False),
    ],
)
def test_a_one_off_window_covers_from_its_start_to_before_its_end(
    at: datetime, expected: bool
) -> None:
    assert covers(ONE_OFF, at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (t(3, 22, 1), True),  # winter: 02:00 CET is 01:00Z
        (t(3, 22, 0, 30), False),
        (t(3, 22, 2), False),
        (t(3, 29, 1), True),  # the night clocks go forward, 02:00 CET does not exist: 01:00Z
        (t(4, 5, 0), True),  # summer: 02:00 CEST is 00:00Z
        (t(4, 5, 0, 59), True),
        (t(4, 5, 1), False),
        (t(10, 25, 0, 30), True),  # the night clocks go back: still 02:00 CEST, 00:00Z
        (t(10, 25, 1, 30), False),
        (t(11, 1, 1, 30), True),  # winter again
        (t(11, 1, 0, 30), False),
        (t(11, 2, 1, 30), False),  # a Monday
    ],
)
def test_a_weekly_berlin_window_keeps_to_the_wall_clock_across_dst(
    at: datetime, expected: bool
) -> None:
    assert covers(BERLIN_SUNDAYS, at) is expected


def test_occurrences_across_the_spring_change_are_an_hour_earlier_in_utc() -> None:
    assert occurrences(BERLIN_SUNDAYS, t(3, 20), t(4, 10)) == [
        (t(3, 22, 1), t(3, 22, 2)),
        (t(3, 29, 1), t(3, 29, 2)),
        (t(4, 5, 0), t(4, 5, 1)),
    ]


def test_occurrences_overlapping_the_range_edges_are_included() -> None:
    assert occurrences(BERLIN_SUNDAYS, t(3, 22, 1, 59), t(3, 29, 1, 1)) == [
        (t(3, 22, 1), t(3, 22, 2)),
        (t(3, 29, 1), t(3, 29, 2)),
    ]
    assert occurrences(BERLIN_SUNDAYS, t(3, 22, 2), t(3, 29, 1)) == []


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (t(3, 15, 1, 30), True),
        (t(3, 22, 1, 30), False),  # the occurrence would start at ends_at: there is none
        (t(5, 3, 0, 30), False),
    ],
)
def test_ends_at_stops_a_recurrence(at: datetime, expected: bool) -> None:
    schedule = Schedule(t(1, 1), t(3, 22, 1), SUNDAY_2AM, 3600, "Europe/Berlin")
    assert covers(schedule, at) is expected


def test_an_occurrence_started_before_ends_at_lasts_its_whole_duration() -> None:
    schedule = Schedule(t(1, 1), t(3, 22, 1, 30), SUNDAY_2AM, 3600, "Europe/Berlin")
    assert covers(schedule, t(3, 22, 1, 45))
    assert occurrences(schedule, t(3, 22), t(12, 1)) == [(t(3, 22, 1), t(3, 22, 2))]


def test_a_recurrence_starts_at_starts_at() -> None:
    schedule = Schedule(t(3, 23), None, SUNDAY_2AM, 3600, "Europe/Berlin")
    assert not covers(schedule, t(3, 22, 1, 30))
    assert covers(schedule, t(3, 29, 1, 30))


@pytest.mark.parametrize(
    ("now", "current", "next_"),
    [
        (t(3, 5, 21), None, (t(3, 5, 22), t(3, 5, 23))),
        (t(3, 5, 22, 30), (t(3, 5, 22), t(3, 5, 23)), None),
        (t(3, 5, 23), None, None),
    ],
)
def test_current_and_next_of_a_one_off_window(
    now: datetime, current: Occurrence | None, next_: Occurrence | None
) -> None:
    assert current_and_next(ONE_OFF, now) == (current, next_)


@pytest.mark.parametrize(
    ("now", "current", "next_"),
    [
        (t(3, 25), None, (t(3, 29, 1), t(3, 29, 2))),
        (t(3, 29, 1, 30), (t(3, 29, 1), t(3, 29, 2)), (t(4, 5, 0), t(4, 5, 1))),
        (t(3, 29, 2), None, (t(4, 5, 0), t(4, 5, 1))),
    ],
)
def test_current_and_next_of_a_recurring_window(
    now: datetime, current: Occurrence | None, next_: Occurrence | None
) -> None:
    assert current_and_next(BERLIN_SUNDAYS, now) == (current, next_)


def test_overlapping_occurrences_of_a_long_window_give_the_latest_as_current() -> None:
    daily_two_days = Schedule(t(3, 1), None, "FREQ=DAILY;BYHOUR=12", 2 * 86400, "UTC")
    current, next_ = current_and_next(daily_two_days, t(3, 10, 13))
    assert current == (t(3, 10, 12), t(3, 12, 12))
    assert next_ == (t(3, 11, 12), t(3, 13, 12))


@pytest.mark.parametrize(
    ("schedules", "since", "until", "seconds"),
    [
        ([ONE_OFF], t(3, 5), t(3, 6), 3600),
        ([ONE_OFF], t(3, 5, 22, 30), t(3, 6), 1800),  # clipped to the range
        ([ONE_OFF, Schedule(t(3, 5, 22, 30), t(3, 5, 23, 30))], t(3, 5), t(3, 6), 5400),
        ([ONE_OFF, ONE_OFF], t(3, 5), t(3, 6), 3600),  # counted once
        ([ONE_OFF, Schedule(t(3, 5, 22, 10), t(3, 5, 22, 20))], t(3, 5), t(3, 6), 3600),
        ([ONE_OFF, Schedule(t(3, 5, 23), t(3, 5, 23, 30))], t(3, 5), t(3, 6), 5400),
        ([ONE_OFF, BERLIN_SUNDAYS], t(3, 1), t(4, 1), 3600 + 5 * 3600),
        ([], t(3, 1), t(4, 1), 0),
    ],
)
def test_covered_seconds_is_the_union_of_the_occurrences_within_the_range(
    schedules: list[Schedule], since: datetime, until: datetime, seconds: float
) -> None:
    assert covered_seconds(schedules, since, until) == seconds


def test_covered_is_any_of_the_schedules() -> None:
    assert covered([BERLIN_SUNDAYS, ONE_OFF], t(3, 5, 22, 30))
    assert not covered([BERLIN_SUNDAYS, ONE_OFF], t(3, 5, 21))
    assert not covered([], t(3, 5, 22, 30))


@pytest.mark.parametrize(
    ("rule", "tz", "start"),
    [
        ("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", "Europe/Berlin", t(1, 7, 13, 5, 2019)),
        ("FREQ=DAILY;INTERVAL=3", "America/New_York", t(2, 28, 17, 45, 2019)),
        ("FREQ=HOURLY;INTERVAL=5;BYMINUTE=15", "Australia/Lord_Howe", t(6, 1, 3, 0, 2019)),
        ("FREQ=MONTHLY", "Asia/Kolkata", t(1, 31, 20, 30, 2019)),
        ("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=23", "Europe/London", t(5, 2, 0, 0, 2019)),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;BYSETPOS=1", "UTC", t(4, 3, 9, 0, 2019)),
        ("FREQ=YEARLY", "Pacific/Apia", t(2, 29, 11, 0, 2016)),
        ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=TU", "Europe/Berlin", t(1, 1, 0, 0, 2019)),
        ("FREQ=DAILY;COUNT=900", "Europe/Berlin", t(1, 1, 0, 0, 2024)),
    ],
)
def test_a_rule_evaluated_near_a_moment_gives_what_it_gives_from_its_start(
    rule: str, tz: str, start: datetime
) -> None:
    """The rules skip a rule's early years for speed: they must not change its occurrences."""
    schedule = Schedule(start, None, rule, 1800, tz).validated()
    since, until = t(1, 1), t(7, 1)
    zone = ZoneInfo(tz)
    whole = rrulestr(rule, dtstart=start.astimezone(zone)).between(
        since - timedelta(seconds=1800), until, inc=False
    )
    starts = sorted({o.astimezone(UTC) for o in whole})
    expected = [(s, s + timedelta(seconds=1800)) for s in starts if s < until]
    assert occurrences(schedule, since, until) == expected
    assert expected
    for moment in [s + timedelta(minutes=m) for s, _ in expected[:50] for m in (-1, 0, 29, 30)]:
        assert covers(schedule, moment) is any(s <= moment < e for s, e in expected)


def test_occurrences_are_bounded() -> None:
    hourly = Schedule(t(1, 1, year=2000), None, "FREQ=HOURLY", 600, "UTC")
    assert len(occurrences(hourly, t(1, 1, year=2000), t(1, 1, year=2030))) == MAX_OCCURRENCES


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Schedule(t(3, 5)), "a one-off window needs ends_at"),
        (Schedule(t(3, 5), t(3, 5)), "ends_at must be after starts_at"),
        (Schedule(t(3, 5), t(3, 4)), "ends_at must be after starts_at"),
        (Schedule(t(3, 5), t(3, 6), None, 3600), "duration_seconds belong to a recurring window"),
        (
            Schedule(t(3, 5), t(3, 6), None, 3600, "UTC"),
            "duration_seconds and timezone belong to a recurring window",
        ),
        (Schedule(t(3, 5), None, SUNDAY_2AM), "needs duration_seconds and timezone besides rrule"),
        (Schedule(t(3, 5), None, SUNDAY_2AM, 3600), "needs timezone besides rrule"),
        (Schedule(t(3, 5), None, SUNDAY_2AM, None, "UTC"), "needs duration_seconds besides"),
        (Schedule(t(3, 5), None, SUNDAY_2AM, 3600, "Mars/Olympus"), "time zone 'Mars/Olympus'"),
        (Schedule(t(3, 5), None, SUNDAY_2AM, 3600, "../etc/passwd"), "unknown time zone"),
        (Schedule(t(3, 5), None, SUNDAY_2AM, 3600, "Europe"), "unknown time zone 'Europe'"),
        (Schedule(t(3, 5), t(3, 4), SUNDAY_2AM, 3600, "UTC"), "ends_at must be after starts_at"),
        (Schedule(t(3, 5), None, "FREQ=MINUTELY", 3600, "UTC"), "FREQ=MINUTELY is too frequent"),
        (Schedule(t(3, 5), None, "FREQ=SECONDLY", 3600, "UTC"), "FREQ=SECONDLY is too frequent"),
        (Schedule(t(3, 5), None, "FREQ=FORTNIGHTLY", 3600, "UTC"), "'FREQ=FORTNIGHTLY'"),
        (Schedule(t(3, 5), None, "BYHOUR=2", 3600, "UTC"), "rrule needs FREQ"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;BYHOUR=25", 3600, "UTC"), "'BYHOUR=25' is invalid"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;BYDAY=XX", 3600, "UTC"), "'BYDAY=XX' is invalid"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;BYFOO=1", 3600, "UTC"), "unknown part BYFOO"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;BYHOUR", 3600, "UTC"), "'BYHOUR' is not NAME=VALUE"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;FREQ=DAILY", 3600, "UTC"), "gives FREQ twice"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;INTERVAL=0", 3600, "UTC"), "'INTERVAL=0'"),
        (Schedule(t(3, 5), None, "FREQ=DAILY;COUNT=0", 3600, "UTC"), "'COUNT=0'"),
        (
            Schedule(t(3, 5), None, "FREQ=DAILY;UNTIL=20300101T000000Z", 3600, "UTC"),
            "cannot hold UNTIL: ends_at says when the recurrence stops",
        ),
        (
            Schedule(t(3, 5), None, "DTSTART:20260101T000000Z RRULE:FREQ=DAILY", 3600, "UTC"),
            "without DTSTART",
        ),
        (Schedule(t(3, 5), None, "FREQ=DAILY;DTSTART=2026", 3600, "UTC"), "cannot hold DTSTART"),
        (
            Schedule(t(3, 5), None, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", 3600, "UTC"),
            "has no occurrence at all",
        ),
        (
            # from a Tuesday every 7 days: never on a Monday
            Schedule(t(3, 3), None, "FREQ=DAILY;INTERVAL=7;BYDAY=MO", 3600, "UTC"),
            "has no occurrence at all",
        ),
        (
            Schedule(t(3, 2), t(3, 5), SUNDAY_2AM, 3600, "Europe/Berlin"),
            "has no occurrence between starts_at and ends_at",
        ),
        (
            Schedule(datetime(2026, 3, 5), datetime(2026, 3, 6)),
            "starts_at and ends_at need a UTC offset",
        ),
    ],
)
def test_schedules_that_cannot_be_honoured_are_refused_saying_why(
    schedule: Schedule, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        schedule.validated()
    assert message in str(raised.value)


def test_a_rule_with_no_occurrence_is_refused_quickly() -> None:
    started = datetime.now(UTC)
    rule = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"
    with pytest.raises(ValueError, match="no occurrence at all"):
        Schedule(t(3, 5), None, rule, 3600, "UTC").validated()
    assert datetime.now(UTC) - started < timedelta(seconds=3)


@pytest.mark.parametrize(
    "rule",
    [
        SUNDAY_2AM,
        "RRULE:FREQ=WEEKLY;BYDAY=SU",
        "freq=daily;byhour=3",
        "FREQ=MONTHLY;BYDAY=1MO;COUNT=12",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    ],
)
def test_recurring_rules_that_are_accepted(rule: str) -> None:
    assert Schedule(t(3, 5), None, rule, 3600, "Europe/Berlin").validated().recurring


def test_a_stored_window_whose_zone_is_gone_covers_nothing_rather_than_failing() -> None:
    gone = Schedule(t(1, 1), None, SUNDAY_2AM, 3600, "Mars/Olympus")
    assert not covers(gone, t(3, 22, 1, 30))
    assert occurrences(gone, t(1, 1), t(12, 1)) == []
    assert current_and_next(gone, t(3, 22)) == (None, None)
