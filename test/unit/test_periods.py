"""The period rules, without a database: which stored periods a batch ends, which it begins,
the state changes it reports, and how runs of outcomes confirm them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuschecker.model import CheckOutcome, CheckResult, Confirmation
from statuschecker.rules.periods import (
    NewPeriod,
    OpenPeriod,
    Run,
    ServiceState,
    StateChange,
    transitions,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def outcome(
    seconds: float,
    up: bool,
    service_id: int = 1,
    error: str | None = None,
    in_maintenance: bool = False,
) -> CheckOutcome:
    result = CheckResult(up=up, error=error if not up else None)
    return CheckOutcome(service_id, at(seconds), result, in_maintenance)


AT_ONCE = Confirmation(down_after=1, up_after=1)


def at_once(open_periods: dict[int, OpenPeriod]) -> dict[int, ServiceState]:
    """Every outcome confirms its kind at once (the rules before confirmation existed)."""
    return {sid: ServiceState(period, None, AT_ONCE) for sid, period in open_periods.items()}


UP_SINCE_0 = {1: OpenPeriod(event_id=7, kind="uptime", started=at(0))}
DOWN_SINCE_0 = {1: OpenPeriod(event_id=7, kind="downtime", started=at(0))}


@pytest.mark.parametrize(
    ("open_periods", "run", "ended", "begun", "changes"),
    [
        pytest.param({}, [], [], [], [], id="nothing"),
        pytest.param(
            {},
            [outcome(1, True)],
            [],
            [NewPeriod(1, "uptime", at(1), None)],
            [StateChange(1, None, "uptime", at(1))],
            id="first check begins the first period",
        ),
        pytest.param(
            {},
            [outcome(1, False, error="timeout")],
            [],
            [NewPeriod(1, "downtime", at(1), "timeout")],
            [StateChange(1, None, "downtime", at(1))],
            id="a first failure keeps its reason",
        ),
        pytest.param(UP_SINCE_0, [outcome(5, True), outcome(6, True)], [], [], [], id="same state"),
        pytest.param(
            UP_SINCE_0,
            [outcome(5, True), outcome(6, False, error="status 503")],
            [(7, at(6))],
            [NewPeriod(1, "downtime", at(6), "status 503")],
            [StateChange(1, "uptime", "downtime", at(6))],
            id="a failure ends the stored uptime",
        ),
        pytest.param(
            DOWN_SINCE_0,
            [outcome(3, True), outcome(4, False, error="reset"), outcome(5, True)],
            [(7, at(3))],
            [
                NewPeriod(1, "uptime", at(3), None, ended=at(4)),
                NewPeriod(1, "downtime", at(4), "reset", ended=at(5)),
                NewPeriod(1, "uptime", at(5), None),
            ],
            [
                StateChange(1, "downtime", "uptime", at(3)),
                StateChange(1, "uptime", "downtime", at(4)),
                StateChange(1, "downtime", "uptime", at(5)),
            ],
            id="flapping within a batch: only the last period stays open",
        ),
        pytest.param(
            {1: OpenPeriod(7, "uptime", at(10))},
            [outcome(8, False, error="x")],
            [(7, at(10))],
            [NewPeriod(1, "downtime", at(10), "x")],
            [StateChange(1, "uptime", "downtime", at(10))],
            id="never ends a period before it began (clock stepped back)",
        ),
        pytest.param(
            {1: OpenPeriod(7, "uptime", at(0)), 2: OpenPeriod(8, "downtime", at(0))},
            [outcome(1, False, 1, "a"), outcome(1, False, 2, "b"), outcome(2, True, 2)],
            [(7, at(1)), (8, at(2))],
            [NewPeriod(1, "downtime", at(1), "a"), NewPeriod(2, "uptime", at(2), None)],
            [
                StateChange(1, "uptime", "downtime", at(1)),
                StateChange(2, "downtime", "uptime", at(2)),
            ],
            id="services apart",
        ),
    ],
)
def test_transitions(
    open_periods: dict[int, OpenPeriod],
    run: list[CheckOutcome],
    ended: list[tuple[int, datetime]],
    begun: list[NewPeriod],
    changes: list[StateChange],
) -> None:
    states = at_once(open_periods) | {
        sid: ServiceState(None, None, AT_ONCE)
        for sid in {o.service_id for o in run}
        if sid not in open_periods
    }
    decided = transitions(states, run)
    assert decided.ended == ended
    assert decided.begun == begun
    assert decided.changes == changes


def test_at_most_one_period_per_service_stays_open() -> None:
    run = [outcome(s, s % 3 == 0, service_id=s % 4) for s in range(200)]
    decided = transitions({sid: ServiceState(confirmation=AT_ONCE) for sid in range(4)}, run)
    still_open = [p.service_id for p in decided.begun if p.ended is None]
    assert sorted(still_open) == sorted(set(still_open)) == [0, 1, 2, 3]


THREE_DOWN_TWO_UP = Confirmation(down_after=3, up_after=2)


def confirming(period: OpenPeriod | None, run: Run | None = None) -> dict[int, ServiceState]:
    return {1: ServiceState(period, run, THREE_DOWN_TWO_UP)}


UP_0 = OpenPeriod(7, "uptime", at(0))
DOWN_0 = OpenPeriod(7, "downtime", at(0))


@pytest.mark.parametrize(
    ("states", "run", "ended", "begun", "left"),
    [
        pytest.param(
            confirming(UP_0),
            [outcome(1, False, error="a"), outcome(2, False, error="b"), outcome(3, True)],
            [],
            [],
            None,
            id="two failures then a success: nothing confirmed, the run forgotten",
        ),
        pytest.param(
            confirming(UP_0),
            [outcome(s, False, error=f"e{s}") for s in (1, 2, 3, 4)],
            [(7, at(1))],
            [NewPeriod(1, "downtime", at(1), "e1")],
            None,
            id="the third failure confirms a downtime starting at the first, with its error",
        ),
        pytest.param(
            confirming(UP_0),
            [outcome(1, False, error="a"), outcome(2, False, error="b")],
            [],
            [],
            Run("downtime", 2, at(1), "a"),
            id="an unconfirmed run is handed on",
        ),
        pytest.param(
            confirming(UP_0, Run("downtime", 2, at(1), "a")),
            [outcome(5, False, error="c")],
            [(7, at(1))],
            [NewPeriod(1, "downtime", at(1), "a")],
            None,
            id="a run carried over from an earlier batch confirms in this one",
        ),
        pytest.param(
            confirming(DOWN_0),
            [outcome(5, True), outcome(6, False, error="x"), outcome(7, True), outcome(8, True)],
            [(7, at(7))],
            [NewPeriod(1, "uptime", at(7), None)],
            None,
            id="recovery needs two successes in a row and starts at the first of them",
        ),
        pytest.param(
            confirming(UP_0),
            [outcome(s, False, error="m", in_maintenance=True) for s in (1, 2, 3, 4)],
            [],
            [],
            None,
            id="failures in maintenance confirm nothing",
        ),
        pytest.param(
            confirming(UP_0),
            [
                outcome(1, False, error="m", in_maintenance=True),
                outcome(2, False, error="a"),
                outcome(3, False, error="b"),
            ],
            [],
            [],
            Run("downtime", 2, at(2), "a"),
            id="the run begins after the window",
        ),
        pytest.param(
            confirming(DOWN_0),
            [outcome(1, True, in_maintenance=True), outcome(2, True, in_maintenance=True)],
            [(7, at(1))],
            [NewPeriod(1, "uptime", at(1), None)],
            None,
            id="recovery is confirmed in maintenance as outside",
        ),
        pytest.param(
            confirming(None),
            [outcome(1, False, error="a"), outcome(2, False, error="b")],
            [],
            [],
            Run("downtime", 2, at(1), "a"),
            id="a new service failing is not down before confirmation",
        ),
        pytest.param(
            confirming(None),
            [outcome(1, True), outcome(2, True)],
            [],
            [NewPeriod(1, "uptime", at(1), None)],
            None,
            id="a new service is up once its successes are confirmed",
        ),
    ],
)
def test_confirmation(
    states: dict[int, ServiceState],
    run: list[CheckOutcome],
    ended: list[tuple[int, datetime]],
    begun: list[NewPeriod],
    left: Run | None,
) -> None:
    decided = transitions(states, run)
    assert decided.ended == ended
    assert decided.begun == begun
    assert decided.runs[1] == left
