"""Which places pollers check from are live: a location is live while one of its pollers was
seen within the stale bound and has not stopped; otherwise it is stale, and its votes count for
neither side."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby

from statuschecker.model import Location, PollerSighting


def poller_live(poller: PollerSighting, now: datetime, stale_after: timedelta) -> bool:
    """Whether a poller counts: seen within `stale_after` of `now` and not stopped."""
    return poller.stopped_at is None and now - poller.last_seen_at < stale_after


def live(
    now: datetime, pollers: Iterable[PollerSighting], stale_after: timedelta
) -> frozenset[str]:
    """The names of the live locations among those these pollers stand in."""
    return frozenset(p.location for p in pollers if poller_live(p, now, stale_after))


def locations(
    pollers: Iterable[PollerSighting], now: datetime, stale_after: timedelta
) -> list[Location]:
    """The locations these pollers stand in, by name, each with its pollers (the most recently
    seen first) and those of them that count."""
    found = []
    by_location = sorted(pollers, key=lambda p: p.location)
    for name, group in groupby(by_location, key=lambda p: p.location):
        members = sorted(group, key=lambda p: p.last_seen_at, reverse=True)
        live = frozenset(p.owner for p in members if poller_live(p, now, stale_after))
        found.append(Location(name, members[0].last_seen_at, members, live))
    return found
