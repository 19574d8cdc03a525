"""The read side of the service layer: services with their current state, their history,
statistics and alerts, each within what the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.cache import Expiring, StatusCache
from statuschecker.errors import NotFound, database_unreachable
from statuschecker.model import (
    ANY_SERVICE,
    Alert,
    AlertPolicy,
    Bucket,
    DeliveryView,
    Event,
    LocationState,
    Page,
    PingRecord,
    Service,
    ServiceFilter,
    Tick,
    Uptime,
    Visibility,
)
from statuschecker.rules import locations
from statuschecker.services import stats
from statuschecker.services.closed_hours import ClosedHours, Recorded
from statuschecker.services.overview import NO_HOURS, Figures, Overview, Sort, ordered
from statuschecker.services.stats import Stats
from statuschecker.store import alerts as alert_store
from statuschecker.store import cursor as cursors
from statuschecker.store import deliveries, history, maintenances, pollers, rollups, slots
from statuschecker.store import heartbeats as heartbeat_store
from statuschecker.store import services as store
from statuschecker.system.config import Settings

UPTIME_TTL_SECONDS = 60.0
# The history windows: hours per bucket and how many buckets.
HISTORY_WINDOWS = {"24h": (1, 24), "7d": (24, 7), "30d": (24, 30), "90d": (24, 90)}
MAX_STATS_RANGE = timedelta(days=366 * 5)


class ServiceQueries:
    """Reads of registered services, as the API offers them; services come from the status
    cache where they are, shown with their effective alert policy and uptime figures."""

    def __init__(
        self, engine: Engine, cache: StatusCache, settings: Settings, alert_defaults: AlertPolicy
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._settings = settings
        self._alert_defaults = alert_defaults
        self._uptimes: Expiring[int, Uptime] = Expiring(
            settings.cache_max_services, UPTIME_TTL_SECONDS
        )
        self._settings_read: Expiring[int, _Read] = Expiring(
            settings.cache_max_services, settings.cache_ttl_seconds
        )
        self._closed_hours = ClosedHours()

    def get(self, service_id: int, visibility: Visibility) -> Service:
        """One service of `visibility` with its current state, from the cache when it is there."""
        service = self._cache.get(service_id)
        if service is None:
            with self._engine.connect() as conn:
                service = store.get(conn, service_id)
            self._cache.put([service])
        if not visibility.admits(service):
            raise NotFound(f"no service with id {service_id}")
        return self._present([service])[0]

    def location_results(self, service: Service) -> list[tuple[LocationState, bool]]:
        """What each of the locations `service` names says of it (in location order), and
        whether the location is live; empty for a service checked from anywhere."""
        if not service.locations:
            return []
        stale_after = timedelta(seconds=self._settings.location_stale_seconds)
        with self._engine.connect() as conn:
            held = slots.states(conn, [service.id]).get(service.id, {})
            live = locations.live(*pollers.sightings(conn), stale_after)
        return [(slot.state, slot.state.location in live) for slot in held.values()]

    def list_services(
        self,
        visibility: Visibility,
        limit: int,
        cursor: str | None = None,
        kept: ServiceFilter = ANY_SERVICE,
    ) -> Page[Service]:
        """A page of the services `visibility` admits and `kept` keeps, in id order, as
        `_present` shows them (see `list_shown`)."""
        page = self.list_shown(visibility, limit, cursor, kept)
        return Page([item.service for item in page.items], page.next_cursor)

    def list_shown(
        self,
        visibility: Visibility,
        limit: int,
        cursor: str | None = None,
        kept: ServiceFilter = ANY_SERVICE,
        show: Callable[[Service], Any] | None = None,
    ) -> Page[Listed]:
        """`list_services`, each service with what `show` makes of it from its settings
        alone (made once per version of them, kept with them).

        1. One statement reads each service's state (metrics, open event, what the rules keep)
           and the version of its settings.
        2. Settings read before are kept (for the cache's TTL) with the version they were read
           at; only services whose settings are not kept at the version read (new to this
           process, changed since, or not listed for a while) are read whole, in a second
           statement.
        3. Uptime figures come from `_uptimes_of`, read in the same connection when not kept.
        4. Each service is made once, from its settings and its state.
        The statements run outside a transaction: a service deleted in between is left out.
        """
        with self._reading() as conn:
            page = store.state_page(
                conn, limit=limit, after=cursor, kept=kept, visibility=visibility
            )
            versions = {row.id: row.settings_version for row in page.items}
            read = {
                sid: kept
                for sid, kept in self._settings_read.get_many(versions).items()
                if kept.version == versions[sid]
            }
            missing = [sid for sid in versions if sid not in read]
            if missing:
                fresh = {
                    service.id: _Read.of(version, self._with_settings_shown(service))
                    for service, version in store.versioned(conn, missing)
                }
                self._settings_read.put_many(fresh)
                read |= fresh
            uptimes = self._uptimes_of(list(versions), conn)
        items = [
            read[row.id].listed(row, uptimes[row.id], show) for row in page.items if row.id in read
        ]
        return Page(items, page.next_cursor)

    def events(
        self, service_id: int, visibility: Visibility, limit: int, cursor: str | None = None
    ) -> Page[Event]:
        """The up/down periods of a service `visibility` admits, newest first."""
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return history.events_page(conn, service_id, limit=limit, after=cursor)

    def pings(
        self, service_id: int, visibility: Visibility, limit: int, cursor: str | None = None
    ) -> Page[PingRecord]:
        """The pings of a heartbeat `visibility` admits, newest first (none for other
        kinds)."""
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return heartbeat_store.pings_page(conn, service_id, limit=limit, after=cursor)

    def ticks(
        self,
        service_id: int,
        visibility: Visibility,
        limit: int,
        cursor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        location: str | None = None,
    ) -> Page[Tick]:
        """The raw check results in [since, until) of a service `visibility` admits, newest
        first (none when since is at or after until), from `location` only when given."""
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return history.ticks_page(
                conn,
                service_id,
                limit=limit,
                since=since,
                until=until,
                after=cursor,
                location=location,
            )

    def by_name(self, name: str, visibility: Visibility) -> Service:
        """The oldest service with this name that `visibility` admits."""
        with self._engine.connect() as conn:
            service = store.get_by_name(conn, name, visibility)
        return self._present([service])[0]

    def incidents(
        self, name: str, visibility: Visibility, limit: int, cursor: str | None = None
    ) -> Page[Event]:
        """The downtime periods of a service `visibility` admits by its name, newest first."""
        with self._engine.connect() as conn:
            service = store.get_by_name(conn, name, visibility)
            return history.events_page(conn, service.id, limit=limit, after=cursor, kind="downtime")

    def stats(
        self,
        service_id: int,
        visibility: Visibility,
        window_seconds: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        location: str | None = None,
    ) -> Stats:
        """Statistics of a service `visibility` admits over [since, until), or over the last
        `window_seconds` (default 600) before `until` (default now), or the first
        `window_seconds` from `since`; of the checks from `location` only when given. The range
        is cut at now and to its last five years; an empty one (since at or after until) is
        answered as the empty range at until."""
        now = datetime.now(UTC)
        until = min(until or now, now)
        span = timedelta(seconds=window_seconds or 600)
        if since is None:
            since = _before(until, span)
        elif window_seconds is not None and until - since > span:
            until = since + span
        since = min(max(since, _before(until, MAX_STATS_RANGE)), until)
        with self._engine.connect() as conn:
            service = store.get(conn, service_id, visibility)
            schedules = maintenances.covering(
                conn, {service_id: (service.owner_id, service.tags)}
            ).get(service_id, [])
            return stats.compute(
                conn, service_id, since, until, now, self._retention, schedules, location
            )

    def stats_summary(
        self, service_id: int, visibility: Visibility, location: str | None = None
    ) -> list[tuple[str, Stats]]:
        """Statistics of a service `visibility` admits over the usual windows: 10 min, 1 h,
        24 h, 7 d, 30 d, 365 d; of the checks from `location` only when given."""
        now = datetime.now(UTC)
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return [
                (
                    label,
                    stats.compute(
                        conn, service_id, now - span, now, now, self._retention, location=location
                    ),
                )
                for label, span in stats.SUMMARY_WINDOWS.items()
            ]

    def history(
        self, service_id: int, visibility: Visibility, window: str, location: str | None = None
    ) -> list[Bucket]:
        """Availability and response times of a service `visibility` admits per hour over the
        last 24 h, or per day over the last 7, 30 or 90 days (`window`), oldest first, up to now;
        of the checks from `location` only when given."""
        hours, count = HISTORY_WINDOWS[window]
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return rollups.series(conn, service_id, hours, count, datetime.now(UTC), location)

    def overview(
        self,
        visibility: Visibility,
        limit: int,
        after: str | None = None,
        kept: ServiceFilter = ANY_SERVICE,
        group: str | None = None,
        sort: Sort = "name",
        descending: bool = False,
    ) -> Overview:
        """A page of the dense view of the services `visibility` admits and `kept` keeps (of
        `group` when given), sorted by `sort`: the services' rows, and what their recorded
        checks give (`ClosedHours`), of every service when the sort is by it, else of the
        page's."""
        now = datetime.now(UTC)
        offset = cursors.decode(after, int)[0] if after else 0
        by_checks = sort in ("uptime_24h", "uptime_30d", "response_time")
        with self._reading() as conn:
            rows = {row.id: row for row in store.overview_rows(conn, kept, group, visibility)}
            ticks = {sid: row.tick_count or 0 for sid, row in rows.items()}
            every = self._closed_hours.recorded(conn, ticks, now) if by_checks else {}
            unordered = [_figures(row, every.get(sid)) for sid, row in rows.items()]
            page = ordered(unordered, sort, descending)[offset : offset + limit]
            ids = [f.id for f in page]
            recorded = self._closed_hours.recorded(conn, {i: ticks[i] for i in ids}, now)
        shown = [_figures(rows[sid], recorded[sid]) for sid in ids]
        more = offset + limit < len(rows)
        return Overview(shown, len(rows), cursors.encode(offset + limit) if more else None)

    def alerts(
        self,
        visibility: Visibility,
        limit: int,
        cursor: str | None = None,
        service_id: int | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[Page[Alert], dict[int, list[DeliveryView]]]:
        """Alerts of the services `visibility` admits, newest first, with the delivery status
        of each (none when since is at or after until)."""
        with self._engine.connect() as conn:
            if service_id is not None:
                self._require(conn, service_id, visibility)
            page = alert_store.page(
                conn,
                visibility=visibility,
                limit=limit,
                after=cursor,
                service_id=service_id,
                kind=kind,
                since=since,
                until=until,
            )
            return page, deliveries.for_alerts(conn, [a.id for a in page.items])

    @property
    def settings(self) -> Settings:
        """The settings services are registered and shown by."""
        return self._settings

    @property
    def alert_defaults(self) -> AlertPolicy:
        """The alert policy of a service without one of its own."""
        return self._alert_defaults

    @property
    def _retention(self) -> timedelta:
        return timedelta(days=self._settings.tick_retention_days)

    def forget_cached(self, service_ids: list[int]) -> None:
        """Drop the cached state of these services (changed by another process), so that the
        next read comes from the database. Their uptime figures are kept (for a minute at
        most): a check moves them by its share of a day or more, and every check of every
        service is announced, so dropping them would have them read again for every list;
        their settings as shown are kept by version, which a change of them changes."""
        for service_id in service_ids:
            self._cache.drop(service_id)

    def forget_all_cached(self) -> None:
        """Drop everything cached (changes may have been missed)."""
        self._cache.clear()
        self._uptimes.clear()
        self._settings_read.clear()

    def _present(self, services: list[Service]) -> list[Service]:
        """Services as shown: with their effective alert policy and confirmation and (at most
        a minute old) uptime figures, or none while the database is away."""
        uptimes = self._uptimes_of([s.id for s in services])
        return [self._with_settings_shown(s, uptime=uptimes[s.id]) for s in services]

    def _with_settings_shown(self, service: Service, **shown: Any) -> Service:
        """`service` with its effective alert policy and confirmation (and `shown` besides)."""
        confirm = (
            self._settings.confirmation()
            .for_kind(service.kind)
            .merged(
                service.confirm_down_after,
                service.confirm_up_after,
                service.retry_interval_seconds,
            )
        )
        return replace(
            service,
            alert_policy=service.alert_policy or self._alert_defaults,
            confirm_down_after=confirm.down_after,
            confirm_up_after=confirm.up_after,
            retry_interval_seconds=confirm.retry_interval_seconds,
            **shown,
        )

    def _uptimes_of(
        self, service_ids: list[int], conn: Connection | None = None
    ) -> dict[int, Uptime | None]:
        """The uptime figures of these services, kept for a minute: those not kept are read
        (in `conn`, else in a connection of their own, without them while the database is
        away)."""
        known: dict[int, Uptime | None] = dict(self._uptimes.get_many(service_ids))
        missing = [sid for sid in service_ids if sid not in known]
        if not missing:
            return known
        now = datetime.now(UTC)
        if conn is not None:
            fresh = rollups.uptime(conn, missing, now)
        else:
            try:
                with self._reading() as own:
                    fresh = rollups.uptime(own, missing, now)
            except SQLAlchemyError as exc:
                if not database_unreachable(exc):
                    raise
                fresh = {}  # shown without uptime figures while the database is away
        self._uptimes.put_many(fresh)
        return {sid: fresh.get(sid, known.get(sid)) for sid in service_ids}

    def _reading(self) -> Connection:
        """A connection for reads: without a transaction (autocommit), a statement costs one
        round trip, with no BEGIN before nor ROLLBACK after; each sees its own snapshot."""
        return self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def names(self, service_ids: set[int], visibility: Visibility) -> dict[int, str]:
        """The names of those of the services `visibility` admits."""
        if not service_ids:
            return {}
        with self._engine.connect() as conn:
            return store.names(conn, service_ids, visibility)

    @staticmethod
    def _require(conn: Any, service_id: int, visibility: Visibility) -> None:
        if not store.exists(conn, service_id, visibility):
            raise NotFound(f"no service with id {service_id}")


def _before(time: datetime, span: timedelta) -> datetime:
    """`span` before `time`, or the earliest time there is."""
    earliest = datetime.min.replace(tzinfo=UTC)
    return time - span if time - earliest > span else earliest


@dataclass(frozen=True, slots=True)
class Listed:
    """A service of a list, what the list's `show` made of its settings (None without), and
    what a reader of the list made of it, by the reader's own key (`memo`): a listing is made
    once per state of its service (see `_Read.listed`), so what is made of it is kept with it
    until that state changes."""

    service: Service
    shown: Any = None
    memo: dict[Any, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class _Read:
    """A service's settings as shown, kept with the version they were read at, what each
    `show` made of them (made once: they do not change while the version does not), and the
    last listing made for each `show` with the state it was made from."""

    version: str
    service: Service
    kept: store.Kept
    shown: dict[Callable[[Service], Any], Any] = field(default_factory=dict)
    last: dict[Callable[[Service], Any] | None, tuple[Row, Uptime | None, Listed]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, version: str, service: Service) -> _Read:
        return cls(version, service, store.kept(service))

    def listed(
        self, row: Row, uptime: Uptime | None, show: Callable[[Service], Any] | None
    ) -> Listed:
        """The service with the state of `row` (see `store.with_state`): the same listing as
        last time when the row and uptime are the same as then (a service's state is made of
        them alone)."""
        last = self.last.get(show)
        if last is not None and last[0] == row and last[1] == uptime:
            return last[2]
        service = store.with_state(self.kept, row, uptime=uptime)
        if show is None:
            made = Listed(service)
        else:
            shown = self.shown.get(show)
            if shown is None:
                shown = self.shown[show] = show(self.service)
            made = Listed(service, shown)
        self.last[show] = (row, uptime, made)
        return made


def _figures(row: store.OverviewRow, recorded: Recorded | None) -> Figures:
    """A row of the dense view from a service's row and what its checks give (not read yet
    when None)."""
    return Figures(
        id=row.id,
        name=row.name,
        group=row.group_name,
        kind=row.kind,
        public=row.public,
        tags=tuple(row.tags),
        status=row.status,
        last_checked_at=row.last_checked_at,
        response_time_ms=None if recorded is None else recorded.response_time_ms,
        uptime_24h=None if recorded is None else recorded.uptime_24h,
        uptime_30d=None if recorded is None else recorded.uptime_30d,
        hourly=NO_HOURS if recorded is None else recorded.hourly,
    )
