"""The heartbeat rules, without a database: schedule validation, due times (cron across DST
changes in Europe/Berlin and America/New_York), deadlines, and the verdicts on late, finished
and started runs with their exact reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statuschecker.rules.heartbeats import (
    MAX_RUNS,
    Heard,
    HeartbeatSchedule,
    OpenRun,
    Verdict,
    hear,
    judge_run,
    lateness_reason,
    next_due,
    next_look,
    outcome,
    silence,
    start_overdue,
    validate,
)

T0 = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def every(
    seconds: int,
    grace: int = 0,
    *,
    max_duration_seconds: int | None = None,
    min_duration_seconds: int | None = None,
    min_gap_seconds: int | None = None,
    start_grace_seconds: int | None = None,
) -> HeartbeatSchedule:
    return HeartbeatSchedule(
        interval_seconds=seconds,
        grace_seconds=grace,
        max_duration_seconds=max_duration_seconds,
        min_duration_seconds=min_duration_seconds,
        min_gap_seconds=min_gap_seconds,
        start_grace_seconds=start_grace_seconds,
    )


def cron(expression: str, zone: str | None = None, grace: int = 0) -> HeartbeatSchedule:
    return HeartbeatSchedule(cron=expression, timezone=zone, grace_seconds=grace)


BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(every(60), id="interval"),
        pytest.param(every(3600, 300, max_duration_seconds=600, min_duration_seconds=5), id="all"),
        pytest.param(
            every(60, min_gap_seconds=0, start_grace_seconds=30, min_duration_seconds=0),
            id="zero lower bounds",
        ),
        pytest.param(cron("0 3 * * *", BERLIN, 600), id="cron in a zone"),
        pytest.param(cron("0 3 * * *"), id="cron without a zone is UTC"),
        pytest.param(cron("0 9 * * mon-fri", NEW_YORK), id="day names"),
        pytest.param(cron("0 0 29 2 *", "UTC"), id="leap day fires every four years"),
        pytest.param(cron("*/5 1-3 1,15 * *", BERLIN), id="steps, ranges, lists"),
    ],
)
def test_valid_schedules(schedule: HeartbeatSchedule) -> None:
    validate(schedule)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        pytest.param(
            HeartbeatSchedule(interval_seconds=60, cron="* * * * *", grace_seconds=0),
            "a heartbeat needs either interval_seconds or cron, not both or neither",
            id="both",
        ),
        pytest.param(
            HeartbeatSchedule(grace_seconds=0),
            "a heartbeat needs either interval_seconds or cron, not both or neither",
            id="neither",
        ),
        pytest.param(
            HeartbeatSchedule(interval_seconds=60, timezone=BERLIN, grace_seconds=0),
            "timezone applies to a cron schedule only",
            id="timezone without cron",
        ),
        pytest.param(every(0), "interval_seconds must be positive, not 0", id="interval 0"),
        pytest.param(every(60, -5), "grace_seconds must be 0 or more, not -5", id="grace < 0"),
        pytest.param(
            every(60, max_duration_seconds=0),
            "max_duration_seconds must be positive, not 0",
            id="max duration 0",
        ),
        pytest.param(
            every(60, min_duration_seconds=-1),
            "min_duration_seconds must be 0 or more, not -1",
            id="min duration < 0",
        ),
        pytest.param(
            every(60, min_gap_seconds=-1),
            "min_gap_seconds must be 0 or more, not -1",
            id="min gap < 0",
        ),
        pytest.param(
            every(60, start_grace_seconds=0),
            "start_grace_seconds must be positive, not 0",
            id="start grace 0",
        ),
        pytest.param(
            every(60, min_duration_seconds=600, max_duration_seconds=300),
            "min_duration_seconds (600) must be less than max_duration_seconds (300)",
            id="min duration above max",
        ),
        pytest.param(
            every(60, min_duration_seconds=300, max_duration_seconds=300),
            "min_duration_seconds (300) must be less than max_duration_seconds (300)",
            id="min duration equal to max",
        ),
        pytest.param(
            cron("0 3 * * *", "Mars/Olympus"),
            "unknown time zone 'Mars/Olympus'",
            id="unknown zone",
        ),
        pytest.param(cron("0 3 * * *", ""), "unknown time zone ''", id="empty zone"),
        pytest.param(
            cron("0 3 * * *", "../../etc/passwd"),
            "unknown time zone '../../etc/passwd'",
            id="a path is no zone",
        ),
        pytest.param(
            cron("0 0 3 * * *"),
            "invalid cron expression '0 0 3 * * *': it needs 5 fields "
            "(minute hour day-of-month month day-of-week), not 6",
            id="seconds field: more often than a minute",
        ),
        pytest.param(
            cron("0 3 *"),
            "invalid cron expression '0 3 *': it needs 5 fields "
            "(minute hour day-of-month month day-of-week), not 3",
            id="too few fields",
        ),
        pytest.param(
            cron(""),
            "invalid cron expression '': it needs 5 fields "
            "(minute hour day-of-month month day-of-week), not 0",
            id="empty",
        ),
        pytest.param(
            cron("60 3 * * *"),
            "invalid cron expression '60 3 * * *': minute field '60': out of range",
            id="minute out of range",
        ),
        pytest.param(
            cron("0 24 * * *"),
            "invalid cron expression '0 24 * * *': hour field '24': out of range",
            id="hour out of range",
        ),
        pytest.param(
            cron("0 3 32 * *"),
            "invalid cron expression '0 3 32 * *': day-of-month field '32': out of range",
            id="day of month out of range",
        ),
        pytest.param(
            cron("0 3 * 13 *"),
            "invalid cron expression '0 3 * 13 *': month field '13': out of range",
            id="month out of range",
        ),
        pytest.param(
            cron("0 3 * * funday"),
            "invalid cron expression '0 3 * * funday': day-of-week field 'funday': not acceptable",
            id="unknown day name",
        ),
        pytest.param(
            cron("*/0 3 * * *"),
            "invalid cron expression '*/0 3 * * *': minute field '*/0': step '0' is not acceptable",
            id="step 0",
        ),
        pytest.param(
            cron("-1 3 * * *"),
            "invalid cron expression '-1 3 * * *': minute field '-1': negative numbers not allowed",
            id="negative minute",
        ),
        pytest.param(
            cron("0 0 30 2 *", BERLIN),
            "cron expression '0 0 30 2 *' never fires: no date matches it",
            id="no future occurrence",
        ),
    ],
)
def test_invalid_schedules(schedule: HeartbeatSchedule, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate(schedule)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("schedule", "after", "due"),
    [
        pytest.param(every(300), T0, at(300), id="interval"),
        pytest.param(every(300), at(0.25), at(300.25), id="interval keeps fractions"),
        pytest.param(cron("0 3 * * *"), utc(2026, 1, 10), utc(2026, 1, 10, 3), id="cron in UTC"),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 1, 10),
            utc(2026, 1, 10, 2),
            id="Berlin winter: 03:00 CET is 02:00Z",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 7, 10),
            utc(2026, 7, 10, 1),
            id="Berlin summer: 03:00 CEST is 01:00Z",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 1, 10, 2),
            utc(2026, 1, 11, 2),
            id="strictly after: a ping on the due time is due the next day",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 1, 10, 1, 59, 59),
            utc(2026, 1, 10, 2),
            id="a second early is due the same day",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 3, 28, 2),
            utc(2026, 3, 29, 1),
            id="Berlin spring forward: 03:00 the next day is already CEST",
        ),
        pytest.param(
            cron("30 2 * * *", BERLIN),
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1),
            id="Berlin spring forward: skipped 02:30 is due when the gap ends, 03:00 CEST",
        ),
        pytest.param(
            cron("30 2 * * *", BERLIN),
            utc(2026, 3, 29, 1),
            utc(2026, 3, 30, 0, 30),
            id="Berlin spring forward: and 02:30 CEST the day after",
        ),
        pytest.param(
            cron("*/30 * * * *", BERLIN),
            utc(2026, 3, 29, 0, 30),
            utc(2026, 3, 29, 1),
            id="Berlin spring forward: half-hourly from 01:30 CET to 03:00 CEST",
        ),
        pytest.param(
            cron("30 2 * * *", BERLIN),
            utc(2026, 10, 24, 0, 30),
            utc(2026, 10, 25, 0, 30),
            id="Berlin fall back: 02:30 the first time, CEST",
        ),
        pytest.param(
            cron("30 2 * * *", BERLIN),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 26, 1, 30),
            id="Berlin fall back: 02:30 is due once, not again in CET",
        ),
        pytest.param(
            cron("30 2 * * *", BERLIN),
            utc(2026, 10, 25, 1, 10),
            utc(2026, 10, 26, 1, 30),
            id="Berlin fall back: a ping in the repeated hour skips its 02:30",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN),
            utc(2026, 10, 24, 2),
            utc(2026, 10, 25, 2),
            id="Berlin fall back: 03:00 the next day is CET",
        ),
        pytest.param(
            cron("*/15 * * * *", BERLIN),
            utc(2026, 10, 25, 0, 45),
            utc(2026, 10, 25, 1),
            id="Berlin fall back: every 15 minutes goes on through the repeated hour",
        ),
        pytest.param(
            cron("0 */2 * * *", BERLIN),
            utc(2026, 10, 25, 0),
            utc(2026, 10, 25, 1),
            id="Berlin fall back: an hour field with a star is due in both passes",
        ),
        pytest.param(
            cron("*/15 2 * * *", BERLIN),
            utc(2026, 10, 25, 0, 45),
            utc(2026, 10, 25, 1),
            id="Berlin fall back: a minute field with a star is due in both passes",
        ),
        pytest.param(
            cron("0 2 * * *", BERLIN),
            utc(2026, 10, 25, 0),
            utc(2026, 10, 26, 1),
            id="Berlin fall back: 02:00 is due once",
        ),
        pytest.param(
            cron("0 9 * * 1-5", NEW_YORK),
            utc(2026, 1, 2, 15),
            utc(2026, 1, 5, 14),
            id="New York winter: weekdays 09:00 EST is 14:00Z, Friday to Monday",
        ),
        pytest.param(
            cron("0 9 * * 1-5", NEW_YORK),
            utc(2026, 7, 3, 15),
            utc(2026, 7, 6, 13),
            id="New York summer: 09:00 EDT is 13:00Z",
        ),
        pytest.param(
            cron("30 2 * * *", NEW_YORK),
            utc(2026, 3, 7, 7, 30),
            utc(2026, 3, 8, 7),
            id="New York spring forward: skipped 02:30 is due at 03:00 EDT",
        ),
        pytest.param(
            cron("30 1 * * *", NEW_YORK),
            utc(2026, 10, 31, 5, 30),
            utc(2026, 11, 1, 5, 30),
            id="New York fall back: 01:30 the first time, EDT",
        ),
        pytest.param(
            cron("30 1 * * *", NEW_YORK),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 2, 6, 30),
            id="New York fall back: 01:30 is due once",
        ),
    ],
)
def test_next_due(schedule: HeartbeatSchedule, after: datetime, due: datetime) -> None:
    validate(schedule)
    found = next_due(schedule, after)
    assert found == due
    assert found.tzinfo is UTC


def test_a_week_of_nightly_due_times_across_fall_back() -> None:
    schedule = cron("30 2 * * *", BERLIN)
    due, seen = utc(2026, 10, 22, 12), []
    for _ in range(5):
        due = next_due(schedule, due)
        seen.append(due)
    assert seen == [
        utc(2026, 10, 23, 0, 30),
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
        utc(2026, 10, 27, 1, 30),
    ]


@pytest.mark.parametrize(
    ("schedule", "last_success", "registered_at", "expected"),
    [
        pytest.param(every(120, 60), at(0), at(-999), at(180), id="interval + grace"),
        pytest.param(every(120, 60), None, at(-30), at(150), id="never pinged: from registration"),
        pytest.param(every(2, 1), at(10), at(0), at(13), id="2s interval, 1s grace"),
        pytest.param(
            cron("0 3 * * *", BERLIN, grace=900),
            utc(2026, 7, 10, 1, 0, 5),
            utc(2026, 1, 1),
            utc(2026, 7, 11, 1, 15),
            id="cron + grace, in UTC",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN, grace=900),
            None,
            utc(2026, 1, 10, 12),
            utc(2026, 1, 11, 2, 15),
            id="cron, never pinged",
        ),
    ],
)
def test_late_time(
    schedule: HeartbeatSchedule,
    last_success: datetime | None,
    registered_at: datetime,
    expected: datetime,
) -> None:
    since = registered_at if last_success is None else last_success
    assert Heard(schedule, next_due(schedule, since)).late_at == expected


@pytest.mark.parametrize(
    ("last_success", "due", "now", "reason"),
    [
        pytest.param(
            T0,
            utc(2026, 12, 6, 14, 3),
            at(432),
            "no ping for 7m 12s (due at 2026-12-06T14:03:00Z)",
            id="late",
        ),
        pytest.param(
            None,
            utc(2026, 12, 6, 14, 3),
            at(432),
            "no ping yet (due at 2026-12-06T14:03:00Z)",
            id="never pinged",
        ),
        pytest.param(
            T0,
            at(180.75),
            at(90061),
            "no ping for 1d 1h 1m 1s (due at 2026-12-06T14:03:00Z)",
            id="long silence; due time to the second",
        ),
    ],
)
def test_lateness_reason(
    last_success: datetime | None, due: datetime, now: datetime, reason: str
) -> None:
    assert lateness_reason(last_success, due, now) == reason


LIMITS = every(3600, max_duration_seconds=600, min_duration_seconds=5, min_gap_seconds=60)
NO_LIMITS = every(3600)


@pytest.mark.parametrize(
    ("schedule", "started", "finished", "previous", "exit_status", "failed", "verdict"),
    [
        pytest.param(NO_LIMITS, None, 100, None, None, False, (True, None, None), id="success"),
        pytest.param(
            NO_LIMITS, 10, 100, 0, None, False, (True, None, 90_000.0), id="timed success"
        ),
        pytest.param(LIMITS, 10, 100, 0, 0, False, (True, None, 90_000.0), id="exit status 0"),
        pytest.param(
            LIMITS, 10, 100, None, 2, False, (False, "exit status 2", 90_000.0), id="exit status 2"
        ),
        pytest.param(
            LIMITS, None, 100, None, 255, False, (False, "exit status 255", None), id="exit 255"
        ),
        pytest.param(
            LIMITS,
            None,
            100,
            None,
            None,
            True,
            (False, "failure reported", None),
            id="failure reported",
        ),
        pytest.param(
            LIMITS,
            0,
            900,
            880,
            3,
            True,
            (False, "exit status 3", 900_000.0),
            id="exit status before failure, too long, too often",
        ),
        pytest.param(
            LIMITS,
            0,
            900,
            880,
            None,
            True,
            (False, "failure reported", 900_000.0),
            id="failure before too long",
        ),
        pytest.param(
            LIMITS,
            0,
            723,
            None,
            None,
            False,
            (False, "ran for 12m 3s, longer than the 10m allowed", 723_000.0),
            id="too long",
        ),
        pytest.param(LIMITS, 0, 600, None, None, False, (True, None, 600_000.0), id="max: ok"),
        pytest.param(
            LIMITS,
            0,
            723,
            713,
            None,
            False,
            (False, "ran for 12m 3s, longer than the 10m allowed", 723_000.0),
            id="too long before too often",
        ),
        pytest.param(
            LIMITS,
            0,
            0.4,
            None,
            None,
            False,
            (
                False,
                "finished in 0.4s, sooner than the 5s expected: it probably did nothing",
                400.0,
            ),
            id="too short",
        ),
        pytest.param(
            LIMITS,
            0,
            4.96,
            None,
            None,
            False,
            (
                False,
                "finished in 4.9s, sooner than the 5s expected: it probably did nothing",
                4960.0,
            ),
            id="too short: tenths are cut, never rounded up to the limit",
        ),
        pytest.param(LIMITS, 0, 5, None, None, False, (True, None, 5000.0), id="min: ok"),
        pytest.param(
            LIMITS,
            99,
            100,
            80,
            None,
            False,
            (
                False,
                "finished in 1s, sooner than the 5s expected: it probably did nothing",
                1000.0,
            ),
            id="too short before too often",
        ),
        pytest.param(
            LIMITS,
            None,
            100,
            80,
            None,
            False,
            (
                False,
                "pinged 20s after the previous success, closer than the 1m allowed: "
                "it runs too often",
                None,
            ),
            id="too often",
        ),
        pytest.param(
            LIMITS,
            None,
            100,
            100.5,
            None,
            False,
            (True, None, None),
            id="out of order: a previous success stamped later is not judged against",
        ),
        pytest.param(LIMITS, None, 100, 40, None, False, (True, None, None), id="gap: ok"),
        pytest.param(
            LIMITS, None, 100, None, None, False, (True, None, None), id="first success: no gap"
        ),
        pytest.param(
            LIMITS,
            101,
            100,
            None,
            None,
            False,
            (True, None, None),
            id="start after finish (clock stepped back): no duration",
        ),
    ],
)
def test_judge_run(
    schedule: HeartbeatSchedule,
    started: float | None,
    finished: float,
    previous: float | None,
    exit_status: int | None,
    failed: bool,
    verdict: tuple[bool, str | None, float | None],
) -> None:
    up, reason, duration_ms = judge_run(
        schedule,
        None if started is None else at(started),
        at(finished),
        None if previous is None else at(previous),
        exit_status,
        failed,
    )
    assert (up, reason) == verdict[:2]
    assert duration_ms == pytest.approx(verdict[2])


@pytest.mark.parametrize(
    ("schedule", "elapsed", "reason"),
    [
        pytest.param(NO_LIMITS, 86_400, None, id="no limit set"),
        pytest.param(
            every(3600, max_duration_seconds=600),
            720,
            "started 12m ago and not finished (allowed 10m)",
            id="past max duration",
        ),
        pytest.param(every(3600, max_duration_seconds=600), 600, None, id="at max duration"),
        pytest.param(every(3600, max_duration_seconds=600), 300, None, id="within max duration"),
        pytest.param(
            every(3600, max_duration_seconds=600, start_grace_seconds=300),
            360,
            "started 6m ago and not finished (allowed 5m)",
            id="start grace before max duration",
        ),
        pytest.param(
            every(3600, max_duration_seconds=600, start_grace_seconds=900),
            720,
            None,
            id="a longer start grace overrides max duration",
        ),
        pytest.param(
            every(3600, start_grace_seconds=90),
            3725,
            "started 1h 2m 5s ago and not finished (allowed 1m 30s)",
            id="start grace alone",
        ),
        pytest.param(
            every(3600, start_grace_seconds=1),
            1.05,
            "started 2s ago and not finished (allowed 1s)",
            id="just past the allowance reads as past it",
        ),
    ],
)
def test_start_overdue(schedule: HeartbeatSchedule, elapsed: float, reason: str | None) -> None:
    assert start_overdue(schedule, T0, at(elapsed)) == reason


@pytest.mark.parametrize(
    ("reason", "counted_as"),
    [
        (lateness_reason(T0, at(60), at(432)), "late"),
        (lateness_reason(None, at(60), at(432)), "late"),
        (
            judge_run(every(60, max_duration_seconds=1), T0, at(2), None, None, False)[1],
            "ran too long",
        ),
        (
            judge_run(every(60, min_duration_seconds=5), T0, at(1), None, None, False)[1],
            "finished too soon",
        ),
        (
            judge_run(every(60, min_gap_seconds=30), None, at(10), T0, None, False)[1],
            "ran too often",
        ),
        (start_overdue(every(60, start_grace_seconds=1), T0, at(5)), "did not finish"),
        ("exit status 2", None),
        ("failure reported", None),
    ],
)
def test_a_failure_counts_as_one_outcome_whatever_its_times(
    reason: str | None, counted_as: str | None
) -> None:
    assert reason is not None
    assert outcome(reason) == counted_as


def heard(schedule: HeartbeatSchedule, due: float, **state: Any) -> Heard:
    """What a heartbeat has heard: its next ping due `due` seconds after T0."""
    return Heard(schedule, at(due), **state)


def test_a_start_opens_a_run_and_its_finish_times_it() -> None:
    state = heard(every(60, 10), 60)
    assert hear(state, "start", at(5), "a") is None
    assert hear(state, "start", at(6), "b") is None
    assert list(state.runs) == ["a", "b"]
    verdict = hear(state, "success", at(8), "a")
    assert verdict == Verdict(True, None, 3000.0)
    assert list(state.runs) == ["b"]
    assert (state.due_at, state.last_ping_at, state.last_success_at) == (at(68), at(8), at(8))


def test_a_failed_run_moves_the_due_time_but_not_the_last_success() -> None:
    state = heard(every(60), 60, last_success_at=T0)
    assert hear(state, "fail", at(30), exit_status=2) == Verdict(False, "exit status 2", None)
    assert (state.due_at, state.last_ping_at, state.last_success_at) == (at(90), at(30), T0)


def test_a_restarted_run_keeps_the_later_start_and_the_oldest_runs_go_beyond_the_bound() -> None:
    state = heard(every(60), 60)
    for index in range(MAX_RUNS + 2):
        hear(state, "start", at(index), str(index))
    hear(state, "start", at(500), "5")
    assert len(state.runs) == MAX_RUNS
    assert "0" not in state.runs and "1" not in state.runs
    assert state.runs["5"] == OpenRun(at(500))
    assert list(state.runs)[-1] == "5"


def test_a_ping_older_than_one_heard_moves_nothing_back() -> None:
    state = heard(every(60, min_gap_seconds=30), 100, last_ping_at=at(40), last_success_at=at(40))
    verdict = hear(state, "success", at(35))
    assert verdict == Verdict(True, None, None)  # not "too often": its predecessor is unknown
    assert (state.due_at, state.last_ping_at, state.last_success_at) == (at(100), at(40), at(40))


@pytest.mark.parametrize(
    ("schedule", "due", "runs", "now", "reason", "due_after"),
    [
        pytest.param(every(60, 10), 60, {}, 65, None, 60, id="within grace: pinged meanwhile"),
        pytest.param(
            every(60, 10),
            60,
            {},
            70,
            "no ping yet (due at 2026-12-06T14:01:00Z)",
            120,
            id="late at due plus grace; the next due time is one step on",
        ),
        pytest.param(
            every(60, 10),
            60,
            {},
            200,
            "no ping yet (due at 2026-12-06T14:01:00Z)",
            240,
            id="late for several steps: one failure, the due time past now",
        ),
        pytest.param(
            every(3600, start_grace_seconds=60),
            3600,
            {"": OpenRun(T0)},
            61,
            "started 1m 1s ago and not finished (allowed 1m)",
            3600,
            id="a run open too long, before the due time",
        ),
        pytest.param(
            every(3600, start_grace_seconds=60),
            3600,
            {"": OpenRun(T0, overdue=True)},
            120,
            None,
            3600,
            id="an overdue run is reported once",
        ),
        pytest.param(
            every(60, start_grace_seconds=5),
            60,
            {"a": OpenRun(T0)},
            70,
            "started 1m 10s ago and not finished (allowed 5s); "
            "no ping yet (due at 2026-12-06T14:01:00Z)",
            120,
            id="both at once: one failure naming both",
        ),
        pytest.param(
            cron("0 3 * * *", BERLIN, grace=600),
            -43200,
            {},
            3600,
            "no ping yet (due at 2026-12-06T02:00:00Z)",
            43200,
            id="cron: the next due time is the first whose late time is after now",
        ),
    ],
)
def test_silence(
    schedule: HeartbeatSchedule,
    due: float,
    runs: dict[str, OpenRun],
    now: float,
    reason: str | None,
    due_after: float,
) -> None:
    state = heard(schedule, due, runs=dict(runs))
    verdict = silence(state, at(now))
    assert (verdict.reason if verdict else None) == reason
    assert verdict is None or verdict.up is False
    assert state.due_at == at(due_after)


@pytest.mark.parametrize(
    ("schedule", "runs", "look"),
    [
        pytest.param(every(60, 10), {}, 70, id="the late time"),
        pytest.param(
            every(60, 10, start_grace_seconds=5),
            {"a": OpenRun(at(20))},
            25,
            id="sooner, when a run will be overdue",
        ),
        pytest.param(
            every(60, 10, max_duration_seconds=30),
            {"a": OpenRun(at(20))},
            50,
            id="max duration when no start grace",
        ),
        pytest.param(
            every(60, 10, start_grace_seconds=5),
            {"a": OpenRun(at(20), overdue=True)},
            70,
            id="not for a run reported overdue",
        ),
        pytest.param(every(60, 10), {"a": OpenRun(at(20))}, 70, id="no limit on runs"),
    ],
)
def test_next_look(schedule: HeartbeatSchedule, runs: dict[str, OpenRun], look: float) -> None:
    assert next_look(heard(schedule, 60, runs=runs)) == at(look)
