"""The read side of the service layer: services with their current state, their history,
statistics and alerts, each within what the caller may see."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TTLCache
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.cache import StatusCache
from statuschecker.errors import NotFound, database_unreachable
from statuschecker.model import (
    Alert,
    AlertPolicy,
    Bucket,
    DeliveryView,
    Event,
    Page,
    PingRecord,
    Service,
    Status,
    Tick,
    Uptime,
    Visibility,
)
from statuschecker.services import stats
from statuschecker.services.stats import Stats
from statuschecker.store import alerts as alert_store
from statuschecker.store import deliveries, history, maintenances, rollups
from statuschecker.store import heartbeats as heartbeat_store
from statuschecker.store import services as store
from statuschecker.system.config import Settings

UPTIME_TTL_SECONDS = 60.0
# The history windows: hours per bucket and how many buckets.
HISTORY_WINDOWS = {"24h": (1, 24), "7d": (24, 7), "30d": (24, 30)}
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
        self._uptimes: TTLCache[int, Uptime] = TTLCache(
            maxsize=settings.cache_max_services, ttl=UPTIME_TTL_SECONDS
        )
        self._uptimes_lock = threading.Lock()

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

    def list_services(
        self,
        visibility: Visibility,
        limit: int,
        cursor: str | None = None,
        status: Status | None = None,
        name: str | None = None,
        tag: str | None = None,
    ) -> Page[Service]:
        """A page of the services `visibility` admits, in id order, filtered by status, by a
        part of the name and by tag."""
        with self._engine.connect() as conn:
            page = store.list_page(
                conn,
                limit=limit,
                after=cursor,
                status=status,
                name=name,
                tag=tag,
                visibility=visibility,
            )
        return Page(self._present(page.items), page.next_cursor)

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
    ) -> Page[Tick]:
        """The raw check results in [since, until) of a service `visibility` admits, newest
        first (none when since is at or after until)."""
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return history.ticks_page(
                conn, service_id, limit=limit, since=since, until=until, after=cursor
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
    ) -> Stats:
        """Statistics of a service `visibility` admits over [since, until), or over the last
        `window_seconds` (default 600) before `until` (default now), or the first
        `window_seconds` from `since`. The range is cut at now and to its last five years; an
        empty one (since at or after until) is answered as the empty range at until."""
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
            return stats.compute(conn, service_id, since, until, now, self._retention, schedules)

    def stats_summary(self, service_id: int, visibility: Visibility) -> list[tuple[str, Stats]]:
        """Statistics of a service `visibility` admits over the usual windows: 10 min, 1 h,
        24 h, 7 d, 30 d, 365 d."""
        now = datetime.now(UTC)
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return [
                (label, stats.compute(conn, service_id, now - span, now, now, self._retention))
                for label, span in stats.SUMMARY_WINDOWS.items()
            ]

    def history(self, service_id: int, visibility: Visibility, window: str) -> list[Bucket]:
        """Availability and response times of a service `visibility` admits per hour over the
        last 24 h, or per day over the last 7 or 30 days (`window`), oldest first, up to now."""
        hours, count = HISTORY_WINDOWS[window]
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return rollups.series(conn, service_id, hours, count, datetime.now(UTC))

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
    def _retention(self) -> timedelta:
        return timedelta(days=self._settings.tick_retention_days)

    def forget_cached(self, service_ids: list[int]) -> None:
        """Drop what is cached of these services (changed by another process), so that the
        next read comes from the database."""
        for service_id in service_ids:
            self._cache.drop(service_id)
        with self._uptimes_lock:
            for service_id in service_ids:
                self._uptimes.pop(service_id, None)

    def forget_all_cached(self) -> None:
        """Drop everything cached (changes may have been missed)."""
        self._cache.clear()
        with self._uptimes_lock:
            self._uptimes.clear()

    def _present(self, services: list[Service]) -> list[Service]:
        """Services as shown: with their effective alert policy and confirmation and (at most
        a minute old) uptime figures, or none while the database is away."""
        with self._uptimes_lock:
            known = {s.id: self._uptimes.get(s.id) for s in services}
        missing = [sid for sid, value in known.items() if value is None]
        if missing:
            try:
                with self._engine.connect() as conn:
                    fresh = rollups.uptime(conn, missing, datetime.now(UTC))
            except SQLAlchemyError as exc:
                if not database_unreachable(exc):
                    raise
                fresh = {}  # shown without uptime figures while the database is away
            with self._uptimes_lock:
                for sid, value in fresh.items():
                    self._uptimes[sid] = value
            known.update(fresh)
        defaults = self._settings.confirmation()
        shown = []
        for s in services:
            confirm = defaults.for_kind(s.kind).merged(
                s.confirm_down_after, s.confirm_up_after, s.retry_interval_seconds
            )
            shown.append(
                replace(
                    s,
                    alert_policy=s.alert_policy or self._alert_defaults,
                    uptime=known[s.id],
                    confirm_down_after=confirm.down_after,
                    confirm_up_after=confirm.up_after,
                    retry_interval_seconds=confirm.retry_interval_seconds,
                )
            )
        return shown

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
