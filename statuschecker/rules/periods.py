"""State periods and their confirmation: a service is in one confirmed `uptime` or `downtime`
period at a time; a run of outcomes of the other kind, once long enough, ends it and begins
the next at the run's first outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from statuschecker.model import CheckOutcome, Confirmation, EventKind


@dataclass(frozen=True, slots=True)
class OpenPeriod:
    """The period a service is in before the batch: its stored event's id, kind and start."""

    event_id: int
    kind: EventKind
    started: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive outcomes against the confirmed state, too few yet to confirm their kind: how
    many, since when, and (for failures) the first one's error."""

    kind: EventKind
    count: int
    started: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceState:
    """What the period rules know of a service before a batch."""

    period: OpenPeriod | None = None
    run: Run | None = None
    confirmation: Confirmation = field(default_factory=Confirmation)


@dataclass(frozen=True, slots=True)
class StateChange:
    """A service entered a new state period at `at` (`previous` is None for its first)."""

    service_id: int
    previous: EventKind | None
    current: EventKind
    at: datetime


@dataclass(slots=True)
class NewPeriod:
    """A period the batch began; `ended` is set when the batch also ended it. A downtime keeps
    the error that began it and, once the recorder knows, the failing parent that caused it."""

    service_id: int
    kind: EventKind
    started: datetime
    reason: str | None
    ended: datetime | None = None
    caused_by: int | None = None


@dataclass(slots=True)
class Transitions:
    """What a batch does to the periods: the stored ones it ends (event id, end), the ones it
    begins (in time order, at most the last of each service still open), the changes, and
    each touched service's run not confirmed at the end of the batch (None: no such run)."""

    ended: list[tuple[int, datetime]] = field(default_factory=list)
    begun: list[NewPeriod] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    runs: dict[int, Run | None] = field(default_factory=dict)


def period_of(outcome: CheckOutcome) -> EventKind:
    """The period an outcome belongs to."""
    return "uptime" if outcome.result.up else "downtime"


def transitions(
    states: Mapping[int, ServiceState], outcomes: Iterable[CheckOutcome]
) -> Transitions:
    """Walk `outcomes` (in time order) against each service's state.

    1. A failure in a maintenance window confirms nothing: it ends a run of failures.
    2. An outcome of the confirmed period's kind ends the run against it, if any.
    3. Otherwise it extends the run of its kind (or begins one). When the run reaches the
       service's `confirm_down_after` (failures) or `confirm_up_after` (successes), the open
       period ends at the run's first outcome (never before it began, should a clock step
       back) and a period of the run's kind begins there; a downtime keeps the first error.
    4. A service without a period is confirmed the same way into its first (`previous` None).
    """
    result = Transitions()
    current: dict[int, OpenPeriod | NewPeriod | None] = {}
    runs = result.runs
    for outcome in outcomes:
        sid = outcome.service_id
        state = states.get(sid) or ServiceState()
        if sid not in runs:
            current[sid] = state.period
            runs[sid] = state.run
        kind = period_of(outcome)
        now = current[sid]
        if (outcome.in_maintenance and kind == "downtime") or (
            now is not None and now.kind == kind
        ):
            runs[sid] = None
            continue
        run = runs[sid]
        if run is not None and run.kind == kind:
            run = Run(kind, run.count + 1, run.started, run.reason)
        else:
            reason = outcome.result.error if kind == "downtime" else None
            run = Run(kind, 1, outcome.checked_at, reason)
        confirm = state.confirmation
        if run.count < (confirm.down_after if kind == "downtime" else confirm.up_after):
            runs[sid] = run
            continue
        runs[sid] = None
        at = run.started
        if now is not None:
            at = max(at, now.started)
            if isinstance(now, NewPeriod):
                now.ended = at
            else:
                result.ended.append((now.event_id, at))
        period = NewPeriod(sid, kind, at, run.reason)
        current[sid] = period
        result.begun.append(period)
        result.changes.append(StateChange(sid, now.kind if now else None, kind, at))
    return result
