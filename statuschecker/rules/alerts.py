"""Alert rules (pure functions over a window of results), the alerts and messages they
produce, and where each alert is delivered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from statuschecker.model import Alert, AlertPolicy, Receiver
from statuschecker.timefmt import rfc3339

AlertState = Literal["ok", "alerting"]
AlertKind = Literal["down", "recovered"]


@dataclass(frozen=True, slots=True)
class Window:
    """How many checks fell in a rule's window and how many of them failed."""

    checks: int
    failures: int

    @property
    def availability_percent(self) -> float | None:
        """Share of successful checks, None without checks."""
        if self.checks == 0:
            return None
        return 100.0 * (self.checks - self.failures) / self.checks


@dataclass(frozen=True, slots=True)
class Verdict:
    """An alert to raise: its kind, the rule that decided, and the figures it saw."""

    kind: AlertKind
    rule: Literal["availability", "failures"]
    availability_percent: float | None
    window_seconds: int


def availability_breached(policy: AlertPolicy, window: Window) -> bool | None:
    """True when availability is at or below the threshold, False when above it, None when
    fewer than `min_checks` results fall in the window (no evidence either way)."""
    availability = window.availability_percent
    if window.checks < policy.min_checks or availability is None:
        return None
    return availability <= policy.availability_threshold_percent


def failures_breached(policy: AlertPolicy, window: Window) -> bool | None:
    """True when more than `max_failures` checks failed in the window; None when the rule
    is off or no check fell in the window."""
    if policy.max_failures is None or window.checks == 0:
        return None
    return window.failures > policy.max_failures


def evaluate(
    policy: AlertPolicy, state: AlertState, availability: Window, failures: Window
) -> Verdict | None:
    """Decide whether a transition happens, given the service's alert state.

    1. While `ok`: a down alert when any rule is breached (availability first).
    2. While `alerting`: a recovery when no rule is breached and at least one rule has the
       evidence to say so (a rule without evidence keeps the state as it is).
    3. Otherwise nothing: one alert per transition, never a repeat.
    """
    by_availability = availability_breached(policy, availability)
    by_failures = failures_breached(policy, failures)
    verdicts = [by_availability, by_failures]
    if state == "ok":
        if by_availability:
            return _verdict("down", "availability", policy, availability)
        if by_failures:
            return _verdict("down", "failures", policy, failures)
        return None
    if any(verdicts) or all(v is None for v in verdicts):
        return None
    if by_availability is False:
        return _verdict("recovered", "availability", policy, availability)
    return _verdict("recovered", "failures", policy, failures)


@dataclass(frozen=True, slots=True)
class Subject:
    """A service as its alert rules see it at its newest check `at`: its policy, alert state
    (and since when), and the checks in each rule's window ending at `at`."""

    service_id: int
    name: str
    policy: AlertPolicy
    state: AlertState
    state_since: datetime | None
    at: datetime
    availability: Window
    failures: Window


def decide(subject: Subject) -> Alert | None:
    """The alert the rules raise for `subject` (its id not known yet), or None. A recovery
    says how long the service was alerting."""
    verdict = evaluate(subject.policy, subject.state, subject.availability, subject.failures)
    if verdict is None:
        return None
    downtime = (
        (subject.at - subject.state_since).total_seconds()
        if verdict.kind == "recovered" and subject.state_since
        else None
    )
    text = message(verdict.kind, subject.name, verdict.availability_percent, subject.at, downtime)
    return Alert(
        id=0,
        service_id=subject.service_id,
        service_name=subject.name,
        kind=verdict.kind,
        rule=verdict.rule,
        message=text,
        availability_percent=verdict.availability_percent,
        window_seconds=verdict.window_seconds,
        raised_at=subject.at,
        downtime_seconds=downtime,
    )


def recipients(policy: AlertPolicy, receivers: Sequence[Receiver]) -> list[Receiver]:
    """Where an alert under `policy` goes: the global receivers, then the policy's own
    webhooks and apprise URLs."""
    return [
        *receivers,
        *(Receiver("webhook", hook.url, hook.secret) for hook in policy.webhooks),
        *(Receiver("apprise", url) for url in policy.apprise_urls),
    ]


def _verdict(
    kind: AlertKind, rule: Literal["availability", "failures"], policy: AlertPolicy, w: Window
) -> Verdict:
    seconds = policy.window_seconds if rule == "availability" else policy.failure_window_seconds
    return Verdict(kind, rule, w.availability_percent, seconds)


def message(
    kind: AlertKind,
    service_name: str,
    availability_percent: float | None,
    at: datetime,
    downtime_seconds: float | None = None,
) -> str:
    """The text stored with an alert and sent to receivers."""
    availability = "n/a" if availability_percent is None else f"{availability_percent:.1f}"
    time = rfc3339(at)
    if kind == "down":
        return f"Service {service_name} is down. availability={availability}%, time={time}"
    return (
        f"Service {service_name} recovered. availability={availability}%, time={time}, "
        f"downtime={duration(downtime_seconds or 0.0)}"
    )


def duration(seconds: float) -> str:
    """A duration as people read it: `1h 5m 12s`, `42s`, `3d 4h`."""
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    if whole or not parts:
        parts.append(f"{whole}s")
    return " ".join(parts)
