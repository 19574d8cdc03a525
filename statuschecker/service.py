"""The service layer the API calls: register, list, read, change and delete services, and
read their history. It validates what the contract cannot express and keeps the cache true."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.cache import StatusCache
from statuschecker.checks import kind_of
from statuschecker.config import Settings
from statuschecker.errors import InvalidInput, NotFound
from statuschecker.metrics import Metrics
from statuschecker.model import Event, Page, Service, Status, Tick
from statuschecker.store import history
from statuschecker.store import services as store

EDITABLE_FIELDS = frozenset({"name", "url", "interval_seconds", "timeout_seconds", "paused"})


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the database answers and the poller's loop turns, with the reasons if not."""

    database: str
    poller: str

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.database == "ok" and self.poller in ("ok", "disabled")


class ServiceRegistry:
    """Operations on registered services, as the API offers them."""

    def __init__(
        self,
        engine: Engine,
        cache: StatusCache,
        metrics: Metrics,
        settings: Settings,
        poller_alive: Callable[[], bool] | None = None,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._metrics = metrics
        self._settings = settings
        self._poller_alive = poller_alive

    def register(
        self,
        name: str,
        url: str,
        interval_seconds: int | None = None,
        timeout_seconds: float | None = None,
    ) -> Service:
        """Register a service; it is due at once. Defaults come from the settings; a default
        timeout longer than the interval is shortened to the interval."""
        interval = interval_seconds or self._settings.default_interval_seconds
        if timeout_seconds is None:
            timeout_seconds = min(self._settings.default_timeout_seconds, float(interval))
        _check_timeout(timeout_seconds, interval)
        values = {
            "name": name,
            "url": url,
            "kind": _kind(url),
            "interval_seconds": interval,
            "timeout_seconds": timeout_seconds,
        }
        with self._engine.begin() as conn:
            service_id = store.create(conn, values)
            service = store.get(conn, service_id)
        self._cache.put([service])
        return service

    def get(self, service_id: int) -> Service:
        """One service with its current state, from the cache when it is there."""
        cached = self._cache.get(service_id)
        if cached is not None:
            return cached
        with self._engine.connect() as conn:
            service = store.get(conn, service_id)
        self._cache.put([service])
        return service

    def list(
        self,
        limit: int,
        cursor: str | None = None,
        status: Status | None = None,
        name: str | None = None,
    ) -> Page[Service]:
        """A page of services in id order, filtered by status and by a part of the name."""
        with self._engine.connect() as conn:
            return store.list_page(conn, limit=limit, after=cursor, status=status, name=name)

    def update(self, service_id: int, changes: Mapping[str, Any]) -> Service:
        """Change registration fields or `paused`; takes effect at the next check."""
        values = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
        if "url" in values:
            values["kind"] = _kind(values["url"])
        with self._engine.begin() as conn:
            current = store.get(conn, service_id)
            interval = values.get("interval_seconds", current.interval_seconds)
            _check_timeout(values.get("timeout_seconds", current.timeout_seconds), interval)
            if values:
                store.change(conn, service_id, values)
            service = store.get(conn, service_id)
        if service.name != current.name:
            self._metrics.forget(service_id)
        self._cache.put([service])
        return service

    def delete(self, service_id: int) -> None:
        """Delete a service with its whole history."""
        with self._engine.begin() as conn:
            store.remove(conn, service_id)
        self._cache.drop(service_id)
        self._metrics.forget(service_id)

    def events(self, service_id: int, limit: int, cursor: str | None = None) -> Page[Event]:
        """A service's up/down periods, newest first."""
        with self._engine.connect() as conn:
            self._require(conn, service_id)
            return history.events_page(conn, service_id, limit=limit, after=cursor)

    def ticks(
        self,
        service_id: int,
        limit: int,
        cursor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[Tick]:
        """A service's raw check results in [since, until), newest first."""
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must be earlier than until")
        with self._engine.connect() as conn:
            self._require(conn, service_id)
            return history.ticks_page(
                conn, service_id, limit=limit, since=since, until=until, after=cursor
            )

    def health(self) -> Health:
        """Ask the database for a round trip and the poller for a recent heartbeat."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except SQLAlchemyError as exc:
            database = f"unavailable: {str(exc).splitlines()[0]}"
        if self._poller_alive is None:
            poller = "disabled"
        else:
            poller = "ok" if self._poller_alive() else "not running or stalled"
        return Health(database=database, poller=poller)

    @staticmethod
    def _require(conn: Any, service_id: int) -> None:
        if not store.exists(conn, service_id):
            raise NotFound(f"no service with id {service_id}")


def _kind(url: str) -> str:
    try:
        return kind_of(url)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _check_timeout(timeout_seconds: float, interval_seconds: int) -> None:
    if timeout_seconds > interval_seconds:
        raise InvalidInput(
            f"timeout_seconds ({timeout_seconds:g}) must not exceed "
            f"interval_seconds ({interval_seconds})"
        )
