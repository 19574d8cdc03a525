"""The service layer of locations: where pollers check from, and whether each is live."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from statuschecker.model import Caller, Location
from statuschecker.rules import locations as rules
from statuschecker.store import pollers


class Locations:
    """The locations the pollers report from."""

    def __init__(self, engine: Engine, stale_seconds: float) -> None:
        self._engine = engine
        self._stale_after = timedelta(seconds=stale_seconds)

    def all(self) -> list[Location]:
        """Every location with its health and its pollers, by name."""
        with self._engine.connect() as conn:
            now, seen = pollers.sightings(conn)
        return rules.locations(seen, now, self._stale_after)

    def shown_to(self, caller: Caller) -> list[Location]:
        """Every location with its health, by name; its pollers (hosts, versions) for admins
        only."""
        found = self.all()
        return found if caller.is_admin else [replace(loc, pollers=[]) for loc in found]
