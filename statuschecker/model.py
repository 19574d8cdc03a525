"""Plain dataclasses of the domain: what is checked, what a check found, what was derived."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

Status = Literal["up", "down", "unknown"]
EventKind = Literal["uptime", "downtime"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CheckLimits:
    """Bounds every check obeys, whatever the target does."""

    max_body_bytes: int = 1_048_576
    max_redirects: int = 10
    user_agent: str = "statuschecker"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What one check needs to know: the target, its deadline and the engine's limits."""

    url: str
    timeout_seconds: float
    limits: CheckLimits = field(default_factory=CheckLimits)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found. A failing target is a result with a reason, never an exception."""

    up: bool
    response_time_ms: float | None = None
    ttfb_ms: float | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A service claimed by a poller for one scheduled slot."""

    service_id: int
    name: str
    spec: CheckSpec
    due_at: datetime


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A result tied to the service and moment it belongs to, ready for the recorder."""

    service_id: int
    checked_at: datetime
    result: CheckResult


@dataclass(frozen=True, slots=True)
class Event:
    """A state period: `uptime` or `downtime`, open while `date_ended` is None."""

    id: int
    service_id: int
    event: EventKind
    date_started: datetime
    date_ended: datetime | None


@dataclass(frozen=True, slots=True)
class Metric:
    """Running totals of one service's checks."""

    tick_count: int = 0
    up_count: int = 0
    down_count: int = 0
    uptime_percent: float | None = None
    average_response_time_ms: float | None = None
    max_response_time_ms: float | None = None
    last_checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """One stored check result."""

    id: int
    service_id: int
    checked_at: datetime
    result: CheckResult


@dataclass(frozen=True, slots=True)
class Service:
    """A registered service with its current state."""

    id: int
    name: str
    url: str
    kind: str
    interval_seconds: int
    timeout_seconds: float
    paused: bool
    created_at: datetime
    updated_at: datetime
    latest_event: Event | None
    metric: Metric

    @property
    def status(self) -> Status:
        """`up`/`down` from the open event; `unknown` before the first check."""
        if self.latest_event is None:
            return "unknown"
        return "up" if self.latest_event.event == "uptime" else "down"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor to the next, if any."""

    items: list[T]
    next_cursor: str | None
