"""The services a poller has been claiming, remembered so that it can go on checking them on
their own schedule while the database (which holds the shared schedule) is out of reach."""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from statuschecker.model import Assignment


@dataclass(slots=True)
class _Held:
    assignment: Assignment  # the last claim, whose due_at is the last slot served
    next_due: datetime
    claimed_at: datetime
    lapse: timedelta  # unclaimed this long while the database answers: no longer ours


class LocalSchedule:
    """The poller's share of the schedule as it last saw it. A service it has not claimed for
    two intervals plus `grace_seconds` while the database answered is no longer its own
    (deleted, paused, or taken by another poller) and is forgotten."""

    def __init__(self, grace_seconds: float) -> None:
        self._held: dict[int, _Held] = {}
        self._grace = timedelta(seconds=grace_seconds)

    def remember(self, claimed: Iterable[Assignment], now: datetime) -> None:
        """Note fresh claims (the database answered at `now`)."""
        for assignment in claimed:
            interval = timedelta(seconds=assignment.interval_seconds)
            self._held[assignment.service_id] = _Held(
                assignment, assignment.due_at + interval, now, 2 * interval + self._grace
            )

    def forget_unclaimed(self, now: datetime, online_since: datetime) -> None:
        """Forget the services not claimed for two intervals plus the grace period during
        which the database answered (from `online_since` until `now`)."""
        gone = [
            service_id
            for service_id, held in self._held.items()
            if max(held.claimed_at, online_since) + held.lapse < now
        ]
        for service_id in gone:
            del self._held[service_id]

    def due(self, limit: int, now: datetime, busy: Container[int]) -> list[Assignment]:
        """Up to `limit` services whose slot has come, most overdue first, except those `busy`
        (still being checked); each moves on to its first slot after `now`, as the shared
        schedule would (missed slots are skipped, the phase kept)."""
        ready = sorted(
            (h for sid, h in self._held.items() if h.next_due <= now and sid not in busy),
            key=lambda h: h.next_due,
        )[:limit]
        for held in ready:
            interval = timedelta(seconds=held.assignment.interval_seconds)
            slot = held.next_due + interval * math.floor((now - held.next_due) / interval)
            held.assignment = replace(held.assignment, due_at=slot)
            held.next_due = slot + interval
        return [held.assignment for held in ready]

    def seconds_until_next(self, now: datetime) -> float | None:
        """How long until the next remembered slot (None when nothing is remembered)."""
        if not self._held:
            return None
        return (min(h.next_due for h in self._held.values()) - now).total_seconds()

    def __len__(self) -> int:
        return len(self._held)
