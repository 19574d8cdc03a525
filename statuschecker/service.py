"""The service layer the API calls: register, list, read, change and delete services, and
read their history. It validates what the contract cannot express and keeps the cache true."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cachetools import TTLCache
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from statuschecker import checks, netpolicy, stats
from statuschecker.cache import StatusCache
from statuschecker.changes import announce
from statuschecker.checks import kind_of, validate_options
from statuschecker.config import Settings
from statuschecker.errors import Forbidden, InvalidInput, NotFound, database_unreachable
from statuschecker.model import (
    Alert,
    AlertPolicy,
    Bucket,
    Caller,
    Event,
    Page,
    Service,
    Status,
    Tick,
    Uptime,
    Visibility,
)
from statuschecker.notify.apprise_channel import valid_apprise_url
from statuschecker.redaction import masked_url, redact, unmasked_headers, unmasked_url
from statuschecker.stats import Stats
from statuschecker.store import accounts, deliveries, history, rollups
from statuschecker.store import alerts as alert_store
from statuschecker.store import services as store
from statuschecker.store.deliveries import DeliveryView

if TYPE_CHECKING:
    from statuschecker.poller import Poller

EDITABLE_FIELDS = frozenset(
    {"name", "url", "interval_seconds", "timeout_seconds", "paused", "public"}
)
# Everything else a registration or change carries is an option of the service's check kind.
CORE_FIELDS = EDITABLE_FIELDS | {"alert_policy"}
UPTIME_TTL_SECONDS = 60.0
# The history windows: hours per bucket and how many buckets.
HISTORY_WINDOWS = {"24h": (1, 24), "7d": (24, 7), "30d": (24, 30)}
MAX_STATS_RANGE = timedelta(days=366 * 5)


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


class ServiceRegistry:
    """Operations on registered services, as the API offers them."""

    def __init__(
        self,
        engine: Engine,
        cache: StatusCache,
        settings: Settings,
        alert_defaults: AlertPolicy,
        poller: Poller | None = None,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._settings = settings
        self._alert_defaults = alert_defaults
        self._poller = poller
        self._uptimes: TTLCache[int, Uptime] = TTLCache(
            maxsize=settings.cache_max_services, ttl=UPTIME_TTL_SECONDS
        )
        self._uptimes_lock = threading.Lock()

    def register(
        self,
        owner: Caller,
        name: str,
        url: str,
        interval_seconds: int | None = None,
        timeout_seconds: float | None = None,
        alert_policy: Mapping[str, Any] | None = None,
        public: bool = False,
        **check_options: Any,
    ) -> Service:
        """Register a service of `owner`'s account; it is due at once. Defaults come from the
        settings; a default timeout longer than the interval is shortened to the interval; the
        alert policy is the settings' defaults with the fields given here; `check_options` are
        the options of the URL's check kind. Forbidden beyond the per-account limit."""
        policy = self._policy(self._alert_defaults, alert_policy or {})
        options = _check_options(url, check_options)
        self._verify_target(url, options)
        interval = interval_seconds or self._settings.default_interval_seconds
        if timeout_seconds is None:
            timeout_seconds = min(self._settings.default_timeout_seconds, float(interval))
        values = {
            "name": name,
            "url": url,
            "kind": _kind(url),
            "interval_seconds": interval,
            "timeout_seconds": timeout_seconds,
            "alert_policy": policy.to_json(),
            "check_options": options,
            "owner_id": owner.user_id,
            "public": public,
        }
        with self._engine.begin() as conn:
            if owner.user_id is not None:
                self._within_limit(conn, owner.user_id)
            service_id = store.create(conn, values)
            announce(conn, [service_id])
            service = store.get(conn, service_id)
        self._cache.put([service])
        return self._present([service])[0]

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
    ) -> Page[Service]:
        """A page of the services `visibility` admits, in id order, filtered by status and by
        a part of the name."""
        with self._engine.connect() as conn:
            page = store.list_page(
                conn, limit=limit, after=cursor, status=status, name=name, visibility=visibility
            )
        return Page(self._present(page.items), page.next_cursor)

    def update(
        self, service_id: int, changes: Mapping[str, Any], visibility: Visibility
    ) -> Service:
        """Change registration fields, `paused`, `public` or alert policy fields of a service
        of `visibility`; takes effect at the next check. Alert policy fields not given keep their
        values."""
        values = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
        if "url" in values:
            values["kind"] = _kind(values["url"])
        option_changes = {k: v for k, v in changes.items() if k not in CORE_FIELDS}
        with self._engine.begin() as conn:
            current = store.get(conn, service_id, visibility)
            if "url" in values:  # sent back as shown: a masked password keeps its value
                values["url"] = unmasked_url(values["url"], current.url)
            if option_changes.get("headers"):
                stored = current.check_options.get("headers") or {}
                option_changes["headers"] = unmasked_headers(option_changes["headers"], stored)
            if option_changes or "url" in values:
                merged = {**current.check_options, **option_changes}
                given = {k: v for k, v in merged.items() if v is not None}  # null removes
                url = values.get("url", current.url)
                values["check_options"] = _check_options(url, given)
                self._verify_target(url, values["check_options"])
            if "alert_policy" in changes:
                base = current.alert_policy or self._alert_defaults
                policy_changes = _unmasked_webhooks(changes["alert_policy"], base)
                values["alert_policy"] = self._policy(base, policy_changes).to_json()
            if values:
                store.change(conn, service_id, values)
                announce(conn, [service_id])
            service = store.get(conn, service_id)
        self._cache.put([service])
        return self._present([service])[0]

    def delete(self, service_id: int, visibility: Visibility) -> None:
        """Delete a service `visibility` admits with its whole history."""
        with self._engine.begin() as conn:
            store.remove(conn, service_id, visibility)
            announce(conn, [service_id])
        self._cache.drop(service_id)

    def events(
        self, service_id: int, visibility: Visibility, limit: int, cursor: str | None = None
    ) -> Page[Event]:
        """The up/down periods of a service `visibility` admits, newest first."""
        with self._engine.connect() as conn:
            self._require(conn, service_id, visibility)
            return history.events_page(conn, service_id, limit=limit, after=cursor)

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
            self._require(conn, service_id, visibility)
            return stats.compute(conn, service_id, since, until, now, self._retention)

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

    def health(self) -> Health:
        """Ask the database for a round trip and the poller for a recent heartbeat."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except SQLAlchemyError as exc:
            database = f"unavailable: {str(exc).splitlines()[0]}"
        if self._poller is None:
            return Health(database=database, poller="disabled")
        return Health(database, self._poller.condition(), len(self._poller.buffer))

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
        """Services as shown: with their effective alert policy and (at most a minute old)
        uptime figures, or none while the database is away."""
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
        return [
            replace(s, alert_policy=s.alert_policy or self._alert_defaults, uptime=known[s.id])
            for s in services
        ]

    def _policy(self, base: AlertPolicy, changes: Mapping[str, Any]) -> AlertPolicy:
        """`base` with `changes`, checked for what the contract cannot express; under the
        private-target policy its webhooks are verified and its own apprise URLs refused (apprise
        connects by itself, out of the policy's reach)."""
        policy = base.merged(changes)
        for hook in policy.webhooks:
            parts = urlsplit(hook.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(f"a webhook needs an absolute http(s) URL: {hook.url!r}")
            self._verify_target(hook.url, {})
        if policy.apprise_urls and not self._settings.allow_private_targets:
            raise Forbidden(
                "a service's own apprise URLs are not accepted while private targets are not "
                "allowed (STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false); use webhooks"
            )
        return policy

    def _verify_target(self, url: str, options: Mapping[str, Any]) -> None:
        """Forbidden when the private-target policy refuses `url` (with its options)."""
        if self._settings.allow_private_targets:
            return
        try:
            netpolicy.verify_url(url, options)
        except ValueError as exc:  # a valid request the installation's policy refuses
            raise Forbidden(str(exc)) from exc

    def _within_limit(self, conn: Any, owner_id: int) -> None:
        """Forbidden when the account has as many services as it may (its row is locked until
        the registration commits, so concurrent registrations cannot overshoot)."""
        accounts.get_user(conn, owner_id, lock=True)
        limit = self._settings.max_services_per_user
        if store.count_owned(conn, owner_id) >= limit:
            raise Forbidden(f"an account may have at most {limit} services; delete one first")

    @staticmethod
    def _require(conn: Any, service_id: int, visibility: Visibility) -> None:
        if not store.exists(conn, service_id, visibility):
            raise NotFound(f"no service with id {service_id}")


def _unmasked_webhooks(changes: Mapping[str, Any], stored: AlertPolicy) -> Mapping[str, Any]:
    """Alert policy changes where a webhook URL sent back as it was shown (masked) keeps the
    stored URL shown so."""
    if not changes.get("webhooks"):
        return changes
    shown = {masked_url(hook.url): hook.url for hook in stored.webhooks}
    hooks = [{**hook, "url": shown.get(hook["url"], hook["url"])} for hook in changes["webhooks"]]
    return {**changes, "webhooks": hooks}


def warnings(service: Service) -> list[str]:
    """What will not work as `service`'s settings say, in words (see `checks.warnings`), and
    its own apprise URLs that apprise cannot send to (their deliveries will fail)."""
    found = checks.warnings(
        service.url, service.check_options, service.interval_seconds, service.timeout_seconds
    )
    policy = service.alert_policy or AlertPolicy()
    found += [
        f"apprise URL {redact('apprise', url)} is not one apprise can send to: its alerts will fail"
        for url in policy.apprise_urls
        if not valid_apprise_url(url)
    ]
    return found


def _check_options(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return validate_options(url, options)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _kind(url: str) -> str:
    try:
        return kind_of(url)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _before(time: datetime, span: timedelta) -> datetime:
    """`span` before `time`, or the earliest time there is."""
    earliest = datetime.min.replace(tzinfo=UTC)
    return time - span if time - earliest > span else earliest
