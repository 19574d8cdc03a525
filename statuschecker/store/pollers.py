"""The pollers' sightings: each poller says it is there now and then, and when it stops."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from statuschecker.model import PollerSighting
from statuschecker.store.tables import pollers


def seen(conn: Connection, owner: str, location: str, host: str, version: str) -> None:
    """Say that this poller is there now (started now, the first time)."""
    statement = insert(pollers).values(owner=owner, location=location, host=host, version=version)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[pollers.c.owner],
            set_={"last_seen_at": func.now(), "stopped_at": None},
        )
    )


def stopped(conn: Connection, owner: str) -> None:
    """Say that this poller stopped: its location no longer counts on it."""
    conn.execute(
        update(pollers)
        .where(pollers.c.owner == owner)
        .values(stopped_at=func.now(), last_seen_at=func.now())
    )


def forget_quiet(conn: Connection, quiet_for: timedelta) -> None:
    """Forget the pollers not seen for `quiet_for`."""
    conn.execute(delete(pollers).where(pollers.c.last_seen_at < func.now() - quiet_for))


def sightings(conn: Connection) -> tuple[datetime, list[PollerSighting]]:
    """The database's time now, and every poller's latest sighting."""
    now = conn.execute(select(func.now())).scalar_one()
    rows = conn.execute(select(pollers)).mappings()
    return now, [PollerSighting(**row) for row in rows]
