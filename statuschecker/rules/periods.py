"""State periods: a service is in one `uptime` or `downtime` period at a time, and an outcome
of the other kind ends it and begins the next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from statuschecker.model import CheckOutcome, EventKind


@dataclass(frozen=True, slots=True)
class OpenPeriod:
    """The period a service is in before the batch: its stored event's id, kind and start."""

    event_id: int
    kind: EventKind
    started: datetime


@dataclass(frozen=True, slots=True)
class StateChange:
    """A service entered a new state period at `at` (`previous` is None for its first)."""

    service_id: int
    previous: EventKind | None
    current: EventKind
    at: datetime


@dataclass(slots=True)
class NewPeriod:
    """A period the batch began; `ended` is set when the batch also ended it."""

    service_id: int
    kind: EventKind
    started: datetime
    reason: str | None  # for downtime: the error of the check that began it
    ended: datetime | None = None


@dataclass(slots=True)
class Transitions:
    """What a batch does to the periods: the stored ones it ends (event id, end), the ones it
    begins (in time order, at most the last of each service still open), and the changes."""

    ended: list[tuple[int, datetime]] = field(default_factory=list)
    begun: list[NewPeriod] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)


def period_of(outcome: CheckOutcome) -> EventKind:
    """The period an outcome belongs to."""
    return "uptime" if outcome.result.up else "downtime"


def transitions(
    open_periods: Mapping[int, OpenPeriod], outcomes: Iterable[CheckOutcome]
) -> Transitions:
    """Walk `outcomes` (in time order) against each service's open period.

    1. An outcome of the open period's kind changes nothing.
    2. Otherwise the open period ends at the outcome's time (never before it began, should a
       clock step back) and a period of the outcome's kind begins there; a downtime keeps the
       error that began it.
    3. A service without an open period begins its first (`previous` None).
    """
    result = Transitions()
    # service -> the stored period (OpenPeriod) or the batch's own (NewPeriod) it is in now
    current: dict[int, OpenPeriod | NewPeriod] = dict(open_periods)
    for outcome in outcomes:
        kind = period_of(outcome)
        now = current.get(outcome.service_id)
        if now is not None and now.kind == kind:
            continue
        at = outcome.checked_at
        if now is not None:
            at = max(at, now.started)
            if isinstance(now, NewPeriod):
                now.ended = at
            else:
                result.ended.append((now.event_id, at))
        reason = outcome.result.error if kind == "downtime" else None
        period = NewPeriod(outcome.service_id, kind, at, reason)
        current[outcome.service_id] = period
        result.begun.append(period)
        previous = now.kind if now is not None else None
        result.changes.append(StateChange(outcome.service_id, previous, kind, at))
    return result
