"""The alert rules as pure functions, table-driven: the availability and failure rules, the
confirmed state that gates them, maintenance and parent suppression, flapping, degraded
response times, the messages, and where alerts go."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statuschecker.model import AlertKind, AlertPolicy, EventKind, Receiver, Webhook
from statuschecker.rules.alerts import (
    AlertState,
    Decision,
    Rule,
    Subject,
    Window,
    by_state,
    decide,
    duration,
    evaluate,
    message,
    recipients,
)
from statuschecker.rules.histogram import bounds, bucket_of, count, merge, quantile

AVAILABILITY_ONLY = AlertPolicy(availability_threshold_percent=80, min_checks=2)
FAILURES_ONLY = AlertPolicy(
    availability_threshold_percent=0, min_checks=1_000_000, max_failures=3
)  # the availability rule never has enough evidence, so only the failure count decides
FLAPPING = replace(AVAILABILITY_ONLY, flap_changes=3, flap_window_seconds=600)
DEGRADED = replace(
    AVAILABILITY_ONLY,
    response_time_ms_above=500,
    response_time_statistic="p95",
    response_time_window_seconds=300,
)
NO_CHECKS = Window(0, 0)
HEALTHY = Window(4, 0)  # 100 %: no rule breached
FAILING = Window(4, 3)  # 25 %: the availability rule breached

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
AN_HOUR_AGO = AT - timedelta(hours=1)
TIME = "2024-05-01T12:00:00Z"


# --- evaluate: the availability and failure rules ------------------------------------------


@pytest.mark.parametrize(
    ("window", "state", "expected"),
    [
        pytest.param(NO_CHECKS, "ok", None, id="no records"),
        pytest.param(NO_CHECKS, "alerting", None, id="no records while down"),
        pytest.param(Window(1, 1), "ok", None, id="too few records, all failed"),
        pytest.param(Window(10, 1), "ok", None, id="enough, above threshold, up"),
        pytest.param(Window(10, 2), "ok", "down", id="enough, exactly at threshold, up"),
        pytest.param(Window(10, 9), "ok", "down", id="enough, below threshold, up"),
        pytest.param(Window(10, 9), "alerting", None, id="enough, below threshold, down"),
        pytest.param(Window(5, 1), "alerting", None, id="enough, at threshold, down"),
        pytest.param(Window(10, 1), "alerting", "recovered", id="enough, above threshold, down"),
        pytest.param(Window(1, 0), "alerting", None, id="too few records while down"),
    ],
)
def test_availability_rule(window: Window, state: AlertState, expected: str | None) -> None:
    verdict = evaluate(AVAILABILITY_ONLY, state, window, NO_CHECKS)
    assert (verdict.kind if verdict else None) == expected
    if verdict:
        assert verdict.rule == "availability"
        assert verdict.availability_percent == window.availability_percent
        assert verdict.window_seconds == AVAILABILITY_ONLY.window_seconds


@pytest.mark.parametrize(
    ("window", "state", "expected"),
    [
        pytest.param(NO_CHECKS, "ok", None, id="no records"),
        pytest.param(Window(10, 0), "ok", None, id="no failures, up"),
        pytest.param(Window(10, 3), "ok", None, id="failures at the limit, up"),
        pytest.param(Window(10, 4), "ok", "down", id="failures over the limit, up"),
        pytest.param(Window(10, 9), "alerting", None, id="failures over the limit, down"),
        pytest.param(Window(10, 3), "alerting", "recovered", id="failures back at the limit"),
        pytest.param(NO_CHECKS, "alerting", None, id="no records while down"),
    ],
)
def test_failure_count_rule(window: Window, state: AlertState, expected: str | None) -> None:
    verdict = evaluate(FAILURES_ONLY, state, NO_CHECKS, window)
    assert (verdict.kind if verdict else None) == expected
    if verdict:
        assert verdict.rule == "failures"
        assert verdict.window_seconds == FAILURES_ONLY.failure_window_seconds


def test_failure_count_rule_off_decides_nothing() -> None:
    assert evaluate(AVAILABILITY_ONLY, "ok", NO_CHECKS, Window(10, 10)) is None


@pytest.mark.parametrize(
    ("availability", "failures", "state", "expected"),
    [
        pytest.param(
            Window(10, 0), Window(30, 5), "ok", ("down", "failures"), id="either rule raises"
        ),
        pytest.param(
            Window(10, 0),
            Window(30, 1),
            "alerting",
            ("recovered", "availability"),
            id="both healthy recovers",
        ),
        pytest.param(Window(10, 0), Window(30, 5), "alerting", None, id="one still breached"),
        pytest.param(
            Window(10, 9),
            Window(30, 9),
            "ok",
            ("down", "availability"),
            id="availability breached first",
        ),
        pytest.param(
            NO_CHECKS,
            Window(30, 1),
            "alerting",
            ("recovered", "failures"),
            id="a rule without evidence leaves the other to recover",
        ),
    ],
)
def test_rules_together(
    availability: Window,
    failures: Window,
    state: AlertState,
    expected: tuple[str, str] | None,
) -> None:
    policy = AlertPolicy(max_failures=3)
    verdict = evaluate(policy, state, availability, failures)
    assert ((verdict.kind, verdict.rule) if verdict else None) == expected


# --- decide -------------------------------------------------------------------------------


def subject(
    policy: AlertPolicy = AVAILABILITY_ONLY,
    state: AlertState = "ok",
    availability: Window = HEALTHY,
    **changes: Any,
) -> Subject:
    """Service 3 `api` at AT, confirmed up unless told, alerting since an hour ago."""
    fields: dict[str, Any] = {
        "state_since": AN_HOUR_AGO if state == "alerting" else None,
        "confirmed": "uptime",
    }
    fields.update(changes)
    return Subject(
        service_id=3,
        name="api",
        policy=policy,
        state=state,
        at=AT,
        availability=availability,
        failures=NO_CHECKS,
        **fields,
    )


# An alert as (kind, rule, suppressed_by, held); a decision as its states after the rules.
Raised = tuple[AlertKind, str, int | None, bool]
States = tuple[AlertState, int | None, bool, bool]  # state, suppressed_by, degraded, flapping


def raised(decision: Decision) -> list[Raised]:
    return [(a.kind, a.rule, a.suppressed_by, a.held) for a in decision.alerts]


def states(decision: Decision) -> States:
    return (decision.state, decision.suppressed_by, decision.degraded, decision.flapping)


DOWN: Raised = ("down", "availability", None, False)
RECOVERED: Raised = ("recovered", "availability", None, False)
OK: States = ("ok", None, False, False)
ALERTING: States = ("alerting", None, False, False)


@pytest.mark.parametrize(
    ("given", "alerts", "after"),
    [
        pytest.param(subject(), [], OK, id="up and healthy: nothing"),
        pytest.param(
            subject(availability=FAILING, confirmed="downtime"),
            [DOWN],
            ALERTING,
            id="down confirmed: a down alert",
        ),
        pytest.param(
            subject(availability=FAILING, confirmed=None),
            [],
            OK,
            id="down verdict, nothing confirmed yet: no alert",
        ),
        pytest.param(
            subject(availability=FAILING, confirmed="uptime"),
            [],
            OK,
            id="down verdict, failure not confirmed (still uptime): no alert",
        ),
        pytest.param(
            subject(availability=FAILING, confirmed="downtime", in_maintenance=True),
            [],
            OK,
            id="down confirmed in maintenance: no alert",
        ),
        pytest.param(
            subject(availability=FAILING, confirmed="downtime", cause=5),
            [("down", "availability", 5, False)],
            ("alerting", 5, False, False),
            id="down while parent 5 fails: suppressed by 5",
        ),
        pytest.param(
            subject(availability=FAILING, confirmed="downtime", cause=5, in_maintenance=True),
            [],
            OK,
            id="down while parent fails, in maintenance: no alert",
        ),
        pytest.param(
            subject(state="alerting", availability=FAILING, confirmed="downtime"),
            [],
            ALERTING,
            id="still down: no repeat",
        ),
        pytest.param(
            subject(state="alerting", availability=FAILING, confirmed="downtime", suppressed_by=5),
            [],
            ("alerting", 5, False, False),
            id="still down, suppressed: the suppressing parent is kept",
        ),
        pytest.param(
            subject(state="alerting"),
            [RECOVERED],
            OK,
            id="recovery confirmed: a recovery alert",
        ),
        pytest.param(
            subject(state="alerting", confirmed="downtime"),
            [],
            ALERTING,
            id="recovered verdict while still confirmed down: recovery waits",
        ),
        pytest.param(
            subject(state="alerting", confirmed="downtime", suppressed_by=5),
            [],
            ("alerting", 5, False, False),
            id="recovery waits, suppression kept",
        ),
        pytest.param(
            subject(state="alerting", suppressed_by=5, cause=5),
            [("recovered", "availability", 5, False)],
            OK,
            id="recovery of a suppressed down alert: suppressed by the same parent",
        ),
        pytest.param(
            subject(state="alerting", suppressed_by=5, cause=None),
            [("recovered", "availability", 5, False)],
            OK,
            id="recovery of a suppressed down alert, parent back up: still suppressed",
        ),
        pytest.param(
            subject(state="alerting", cause=5),
            [RECOVERED],
            OK,
            id="recovery of a delivered down alert: never suppressed, even with a cause now",
        ),
        pytest.param(
            subject(state="alerting", in_maintenance=True),
            [RECOVERED],
            OK,
            id="recovery in maintenance is raised",
        ),
    ],
)
def test_decide_down_and_recovered(given: Subject, alerts: list[Raised], after: States) -> None:
    decision = decide(given)
    assert raised(decision) == alerts
    assert states(decision) == after


@pytest.mark.parametrize(
    ("given", "alerts", "after"),
    [
        pytest.param(
            subject(FLAPPING, state_changes=4),
            [("flapping", "flapping", None, False)],
            ("ok", None, False, True),
            id="more changes than the limit: one flapping alert, not held",
        ),
        pytest.param(
            subject(FLAPPING, state_changes=3),
            [],
            OK,
            id="changes at the limit: not flapping",
        ),
        pytest.param(
            subject(FLAPPING, flapping=True, state_changes=2),
            [],
            ("ok", None, False, True),
            id="still flapping, fewer changes: no new alert",
        ),
        pytest.param(
            subject(FLAPPING, flapping=True, state_changes=9),
            [],
            ("ok", None, False, True),
            id="still flapping, many changes: no repeat",
        ),
        pytest.param(
            subject(
                FLAPPING,
                flapping=True,
                state_changes=2,
                availability=FAILING,
                confirmed="downtime",
            ),
            [("down", "availability", None, True)],
            ("alerting", None, False, True),
            id="down while flapping: held",
        ),
        pytest.param(
            subject(FLAPPING, state="alerting", flapping=True, state_changes=1),
            [("recovered", "availability", None, True)],
            ("ok", None, False, True),
            id="recovered while flapping: held",
        ),
        pytest.param(
            subject(FLAPPING, availability=FAILING, confirmed="downtime", state_changes=4),
            [("flapping", "flapping", None, False), ("down", "availability", None, True)],
            ("alerting", None, False, True),
            id="starts flapping and goes down at once: the flapping alert, then a held down",
        ),
        pytest.param(
            subject(FLAPPING, flapping=True, state_changes=0),
            [("stable", "flapping", None, False)],
            OK,
            id="a whole window without change: one stable alert",
        ),
        pytest.param(
            subject(FLAPPING, state="alerting", flapping=True, state_changes=0),
            [("stable", "flapping", None, False), RECOVERED],
            OK,
            id="stable and recovered at once: the recovery is not held",
        ),
        pytest.param(
            subject(FLAPPING, state_changes=0),
            [],
            OK,
            id="not flapping, no change: no stable alert",
        ),
        pytest.param(
            subject(flapping=True, state_changes=4),
            [],
            OK,
            id="rule off: a stored flag is cleared silently",
        ),
        pytest.param(
            subject(flapping=True, availability=FAILING, confirmed="downtime"),
            [DOWN],
            ALERTING,
            id="rule off: alerts are not held",
        ),
    ],
)
def test_decide_flapping(given: Subject, alerts: list[Raised], after: States) -> None:
    decision = decide(given)
    assert raised(decision) == alerts
    assert states(decision) == after


@pytest.mark.parametrize(
    ("confirmed", "now"),
    [
        pytest.param("uptime", "it is up", id="up"),
        pytest.param("downtime", "it is down", id="down"),
    ],
)
def test_decide_stable_says_where_it_settled(confirmed: EventKind, now: str) -> None:
    state: AlertState = "alerting" if confirmed == "downtime" else "ok"
    given = subject(
        FLAPPING,
        state=state,
        availability=FAILING if confirmed == "downtime" else HEALTHY,
        confirmed=confirmed,
        flapping=True,
        state_changes=0,
    )
    decision = decide(given)
    (alert,) = decision.alerts
    assert (alert.kind, alert.window_seconds) == ("stable", 600)
    assert alert.message == (
        f"Service api is stable again: no change of state for 10m; {now}. time={TIME}"
    )
    assert decision.flapping is False


def test_decide_flapping_alert_counts_the_changes() -> None:
    (alert,) = decide(subject(FLAPPING, state_changes=4)).alerts
    assert (alert.window_seconds, alert.availability_percent, alert.downtime_seconds) == (
        600,
        None,
        None,
    )
    assert alert.message == (
        "Service api is flapping: its state changed 4 times in the last 10m. Alerts for each "
        f"change are held until it is stable. time={TIME}"
    )


DEGRADED_ALERT: Raised = ("degraded", "response_time", None, False)
FAST_AGAIN: Raised = ("recovered", "response_time", None, False)


@pytest.mark.parametrize(
    ("given", "alerts", "after"),
    [
        pytest.param(
            subject(DEGRADED, response_time_ms=800),
            [DEGRADED_ALERT],
            ("ok", None, True, False),
            id="slow while up: one degraded alert",
        ),
        pytest.param(
            subject(DEGRADED, response_time_ms=500),
            [],
            OK,
            id="at the threshold: not degraded",
        ),
        pytest.param(
            subject(DEGRADED, degraded=True, response_time_ms=800),
            [],
            ("ok", None, True, False),
            id="already degraded and slow: no repeat",
        ),
        pytest.param(
            subject(DEGRADED, degraded=True, response_time_ms=300),
            [FAST_AGAIN],
            OK,
            id="degraded and fast again: a recovery by response time",
        ),
        pytest.param(
            subject(DEGRADED, degraded=True, response_time_ms=500),
            [FAST_AGAIN],
            OK,
            id="back at the threshold: within it",
        ),
        pytest.param(
            subject(DEGRADED, response_time_ms=800, confirmed="downtime"),
            [],
            OK,
            id="slow while confirmed down: not degraded",
        ),
        pytest.param(
            subject(DEGRADED, response_time_ms=800, confirmed=None),
            [],
            OK,
            id="slow, nothing confirmed yet: not degraded",
        ),
        pytest.param(
            subject(DEGRADED, response_time_ms=None),
            [],
            OK,
            id="no evidence, not degraded: unchanged",
        ),
        pytest.param(
            subject(DEGRADED, degraded=True, response_time_ms=None),
            [],
            ("ok", None, True, False),
            id="no evidence, degraded: unchanged",
        ),
        pytest.param(
            subject(degraded=True, response_time_ms=800),
            [],
            OK,
            id="rule off: a stored flag is cleared silently",
        ),
        pytest.param(
            subject(
                replace(DEGRADED, flap_changes=3),
                flapping=True,
                state_changes=2,
                response_time_ms=800,
            ),
            [("degraded", "response_time", None, True)],
            ("ok", None, True, True),
            id="degraded while flapping: held",
        ),
    ],
)
def test_decide_degraded(given: Subject, alerts: list[Raised], after: States) -> None:
    decision = decide(given)
    assert raised(decision) == alerts
    assert states(decision) == after


def test_decide_degraded_alerts_carry_their_figures() -> None:
    (slow,) = decide(subject(DEGRADED, response_time_ms=800)).alerts
    assert (slow.window_seconds, slow.availability_percent, slow.downtime_seconds) == (
        300,
        None,
        None,
    )
    assert slow.message == (
        "Service api is slow (degraded): p95 response time 800 ms over the last 5m is above "
        f"500 ms. time={TIME}"
    )
    # Even with the service's down state known since an hour ago, a response-time recovery
    # counts no downtime.
    fast_again = subject(DEGRADED, degraded=True, response_time_ms=300, state_since=AN_HOUR_AGO)
    (fast,) = decide(fast_again).alerts
    assert (fast.kind, fast.rule, fast.downtime_seconds) == ("recovered", "response_time", None)
    assert fast.message == (
        "Service api is fast again: p95 response time 300 ms over the last 5m is within "
        f"500 ms. time={TIME}"
    )


def test_decide_raises_a_down_alert_with_its_figures() -> None:
    (alert,) = decide(subject(availability=FAILING, confirmed="downtime")).alerts
    assert (alert.id, alert.service_id, alert.service_name, alert.raised_at) == (0, 3, "api", AT)
    assert (alert.kind, alert.rule, alert.availability_percent) == ("down", "availability", 25.0)
    assert alert.window_seconds == AVAILABILITY_ONLY.window_seconds
    assert alert.downtime_seconds is None
    assert alert.message == f"Service api is down. availability=25.0%, time={TIME}"


def test_decide_a_suppressed_down_alert_says_it_is_not_sent() -> None:
    decision = decide(subject(availability=FAILING, confirmed="downtime", cause=5))
    (alert,) = decision.alerts
    assert (alert.suppressed_by, decision.suppressed_by) == (5, 5)
    assert alert.message == (
        f"Service api is down. availability=25.0%, time={TIME}; "
        "not sent: service 5 it depends on is failing"
    )


def test_decide_a_recovery_counts_the_time_since_the_alert() -> None:
    (alert,) = decide(subject(state="alerting", state_since=AN_HOUR_AGO)).alerts
    assert (alert.kind, alert.downtime_seconds) == ("recovered", 3600.0)
    assert alert.message == (
        f"Service api recovered. availability=100.0%, time={TIME}, downtime=1h"
    )


def test_decide_a_suppressed_recovery_reads_like_any_recovery() -> None:
    decision = decide(subject(state="alerting", suppressed_by=5))
    (alert,) = decision.alerts
    assert (alert.suppressed_by, decision.suppressed_by) == (5, None)
    assert "not sent" not in alert.message
    assert alert.message.startswith("Service api recovered.")


# A run of evaluations, each fed the states the previous one left: (changes to the subject,
# kinds of the alerts raised).
Step = tuple[dict[str, Any], list[tuple[AlertKind, int | None]]]


def run(policy: AlertPolicy, steps: list[Step]) -> list[Decision]:
    """Decide each step a minute after the previous one, carrying the alert states over as the
    recorder does (`state_since` is when the state last changed)."""
    state: AlertState = "ok"
    since: datetime | None = None
    carried: dict[str, Any] = {"suppressed_by": None, "degraded": False, "flapping": False}
    decisions = []
    for i, (step, expected) in enumerate(steps):
        changes = dict(step)
        now = AT + timedelta(minutes=i)
        given = Subject(
            service_id=3,
            name="api",
            policy=policy,
            state=state,
            state_since=since,
            at=now,
            availability=changes.pop("availability", HEALTHY),
            failures=NO_CHECKS,
            **{"confirmed": "uptime", **carried, **changes},
        )
        decision = decide(given)
        assert [(a.kind, a.suppressed_by) for a in decision.alerts] == expected, f"step {i}"
        if decision.state != state:
            state, since = decision.state, now
        carried = {
            "suppressed_by": decision.suppressed_by,
            "degraded": decision.degraded,
            "flapping": decision.flapping,
        }
        decisions.append(decision)
    return decisions


def test_one_alert_per_transition() -> None:
    decisions = run(
        AVAILABILITY_ONLY,
        [
            ({}, []),
            ({"availability": FAILING, "confirmed": "uptime"}, []),  # not confirmed yet
            ({"availability": FAILING, "confirmed": "downtime"}, [("down", None)]),
            ({"availability": FAILING, "confirmed": "downtime"}, []),
            ({"confirmed": "downtime"}, []),  # recovery not confirmed yet
            ({"confirmed": "uptime"}, [("recovered", None)]),
            ({}, []),
            ({"availability": FAILING, "confirmed": "downtime"}, [("down", None)]),
        ],
    )
    (recovery,) = decisions[5].alerts
    assert recovery.downtime_seconds == 180.0  # down at minute 2, recovered at minute 5
    assert recovery.message.endswith("downtime=3m")


def test_a_suppressed_outage_is_suppressed_to_its_end() -> None:
    run(
        AVAILABILITY_ONLY,
        [
            ({"availability": FAILING, "confirmed": "downtime", "cause": 5}, [("down", 5)]),
            ({"availability": FAILING, "confirmed": "downtime", "cause": None}, []),
            ({"cause": None}, [("recovered", 5)]),
            ({"availability": FAILING, "confirmed": "downtime"}, [("down", None)]),
            ({"cause": 5}, [("recovered", None)]),
        ],
    )


def test_flapping_then_stable() -> None:
    run(
        FLAPPING,
        [
            ({"state_changes": 4}, [("flapping", None)]),
            ({"state_changes": 2}, []),
            ({"state_changes": 1}, []),
            ({"state_changes": 0}, [("stable", None)]),
            ({"state_changes": 0}, []),
        ],
    )


def test_degraded_then_fast_again() -> None:
    run(
        DEGRADED,
        [
            ({"response_time_ms": 800}, [("degraded", None)]),
            ({"response_time_ms": 900}, []),
            ({"response_time_ms": None}, []),
            ({"response_time_ms": 300}, [("recovered", None)]),
            ({"response_time_ms": 300}, []),
        ],
    )


# --- message ------------------------------------------------------------------------------


MESSAGE_AT = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


def on_call(policy: AlertPolicy = AVAILABILITY_ONLY, **changes: Any) -> Subject:
    return replace(subject(policy), at=MESSAGE_AT, **changes)


@pytest.mark.parametrize(
    ("kind", "rule", "given", "decision", "availability", "downtime", "text"),
    [
        pytest.param(
            "down",
            "availability",
            on_call(),
            Decision(state="alerting"),
            33.333,
            None,
            "Service api is down. availability=33.3%, time=2026-03-01T12:00:05Z",
            id="down",
        ),
        pytest.param(
            "down",
            "failures",
            on_call(),
            Decision(state="alerting"),
            None,
            None,
            "Service api is down. availability=n/a%, time=2026-03-01T12:00:05Z",
            id="down without an availability figure",
        ),
        pytest.param(
            "down",
            "availability",
            on_call(cause=5),
            Decision(state="alerting", suppressed_by=5),
            33.333,
            None,
            "Service api is down. availability=33.3%, time=2026-03-01T12:00:05Z; "
            "not sent: service 5 it depends on is failing",
            id="down, suppressed",
        ),
        pytest.param(
            "recovered",
            "availability",
            on_call(),
            Decision(),
            100.0,
            3725,
            "Service api recovered. availability=100.0%, time=2026-03-01T12:00:05Z, "
            "downtime=1h 2m 5s",
            id="recovered",
        ),
        pytest.param(
            "recovered",
            "availability",
            on_call(),
            Decision(),
            100.0,
            None,
            "Service api recovered. availability=100.0%, time=2026-03-01T12:00:05Z, downtime=0s",
            id="recovered without a known downtime",
        ),
        pytest.param(
            "degraded",
            "response_time",
            on_call(DEGRADED, response_time_ms=812.4),
            Decision(degraded=True),
            None,
            None,
            "Service api is slow (degraded): p95 response time 812 ms over the last 5m is "
            "above 500 ms. time=2026-03-01T12:00:05Z",
            id="degraded, p95",
        ),
        pytest.param(
            "recovered",
            "response_time",
            on_call(
                replace(DEGRADED, response_time_statistic="avg", response_time_ms_above=250.5),
                response_time_ms=120,
            ),
            Decision(),
            None,
            None,
            "Service api is fast again: avg response time 120 ms over the last 5m is within "
            "250.5 ms. time=2026-03-01T12:00:05Z",
            id="fast again, avg",
        ),
        pytest.param(
            "flapping",
            "flapping",
            on_call(FLAPPING, state_changes=7),
            Decision(flapping=True),
            None,
            None,
            "Service api is flapping: its state changed 7 times in the last 10m. Alerts for "
            "each change are held until it is stable. time=2026-03-01T12:00:05Z",
            id="flapping",
        ),
        pytest.param(
            "stable",
            "flapping",
            on_call(FLAPPING, confirmed="uptime"),
            Decision(),
            None,
            None,
            "Service api is stable again: no change of state for 10m; it is up. "
            "time=2026-03-01T12:00:05Z",
            id="stable, up",
        ),
        pytest.param(
            "stable",
            "flapping",
            on_call(FLAPPING, confirmed="downtime"),
            Decision(state="alerting"),
            None,
            None,
            "Service api is stable again: no change of state for 10m; it is down. "
            "time=2026-03-01T12:00:05Z",
            id="stable, down",
        ),
    ],
)
def test_messages_follow_the_documented_format(
    kind: AlertKind,
    rule: Rule,
    given: Subject,
    decision: Decision,
    availability: float | None,
    downtime: float | None,
    text: str,
) -> None:
    assert message(kind, rule, given, decision, availability, downtime) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(0.4, "0s", id="under half a second"),
        pytest.param(42, "42s", id="seconds"),
        pytest.param(59.6, "1m", id="rounded up to a minute"),
        pytest.param(60, "1m", id="a minute"),
        pytest.param(3600, "1h", id="an hour"),
        pytest.param(3725, "1h 2m 5s", id="hours, minutes, seconds"),
        pytest.param(86400, "1d", id="a day"),
        pytest.param(90000, "1d 1h", id="a day and an hour"),
        pytest.param(90005, "1d 1h 5s", id="no empty minutes"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_histogram_buckets_cover_values_and_quantiles_stay_close() -> None:
    for value in (0.05, 0.1, 1.0, 12.5, 999.0, 59_000.0):
        lower, upper = bounds(bucket_of(value))
        assert lower <= value < upper
    values = [1 + (i % 500) * 0.7 for i in range(10_000)]  # 1 .. 350 ms
    histogram = merge([count(values[:4000]), count(values[4000:])])
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        assert quantile(histogram, q) == pytest.approx(exact, rel=0.10)
    assert quantile({}, 0.5) is None
    top = quantile(histogram, 1.0, maximum=350.3)
    assert top is not None and top <= 350.3


# --- recipients ---------------------------------------------------------------------------


GLOBAL = Receiver("webhook", "http://global.example/")


@pytest.mark.parametrize(
    ("policy", "receivers", "expected"),
    [
        pytest.param(AlertPolicy(), [], [], id="nowhere"),
        pytest.param(AlertPolicy(), [GLOBAL], [GLOBAL], id="global receivers only"),
        pytest.param(
            AlertPolicy(
                webhooks=(Webhook("http://hooks.example/a", "s"),),
                apprise_urls=("json://x.example/b",),
            ),
            [GLOBAL],
            [
                GLOBAL,
                Receiver("webhook", "http://hooks.example/a", "s"),
                Receiver("apprise", "json://x.example/b"),
            ],
            id="the global receivers, then the policy's own",
        ),
        pytest.param(
            AlertPolicy(webhooks=(Webhook("http://hooks.example/a"),)),
            [],
            [Receiver("webhook", "http://hooks.example/a", None)],
            id="a policy webhook without a secret",
        ),
    ],
)
def test_recipients(
    policy: AlertPolicy, receivers: list[Receiver], expected: list[Receiver]
) -> None:
    assert recipients(policy, receivers) == expected


@pytest.mark.parametrize(
    ("state", "confirmed", "expected"),
    [
        ("ok", "downtime", "down"),
        ("ok", "uptime", None),
        ("ok", None, None),
        ("alerting", "uptime", "recovered"),
        ("alerting", "downtime", None),
        ("alerting", None, None),
    ],
)
def test_a_heartbeats_alerts_follow_its_confirmed_state(
    state: Any, confirmed: EventKind | None, expected: str | None
) -> None:
    verdict = by_state(state, confirmed)
    assert (verdict.kind if verdict else None) == expected
    if verdict is not None:
        assert (verdict.rule, verdict.availability_percent, verdict.window_seconds) == (
            "state",
            None,
            0,
        )
