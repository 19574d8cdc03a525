"""A service checked from several locations is decided by quorum: each location confirms its own
state (the period rules, per location), and the service is down when at least `quorum` live
locations are confirmed down; degraded, naming them, when some are but fewer; a stale location
counts for neither side."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from statuschecker.model import EventKind


@dataclass(frozen=True, slots=True)
class Vote:
    """What one location says of a service: its confirmed state there (None: none yet) and
    whether the location is live."""

    location: str
    confirmed: EventKind | None
    live: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """The service's state by quorum (None: no live location has confirmed anything, so the
    state stays as it was), the quorum that applied, the live locations confirmed down and the
    stale ones, each by name."""

    state: EventKind | None
    quorum: int
    failing: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def degraded(self) -> bool:
        """Up by quorum while some live locations are confirmed down."""
        return self.state == "uptime" and bool(self.failing)


def majority(live: int) -> int:
    """The default quorum: more than half of the live locations (at least one)."""
    return live // 2 + 1


def verdict(votes: Iterable[Vote], quorum: int | None = None) -> Verdict:
    """Decide the service's state from its locations' votes.

    1. Stale locations are set aside (and named).
    2. The quorum is the service's own, else a majority of the live locations.
    3. Down when at least the quorum of live locations are confirmed down; else up when any
       live location is confirmed at all (degraded when some are down); else no verdict.
    """
    votes = sorted(votes, key=lambda v: v.location)
    live = [v for v in votes if v.live]
    stale = tuple(v.location for v in votes if not v.live)
    needed = quorum if quorum is not None else majority(len(live))
    failing = tuple(v.location for v in live if v.confirmed == "downtime")
    state: EventKind | None
    if live and len(failing) >= needed:
        state = "downtime"
    elif any(v.confirmed is not None for v in live):
        state = "uptime"
    else:
        state = None
    return Verdict(state, needed, failing, stale)
