"""A poller's presence: it reports itself (location, host, version) every `SEEN_EVERY_SECONDS`
and when it stops, so that `GET /v1/locations` and the quorum know which locations are live."""

from __future__ import annotations

import socket
from datetime import timedelta
from importlib.metadata import version

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.store import pollers

log = structlog.get_logger(__name__)

SEEN_EVERY_SECONDS = 5.0
"""How often a poller says it is there: well within `location_stale_seconds`."""
FORGET_AFTER = timedelta(days=1)
"""A poller not seen for this long is forgotten (a location with none left is no longer listed)."""


class Presence:
    """One poller's reports about itself."""

    def __init__(self, engine: Engine, owner: str, location: str) -> None:
        self._engine = engine
        self._owner = owner
        self._location = location
        self._host = socket.gethostname()
        self._version = version("statuschecker")

    def seen(self) -> None:
        """Say the poller is there (and forget those long quiet); a failure is logged."""
        try:
            with self._engine.begin() as conn:
                pollers.seen(conn, self._owner, self._location, self._host, self._version)
                pollers.forget_quiet(conn, FORGET_AFTER)
        except SQLAlchemyError as exc:
            log.warning("poller.presence_failed", error=str(exc).splitlines()[0])

    def stopped(self) -> None:
        """Say the poller stopped; a failure is logged (it then goes stale on its own)."""
        try:
            with self._engine.begin() as conn:
                pollers.stopped(conn, self._owner)
        except SQLAlchemyError as exc:
            log.warning("poller.presence_failed", error=str(exc).splitlines()[0])
