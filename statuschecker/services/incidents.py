"""The service layer of incidents: those people write (with their updates over time), and
what a status page shows of them and of the checks' downtimes together, newest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from statuschecker import timefmt
from statuschecker.errors import Conflict, InvalidInput
from statuschecker.model import Caller, Page, Reported, Visibility
from statuschecker.services.subscriptions import Subscriptions
from statuschecker.store import cursor
from statuschecker.store import incidents as store
from statuschecker.store import services as service_store

HISTORY = timedelta(days=90)
"""How far back the status pages show incidents."""
MAX_UPDATES = 100
"""The most updates an incident takes."""
FUTURE_SLACK = timedelta(minutes=5)
"""How far ahead of this server's clock a start may be (the writer's clock may be ahead)."""


def _now() -> datetime:
    return datetime.now(UTC)


def key(incident: Reported) -> store.Key:
    """Where an incident stands in the status pages' order (newest first)."""
    rank = store.WRITTEN if incident.source == "written" else store.AUTOMATIC
    return (incident.started_at, rank, incident.id)


def merged(incidents: Sequence[Reported], limit: int) -> Page[Reported]:
    """The first `limit` of `incidents` newest first (written before automatic at the same
    start), with the cursor past the last when there are more."""
    ordered = sorted(incidents, key=key, reverse=True)
    return cursor.page(ordered, limit, key)


class Incidents:
    """Operations on incidents, as the API offers them. An account sees and changes its own
    written incidents (another's answer NotFound, like services); admins, all."""

    def __init__(
        self,
        engine: Engine,
        subscriptions: Subscriptions,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._engine = engine
        self._subscriptions = subscriptions
        self._clock = clock

    def create(self, caller: Caller, fields: Mapping[str, Any]) -> Reported:
        """Write an incident of `caller`'s account from the contract's IncidentCreate fields,
        with its first update; InvalidInput when a service is not the account's or the start
        is ahead."""
        values = {
            "owner_id": caller.user_id,
            "title": fields["title"],
            "impact": fields["impact"],
            "service_ids": _unique(fields["service_ids"]),
            "status": fields.get("status", "investigating"),
        }
        if fields.get("started_at") is not None:
            values["started_at"] = self._start(fields["started_at"])
        if values["status"] == "resolved":
            values["resolved_at"] = values.get("started_at", self._clock())
        with self._engine.begin() as conn:
            service_store.require_owned(conn, caller.user_id, values["service_ids"])
            incident_id = store.create(conn, values, _said(fields["message"]))
            created = store.get(conn, incident_id)
            queued = self._subscriptions.announce(conn, "incident.created", created)
        if queued:
            self._subscriptions.wake()
        return created

    def add_update(
        self, incident_id: int, fields: Mapping[str, Any], visibility: Visibility
    ) -> Reported:
        """Post an update (status and message) to an incident of `visibility`; Conflict once it
        has MAX_UPDATES."""
        with self._engine.begin() as conn:
            store.get(conn, incident_id, visibility)
            if store.count_updates(conn, incident_id) >= MAX_UPDATES:
                raise Conflict(f"incident {incident_id} has {MAX_UPDATES} updates, the most")
            store.add_update(conn, incident_id, fields["status"], _said(fields["message"]))
            updated = store.get(conn, incident_id)
            queued = self._subscriptions.announce(conn, "incident.updated", updated)
        if queued:
            self._subscriptions.wake()
        return updated

    def update(
        self, incident_id: int, changes: Mapping[str, Any], visibility: Visibility
    ) -> Reported:
        """Change an incident's title, impact, services or start (its status moves by
        updates)."""
        with self._engine.begin() as conn:
            current = store.get(conn, incident_id, visibility)
            values = dict(changes)
            if "service_ids" in values:
                values["service_ids"] = _unique(values["service_ids"])
                service_store.require_owned(conn, current.owner_id, values["service_ids"])
            if "started_at" in values:
                start = values["started_at"] = self._start(values["started_at"])
                ended = current.resolved_at
                if start is not None and ended is not None and start > ended:
                    raise InvalidInput("started_at is after the incident was resolved")
            if values:
                store.change(conn, incident_id, values)
            return store.get(conn, incident_id)

    def delete(self, incident_id: int, visibility: Visibility) -> None:
        """Delete an incident of `visibility` with its updates."""
        with self._engine.begin() as conn:
            store.remove(conn, incident_id, visibility)

    def get(self, incident_id: int, visibility: Visibility) -> Reported:
        """One incident of `visibility`; NotFound for another account's."""
        with self._engine.connect() as conn:
            return store.get(conn, incident_id, visibility)

    def page(
        self, visibility: Visibility, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Reported]:
        """Incidents of `visibility`, newest started first, `limit` at a time."""
        with self._engine.connect() as conn:
            return store.list_page(conn, limit=limit, after=cursor, visibility=visibility)

    def on_status(
        self,
        visibility: Visibility,
        page_ids: Sequence[int] | None = None,
        *,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Reported]:
        """The incidents of the last HISTORY (or still going on) that affect services
        `visibility` admits (of `page_ids`, a status page's, when given), written and automatic
        together, newest started first, `limit` at a time; each names those services only."""
        before = cursor.decode(after, datetime, int, int) if after else None
        since = self._clock() - HISTORY
        with self._engine.connect() as conn:
            found = store.on_status(conn, visibility, page_ids, since, limit + 1, before)
        return merged(found, limit)

    def _start(self, value: Any) -> datetime | None:
        """The start given, parsed; InvalidInput when it is ahead of now."""
        time = timefmt.parsed("started_at", value)
        if time is not None and time > self._clock() + FUTURE_SLACK:
            raise InvalidInput("started_at is ahead of now: an incident starts when it starts")
        return time


def _said(message: str) -> str:
    """An update's message; InvalidInput when it is blank."""
    if not message.strip():
        raise InvalidInput("message is blank: say what is going on")
    return message


def _unique(ids: Sequence[int]) -> list[int]:
    """`ids` without repeats, in their order."""
    return list(dict.fromkeys(ids))
