"""The service layer of maintenance windows: planning, reading, changing and deleting them,
and what the status view shows of them. Every window is checked here, in one place
(`_checked`), whether created or changed; the rules of when a window is are in
`statuschecker.rules.maintenance`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from statuschecker import timefmt
from statuschecker.errors import InvalidInput
from statuschecker.model import Caller, Page, Visibility
from statuschecker.rules import maintenance
from statuschecker.rules.maintenance import Occurrence, Schedule, Window
from statuschecker.store import maintenances as store
from statuschecker.store import services as service_store

STATUS_HORIZON = timedelta(days=30)
"""How far ahead the status view shows planned maintenance."""
STATUS_LIMIT = 1000
"""The most windows the status view shows (the soonest)."""

SCHEDULE_FIELDS = ("starts_at", "ends_at", "rrule", "duration_seconds", "timezone")
NULLABLE_FIELDS = frozenset({"ends_at", "rrule", "duration_seconds", "timezone"})


@dataclass(frozen=True, slots=True)
class Planned:
    """A window as the API shows it: the stored window with its occurrence going on now and
    the next one to start (None when there is none)."""

    window: Window
    current: Occurrence | None
    next: Occurrence | None

    @property
    def active(self) -> bool:
        """Whether an occurrence covers now."""
        return self.current is not None


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A window on the status view: its ongoing or next occurrence, and the services it
    covers among those the reader sees (id, name)."""

    id: int
    title: str
    active: bool
    starts_at: datetime
    ends_at: datetime
    services: list[tuple[int, str]]
    updated_at: datetime  # when the window was last changed


def _now() -> datetime:
    return datetime.now(UTC)


class Maintenances:
    """Operations on maintenance windows, as the API offers them. An account sees and
    changes its own windows (another's answer NotFound, like services); admins, all."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _now) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, caller: Caller, fields: Mapping[str, Any]) -> Planned:
        """Plan a window of `caller`'s account from the contract's MaintenanceCreate fields;
        InvalidInput saying what is wrong when it cannot be honoured. A recurring window
        given no `starts_at` starts at midnight today in its time zone, so that the parts of
        the time its rule leaves out are 0 rather than those of the moment it was made."""
        values = self.new_values(fields)
        with self._engine.begin() as conn:
            _checked(conn, values, caller.user_id, values["service_ids"])
            window_id = store.create(conn, {**values, "owner_id": caller.user_id})
            window = store.get(conn, window_id)
        return self._planned(window)

    def new_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The stored values of a new window from MaintenanceCreate `fields`, its times parsed
        (InvalidInput saying what is wrong) and its start defaulted; not checked yet (see
        `covered`)."""
        values = {
            "title": fields["title"],
            "service_ids": list(fields.get("service_ids") or []),
            "tags": list(fields.get("tags") or []),
            **{name: fields.get(name) for name in SCHEDULE_FIELDS},
        }
        values["starts_at"] = timefmt.parsed("starts_at", values["starts_at"])
        values["ends_at"] = timefmt.parsed("ends_at", values["ends_at"])
        if values["starts_at"] is None:
            values["starts_at"] = self._default_start(values["rrule"], values["timezone"])
        return values

    def page(
        self, visibility: Visibility, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Planned]:
        """Windows of `visibility` in creation order, `limit` at a time."""
        with self._engine.connect() as conn:
            page = store.list_page(conn, limit=limit, after=cursor, visibility=visibility)
        now = self._clock()
        return Page([self._planned(w, now) for w in page.items], page.next_cursor)

    def get(self, window_id: int, visibility: Visibility) -> Planned:
        """One window of `visibility`; NotFound for another account's."""
        with self._engine.connect() as conn:
            return self._planned(store.get(conn, window_id, visibility))

    def update(self, window_id: int, changes: Mapping[str, Any], visibility: Visibility) -> Planned:
        """Change a window of `visibility`: the fields given replace the stored ones (null
        removes an optional one), then the whole window is checked as at creation."""
        with self._engine.begin() as conn:
            current = store.get(conn, window_id, visibility)
            values: dict[str, Any] = {
                "title": current.title,
                "service_ids": list(current.service_ids),
                "tags": list(current.tags),
                **{name: getattr(current.schedule, name) for name in SCHEDULE_FIELDS},
            }
            for name, value in changes.items():
                if value is None and name not in NULLABLE_FIELDS:
                    raise InvalidInput(f"{name} cannot be removed")
                values[name] = (
                    timefmt.parsed(name, value) if name in ("starts_at", "ends_at") else value
                )
            values["service_ids"] = list(values["service_ids"] or [])
            values["tags"] = list(values["tags"] or [])
            named = changes.get("service_ids") or []
            _checked(conn, values, current.owner_id, named)
            store.change(conn, window_id, values)
            window = store.get(conn, window_id)
        return self._planned(window)

    def delete(self, window_id: int, visibility: Visibility) -> None:
        """Delete a window of `visibility` (the checks it marked stay marked)."""
        with self._engine.begin() as conn:
            store.remove(conn, window_id, visibility)

    def upcoming(
        self,
        visibility: Visibility,
        now: datetime | None = None,
        among: Sequence[int] | None = None,
    ) -> list[Upcoming]:
        """Maintenance going on at `now` (default: now) and starting within STATUS_HORIZON,
        soonest first: each window's ongoing or next occurrence, with the services it covers
        among those `visibility` admits (and of `among`, a status page's, when given); windows
        covering none of them are left out."""
        now = now or self._clock()
        with self._engine.connect() as conn:
            found = store.on_status(conn, visibility)
        if among is not None:
            kept = set(among)
            found = [(w, [s for s in covered if s[0] in kept]) for w, covered in found]
        shown = []
        for window, covered in found:
            if not covered:
                continue
            current, following = maintenance.current_and_next(window.schedule, now)
            occurrence = current or following
            if occurrence is None or occurrence[0] >= now + STATUS_HORIZON:
                continue
            shown.append(
                Upcoming(
                    window.id,
                    window.title,
                    current is not None,
                    *occurrence,
                    covered,
                    window.updated_at,
                )
            )
        shown.sort(key=lambda u: (u.starts_at, u.id))
        return shown[:STATUS_LIMIT]

    def covering(
        self, services: Mapping[int, tuple[int | None, Sequence[str]]]
    ) -> dict[int, list[Schedule]]:
        """The schedules of the windows covering each service (see `store.covering`)."""
        with self._engine.connect() as conn:
            return store.covering(conn, services)

    def _planned(self, window: Window, now: datetime | None = None) -> Planned:
        current, following = maintenance.current_and_next(window.schedule, now or self._clock())
        return Planned(window, current, following)

    def _default_start(self, rrule: str | None, timezone: str | None) -> datetime:
        """Now for a one-off window; midnight today in its time zone for a recurring one
        (now when the zone is unknown or missing: the window is refused anyway)."""
        now = self._clock()
        if rrule is None or timezone is None:
            return now
        try:
            local = now.astimezone(maintenance.zone(timezone))
        except ValueError:
            return now
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _checked(
    conn: Connection,
    values: Mapping[str, Any],
    owner_id: int | None,
    named: list[int],
) -> None:
    """InvalidInput saying what is wrong unless `values` make a window that can be honoured
    (`covered`) and the services `named` are services of the owner's account (a window covers
    its owner's services only)."""
    covered(values)
    service_store.require_owned(conn, owner_id, named)


def covered(values: Mapping[str, Any], covers: str = "service_ids") -> None:
    """InvalidInput saying what is wrong unless a window's `values` cover something (services
    in `covers`, or tags) and its schedule is valid."""
    if not values.get(covers) and not values["tags"]:
        raise InvalidInput(f"a maintenance window needs {covers} or tags (at least one)")
    try:
        Schedule(**{name: values[name] for name in SCHEDULE_FIELDS}).validated()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
