"""Alert rules (pure functions over a window of results), the alerts and messages they
produce, and where each alert is delivered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from statuschecker.model import Alert, AlertKind, AlertPolicy, EventKind, Receiver
from statuschecker.timefmt import duration, rfc3339

AlertState = Literal["ok", "alerting"]
Rule = Literal["availability", "failures", "response_time", "flapping", "state"]


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

    kind: Literal["down", "recovered"]
    rule: Literal["availability", "failures", "state"]
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


def by_state(state: AlertState, confirmed: EventKind | None) -> Verdict | None:
    """The down and recovered alerts of a service judged by its confirmed state alone (a
    heartbeat): down once a failure is confirmed, recovered once success is. A heartbeat's
    failed or missed run is evidence enough however rarely it runs, where the availability
    window of a daily job would hold a single check."""
    if state == "ok" and confirmed == "downtime":
        return Verdict("down", "state", None, 0)
    if state == "alerting" and confirmed == "uptime":
        return Verdict("recovered", "state", None, 0)
    return None


@dataclass(frozen=True, slots=True)
class Seen:
    """What a batch showed of a service: its newest check (and why it failed), its confirmed
    period after the batch, whether that check fell in maintenance, its failing parent, if
    any, and how many failed checks confirm it down."""

    at: datetime
    confirmed: EventKind | None
    in_maintenance: bool
    cause: int | None
    confirm_down_after: int = 1
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """A service as its alert rules see it at its newest check `at`.

    Its policy and stored alert states (`state` since `state_since`, `suppressed_by` of its
    last down alert, `degraded`, `flapping`); its confirmed period after the batch, whether
    its newest check fell in maintenance, the parent it depends on that is failing (`cause`);
    and the figures of each rule's window ending at `at`: checks and failures, the response
    time statistic (None: the rule is off or no successful check fell in its window), and
    how many times its confirmed state changed in the flapping window. For a service whose
    down alert was suppressed: when a failing parent was last seen, its failed checks since,
    and how many confirm down. `by_state`: its down and recovered alerts follow its confirmed
    state (a heartbeat, see `by_state`); `reason`: why its newest check failed.
    """

    service_id: int
    name: str
    policy: AlertPolicy
    state: AlertState
    state_since: datetime | None
    at: datetime
    availability: Window
    failures: Window
    confirmed: EventKind | None = None
    in_maintenance: bool = False
    cause: int | None = None
    suppressed_by: int | None = None
    degraded: bool = False
    flapping: bool = False
    response_time_ms: float | None = None
    state_changes: int = 0
    cause_seen_at: datetime | None = None
    failures_since_cause_ended: int = 0
    confirm_down_after: int = 1
    by_state: bool = False
    reason: str | None = None


@dataclass(slots=True)
class Decision:
    """What the rules raise for a subject, and its alert states after them."""

    alerts: list[Alert] = field(default_factory=list)
    state: AlertState = "ok"
    suppressed_by: int | None = None
    degraded: bool = False
    flapping: bool = False
    cause_seen_at: datetime | None = None


def decide(subject: Subject) -> Decision:
    """The alerts the rules raise for `subject` (their ids not known yet), and its alert
    states after them.

    1. Flapping (when the policy has the rule): more confirmed changes than `flap_changes`
       in the window flags it and raises one `flapping` alert; once a whole window passes
       without a change, one `stable` alert says where it settled.
    2. Down and recovered, by the availability and failure rules (`evaluate`), or for a
       heartbeat by its confirmed state (`by_state`), but a down alert only while the failure
       is confirmed and outside maintenance, and a recovery only while no failure is
       confirmed. A down alert while a parent is failing is recorded with
       `suppressed_by` (delivered to nobody), and so is the recovery that follows it; should
       the service go on failing on its own once the parent is well (`outlived_its_cause`),
       a down alert is delivered then. Alerts raised while flapping are `held` (delivered
       to nobody).
    3. Degraded (when the policy has the rule): a `degraded` alert when the response time
       statistic goes above the threshold while up, a `recovered` one (rule
       `response_time`) when it is back within it while up.
    """
    policy = subject.policy
    decision = Decision(
        state=subject.state,
        suppressed_by=subject.suppressed_by,
        degraded=subject.degraded and policy.response_time_ms_above is not None,
        flapping=subject.flapping and policy.flap_changes is not None,
        cause_seen_at=subject.at if subject.cause is not None else subject.cause_seen_at,
    )
    raise_ = _raiser(subject, decision)

    if policy.flap_changes is not None:
        if not decision.flapping and subject.state_changes > policy.flap_changes:
            decision.flapping = True
            raise_("flapping", "flapping", policy.flap_window_seconds, held=False)
        elif decision.flapping and subject.state_changes == 0:
            decision.flapping = False
            raise_("stable", "flapping", policy.flap_window_seconds, held=False)

    verdict = (
        by_state(subject.state, subject.confirmed)
        if subject.by_state
        else evaluate(policy, subject.state, subject.availability, subject.failures)
    )
    if outlived_its_cause(subject):
        decision.suppressed_by = None
        raise_("down", "availability", policy.window_seconds)
    elif verdict is not None and _allowed(verdict.kind, subject):
        if verdict.kind == "down":
            decision.state, decision.suppressed_by = "alerting", subject.cause
            suppressed = subject.cause
        else:
            decision.state, decision.suppressed_by = "ok", None
            suppressed = subject.suppressed_by
        raise_(
            verdict.kind,
            verdict.rule,
            verdict.window_seconds,
            availability=verdict.availability_percent,
            suppressed_by=suppressed,
        )

    threshold = policy.response_time_ms_above
    figure = subject.response_time_ms
    if threshold is not None and figure is not None:
        if not decision.degraded and figure > threshold and subject.confirmed == "uptime":
            decision.degraded = True
            raise_("degraded", "response_time", policy.response_time_window_seconds)
        elif decision.degraded and figure <= threshold and subject.confirmed == "uptime":
            decision.degraded = False
            raise_("recovered", "response_time", policy.response_time_window_seconds)
    return decision


def outlived_its_cause(subject: Subject) -> bool:
    """Whether a service whose down alert was suppressed is still down on its own: its
    parent no longer fails, and it has failed as many checks since as confirm down. Nobody
    was told, so it is alerted now."""
    return (
        subject.state == "alerting"
        and subject.suppressed_by is not None
        and subject.cause is None
        and subject.confirmed == "downtime"
        and not subject.in_maintenance
        and subject.failures_since_cause_ended >= subject.confirm_down_after
    )


def _allowed(kind: Literal["down", "recovered"], subject: Subject) -> bool:
    """Whether the confirmed state lets a down (recovered) verdict become an alert."""
    if kind == "down":
        return subject.confirmed == "downtime" and not subject.in_maintenance
    return subject.confirmed != "downtime"


def _raiser(subject: Subject, decision: Decision) -> Callable[..., None]:
    """A function that adds an alert of `subject` to `decision`, with its message."""

    def raise_(
        kind: AlertKind,
        rule: Rule,
        window_seconds: int,
        *,
        availability: float | None = None,
        suppressed_by: int | None = None,
        held: bool | None = None,
    ) -> None:
        downtime = (
            (subject.at - subject.state_since).total_seconds()
            if kind == "recovered" and rule != "response_time" and subject.state_since
            else None
        )
        decision.alerts.append(
            Alert(
                id=0,
                service_id=subject.service_id,
                service_name=subject.name,
                kind=kind,
                rule=rule,
                message=message(kind, rule, subject, decision, availability, downtime),
                availability_percent=availability,
                window_seconds=window_seconds,
                raised_at=subject.at,
                downtime_seconds=downtime,
                suppressed_by=suppressed_by,
                held=decision.flapping if held is None else held,
            )
        )

    return raise_


def recipients(policy: AlertPolicy, receivers: Sequence[Receiver]) -> list[Receiver]:
    """Where an alert under `policy` goes: the global receivers, then the policy's own
    webhooks and apprise URLs."""
    return [
        *receivers,
        *(Receiver("webhook", hook.url, hook.secret) for hook in policy.webhooks),
        *(Receiver("apprise", url) for url in policy.apprise_urls),
    ]


def _verdict(
    kind: Literal["down", "recovered"],
    rule: Literal["availability", "failures"],
    policy: AlertPolicy,
    w: Window,
) -> Verdict:
    seconds = policy.window_seconds if rule == "availability" else policy.failure_window_seconds
    return Verdict(kind, rule, w.availability_percent, seconds)


def message(
    kind: AlertKind,
    rule: Rule,
    subject: Subject,
    decision: Decision,
    availability_percent: float | None,
    downtime_seconds: float | None,
) -> str:
    """The text stored with an alert and sent to receivers, in the words of a person on call."""
    name, policy, time = subject.name, subject.policy, rfc3339(subject.at)
    availability = "n/a" if availability_percent is None else f"{availability_percent:.1f}"
    statistic = policy.response_time_statistic
    figure = f"{subject.response_time_ms or 0:.0f} ms"
    window = duration(policy.response_time_window_seconds)
    if kind == "down":
        if rule == "state":
            text = f"Service {name} is down: {subject.reason or 'failed'}. time={time}"
        else:
            text = f"Service {name} is down. availability={availability}%, time={time}"
        if decision.suppressed_by is not None:
            text += f"; not sent: service {decision.suppressed_by} it depends on is failing"
        elif subject.suppressed_by is not None:
            text += f"; still down after service {subject.suppressed_by} it depends on recovered"
        return text
    if kind == "recovered" and rule == "response_time":
        return (
            f"Service {name} is fast again: {statistic} response time {figure} over the last "
            f"{window} is within {policy.response_time_ms_above:g} ms. time={time}"
        )
    if kind == "recovered":
        figures = "" if rule == "state" else f" availability={availability}%,"
        return (
            f"Service {name} recovered.{figures} time={time}, "
            f"downtime={duration(downtime_seconds or 0.0)}"
        )
    if kind == "degraded":
        return (
            f"Service {name} is slow (degraded): {statistic} response time {figure} over the "
            f"last {window} is above {policy.response_time_ms_above:g} ms. time={time}"
        )
    flap_window = duration(policy.flap_window_seconds)
    if kind == "flapping":
        return (
            f"Service {name} is flapping: its state changed {subject.state_changes} times in "
            f"the last {flap_window}. Alerts for each change are held until it is stable. "
            f"time={time}"
        )
    now = "down" if subject.confirmed == "downtime" else "up"
    return (
        f"Service {name} is stable again: no change of state for {flap_window}; it is {now}. "
        f"time={time}"
    )
