"""The dense view of many services: each service's figures in one row (state, last check,
availability over 24 hours and 30 days, an hourly sparkline), a page of them in one answer,
sorted by any column. The figures come from the services' rows and the rollups, never from
raw ticks but each service's one last tick."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from statuschecker.model import Hourly

Sort = Literal["name", "group", "status", "uptime_24h", "uptime_30d", "response_time"]
SORTS: tuple[Sort, ...] = ("name", "group", "status", "uptime_24h", "uptime_30d", "response_time")
NO_HOURS = Hourly((), (), ())
WORST_FIRST = ("down", "pending", "degraded", "maintenance", "unknown", "paused", "up")
"""Statuses in the order a sort by status gives them (the pages' order, worst first)."""


class Figures(NamedTuple):
    """One service's row of the dense view. A named tuple: one is made for every service of
    the view on every request, and a frozen dataclass takes three times as long to make."""

    id: int
    name: str
    group: str | None
    kind: str
    public: bool
    tags: tuple[str, ...]
    status: str
    last_checked_at: datetime | None
    response_time_ms: float | None  # the last check's; None when it got no response
    uptime_24h: float | None
    uptime_30d: float | None
    hourly: Hourly = NO_HOURS  # the last 24 hours, oldest first (once read)


@dataclass(frozen=True, slots=True)
class Overview:
    """A page of rows, how many rows the view has in all, and the cursor of the next page."""

    items: list[Figures]
    total: int
    next_cursor: str | None


_KEYS: dict[Sort, Callable[[Figures], Any]] = {
    "name": lambda f: f.name.casefold(),
    "group": lambda f: None if f.group is None else f.group.casefold(),
    "status": lambda f: WORST_FIRST.index(f.status) if f.status in WORST_FIRST else None,
    "uptime_24h": lambda f: f.uptime_24h,
    "uptime_30d": lambda f: f.uptime_30d,
    "response_time": lambda f: f.response_time_ms,
}


def ordered(figures: Sequence[Figures], sort: Sort, descending: bool) -> list[Figures]:
    """The rows sorted by `sort` (up or down), those without a value for it last either way;
    ties by name, then id, so that pages never overlap."""
    key = _KEYS[sort]
    known = [f for f in figures if key(f) is not None]
    unknown = [f for f in figures if key(f) is None]
    tie = sorted(known, key=lambda f: (f.name.casefold(), f.id))
    by_value = sorted(tie, key=key, reverse=descending)
    return by_value + sorted(unknown, key=lambda f: (f.name.casefold(), f.id))
