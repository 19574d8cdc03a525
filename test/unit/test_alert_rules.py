"""The alert rules as pure functions, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from statuschecker.model import AlertPolicy, Receiver, Webhook
from statuschecker.rules.alerts import (
    Subject,
    Window,
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
NO_CHECKS = Window(0, 0)


@pytest.mark.parametrize(
    ("case", "window", "state", "expected"),
    [
        ("no records", NO_CHECKS, "ok", None),
        ("no records while down", NO_CHECKS, "alerting", None),
        ("too few records, all failed", Window(1, 1), "ok", None),
        ("enough, above threshold, up", Window(10, 1), "ok", None),
        ("enough, exactly at threshold, up", Window(10, 2), "ok", "down"),
        ("enough, below threshold, up", Window(10, 9), "ok", "down"),
        ("enough, below threshold, down", Window(10, 9), "alerting", None),
        ("enough, at threshold, down", Window(5, 1), "alerting", None),
        ("enough, above threshold, down", Window(10, 1), "alerting", "recovered"),
        ("too few records while down", Window(1, 0), "alerting", None),
    ],
)
def test_availability_rule(case: str, window: Window, state: str, expected: str | None) -> None:
    verdict = evaluate(AVAILABILITY_ONLY, state, window, NO_CHECKS)  # type: ignore[arg-type]
    assert (verdict.kind if verdict else None) == expected, case
    if verdict:
        assert verdict.rule == "availability"
        assert verdict.availability_percent == window.availability_percent
        assert verdict.window_seconds == AVAILABILITY_ONLY.window_seconds


@pytest.mark.parametrize(
    ("case", "window", "state", "expected"),
    [
        ("no records", NO_CHECKS, "ok", None),
        ("no failures, up", Window(10, 0), "ok", None),
        ("failures at the limit, up", Window(10, 3), "ok", None),
        ("failures over the limit, up", Window(10, 4), "ok", "down"),
        ("failures over the limit, down", Window(10, 9), "alerting", None),
        ("failures back at the limit, down", Window(10, 3), "alerting", "recovered"),
        ("no records while down", NO_CHECKS, "alerting", None),
    ],
)
def test_failure_count_rule(case: str, window: Window, state: str, expected: str | None) -> None:
    verdict = evaluate(FAILURES_ONLY, state, NO_CHECKS, window)  # type: ignore[arg-type]
    assert (verdict.kind if verdict else None) == expected, case
    if verdict:
        assert verdict.rule == "failures"
        assert verdict.window_seconds == FAILURES_ONLY.failure_window_seconds


@pytest.mark.parametrize(
    ("case", "availability", "failures", "state", "expected"),
    [
        ("either rule breached raises", Window(10, 0), Window(30, 5), "ok", ("down", "failures")),
        (
            "both healthy recovers",
            Window(10, 0),
            Window(30, 1),
            "alerting",
            ("recovered", "availability"),
        ),
        ("one still breached holds", Window(10, 0), Window(30, 5), "alerting", None),
        (
            "availability breached first",
            Window(10, 9),
            Window(30, 9),
            "ok",
            ("down", "availability"),
        ),
    ],
)
def test_rules_together(
    case: str, availability: Window, failures: Window, state: str, expected: tuple | None
) -> None:
    policy = AlertPolicy(max_failures=3)
    verdict = evaluate(policy, state, availability, failures)  # type: ignore[arg-type]
    assert ((verdict.kind, verdict.rule) if verdict else None) == expected, case


def test_messages_follow_the_documented_format() -> None:
    at = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    assert message("down", "api", 33.333, at) == (
        "Service api is down. availability=33.3%, time=2026-03-01T12:00:05Z"
    )
    assert message("recovered", "api", 100.0, at, 3725) == (
        "Service api recovered. availability=100.0%, time=2026-03-01T12:00:05Z, downtime=1h 2m 5s"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42, "42s"), (60, "1m"), (3725, "1h 2m 5s"), (90000, "1d 1h")],
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


def subject(state: str, availability: Window, since: datetime | None = None) -> Subject:
    return Subject(
        service_id=3,
        name="api",
        policy=AVAILABILITY_ONLY,
        state=state,  # type: ignore[arg-type]
        state_since=since,
        at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        availability=availability,
        failures=Window(0, 0),
    )


def test_decide_raises_a_down_alert_with_its_figures() -> None:
    alert = decide(subject("ok", Window(4, 3)))
    assert alert is not None
    assert (alert.kind, alert.rule, alert.availability_percent) == ("down", "availability", 25.0)
    assert alert.downtime_seconds is None
    assert alert.message.startswith("Service api is down. availability=25.0%")


def test_decide_a_recovery_counts_the_time_since_the_alert() -> None:
    since = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    alert = decide(subject("alerting", Window(4, 0), since))
    assert alert is not None
    assert (alert.kind, alert.downtime_seconds) == ("recovered", 3600.0)
    assert alert.message.endswith("downtime=1h")


def test_decide_nothing_without_a_transition() -> None:
    assert decide(subject("ok", Window(4, 0))) is None
    assert decide(subject("alerting", Window(4, 4))) is None


def test_recipients_are_the_global_receivers_then_the_policy_own() -> None:
    policy = AlertPolicy(
        webhooks=(Webhook("http://hooks.example/a", "s"),),
        apprise_urls=("json://x.example/b",),
    )
    glob = Receiver("webhook", "http://global.example/")
    assert recipients(policy, [glob]) == [
        glob,
        Receiver("webhook", "http://hooks.example/a", "s"),
        Receiver("apprise", "json://x.example/b"),
    ]
