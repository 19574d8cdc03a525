"""The bucket rules, without a database: buckets of a moment, outcomes of a check, and which
sources answer a statistics range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from statuschecker.model import CheckResult
from statuschecker.rules.buckets import Part, bucket_of, ceil_to, outcome_of, plan

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "hours", "start"),
    [
        (t(5, 13, 59), 1, t(5, 13)),
        (t(5, 13, 59), 24, t(5)),
        (datetime(2026, 3, 5, 1, 30, tzinfo=timezone(timedelta(hours=2))), 24, t(4)),
        (datetime(2026, 3, 5, 1, 30, tzinfo=timezone(timedelta(hours=2))), 1, t(4, 23)),
    ],
)
def test_bucket_of(moment: datetime, hours: int, start: datetime) -> None:
    assert bucket_of(moment, hours) == start


@pytest.mark.parametrize(
    ("moment", "step", "boundary"),
    [(t(5, 13), HOUR, t(5, 13)), (t(5, 13, 1), HOUR, t(5, 14)), (t(5, 13), DAY, t(6))],
)
def test_ceil_to(moment: datetime, step: timedelta, boundary: datetime) -> None:
    assert ceil_to(moment, step) == boundary


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (CheckResult(up=True, status_code=200), "200"),
        (CheckResult(up=False, status_code=503, error="status 503"), "503"),
        (CheckResult(up=False, error="timeout (deadline 2s)"), "timeout"),
        (CheckResult(up=False, error="DNS failure: x.invalid"), "DNS failure"),
        (CheckResult(up=False), "unknown"),
        (CheckResult(up=False, error="x" * 100), "x" * 64),
    ],
)
def test_outcome_of(result: CheckResult, outcome: str) -> None:
    assert outcome_of(result) == outcome


KEPT_FROM_START = t(1)


@pytest.mark.parametrize(
    ("since", "until", "horizon", "parts", "covered", "exact"),
    [
        pytest.param(
            t(5, 10, 15),
            t(5, 12, 5),
            KEPT_FROM_START,
            [("raw", t(5, 10, 15), t(5, 12, 5))],
            (t(5, 10, 15), t(5, 12, 5)),
            True,
            id="short range, ticks kept: raw, exact",
        ),
        pytest.param(
            t(5, 10, 15),
            t(7, 12, 5),
            KEPT_FROM_START,
            [
                ("raw", t(5, 10, 15), t(5, 11)),
                ("raw", t(7, 12), t(7, 12, 5)),
                (24, t(6), t(7)),
                (1, t(5, 11), t(6)),
                (1, t(7), t(7, 12)),
            ],
            (t(5, 10, 15), t(7, 12, 5)),
            False,
            id="long range: raw ends, hours around whole days",
        ),
        pytest.param(
            t(5, 10, 15),
            t(5, 12, 5),
            t(5, 11),
            [("raw", t(5, 12), t(5, 12, 5)), (1, t(5, 10), t(5, 12))],
            (t(5, 10), t(5, 12, 5)),
            False,
            id="start hour pruned: taken whole from its rollup",
        ),
        pytest.param(
            t(5, 10, 15),
            t(5, 10, 45),
            t(5, 12),
            [(1, t(5, 10), t(5, 11))],
            (t(5, 10, 15), t(5, 11)),
            False,
            id="inside one pruned hour: that hour's rollup, the end widened to it",
        ),
        pytest.param(
            t(5, 10),
            t(5, 10),
            KEPT_FROM_START,
            [("raw", t(5, 10), t(5, 10))],
            (t(5, 10), t(5, 10)),
            True,
            id="empty range",
        ),
    ],
)
def test_plan(
    since: datetime,
    until: datetime,
    horizon: datetime,
    parts: list[Part],
    covered: tuple[datetime, datetime],
    exact: bool,
) -> None:
    planned = plan(since, until, horizon)
    assert sorted(planned.parts, key=str) == sorted(parts, key=str)
    assert (planned.since, planned.until, planned.exact) == (*covered, exact)
