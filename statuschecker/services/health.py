"""Whether the process is healthy: the database answers, and the poller (if any) turns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

PollerState = Callable[[], tuple[str, int]]
"""The poller's condition ("ok" or what is wrong) and how many results it holds unwritten."""


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the database answers and the poller's loop turns, with the reasons if not, and
    how many results the poller holds unwritten (None without a poller)."""

    database: str
    poller: str
    buffered_results: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.database == "ok" and self.poller in ("ok", "disabled")


def health(engine: Engine, poller: PollerState | None) -> Health:
    """Ask the database for a round trip and the poller, if there is one, how it is."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as exc:
        database = f"unavailable: {str(exc).splitlines()[0]}"
    if poller is None:
        return Health(database=database, poller="disabled")
    condition, buffered = poller()
    return Health(database, condition, buffered)
