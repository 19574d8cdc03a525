"""The service layer the API calls: registering, changing and deleting services (the write
side, here) on top of the reads (`ServiceQueries`). Settings are checked in `registration`; a
change is written in one transaction that announces it to the other processes, and the status
cache follows what was committed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from statuschecker.cache import StatusCache
from statuschecker.errors import Conflict, DomainError, Forbidden, InvalidInput, ItemsRejected
from statuschecker.model import AlertPolicy, Caller, Service, Visibility
from statuschecker.net import policy as netpolicy
from statuschecker.services import registration
from statuschecker.services.health import Health, health
from statuschecker.services.queries import ServiceQueries
from statuschecker.store import accounts
from statuschecker.store import heartbeats as heartbeat_store
from statuschecker.store import services as store
from statuschecker.system.changes import announce
from statuschecker.system.config import Settings

if TYPE_CHECKING:
    from statuschecker.polling.poller import Poller


class ServiceRegistry(ServiceQueries):
    """Operations on registered services, as the API offers them."""

    def __init__(
        self,
        engine: Engine,
        cache: StatusCache,
        settings: Settings,
        alert_defaults: AlertPolicy,
        poller: Poller | None = None,
    ) -> None:
        super().__init__(engine, cache, settings, alert_defaults)
        self._poller = poller

    def register(
        self,
        owner: Caller,
        name: str,
        url: str | None = None,
        interval_seconds: int | None = None,
        timeout_seconds: float | None = None,
        **fields: Any,
    ) -> Service:
        """Register a service of `owner`'s account: checked at `url` (due at once), or a
        heartbeat reporting in on the schedule `heartbeat`; one of the two. Defaults come from
        the settings; a default timeout longer than the interval is shortened to the interval;
        the alert policy is the settings' defaults with the fields given here. The other
        `fields` are those of `new_values`. Forbidden beyond the per-account limit."""
        values = self.new_values(owner, name, url, interval_seconds, timeout_seconds, **fields)
        with self._engine.begin() as conn:
            if owner.user_id is not None:
                self.within_limit(conn, owner.user_id)
            values["depends_on"] = self._dependencies(
                conn, None, owner.user_id, values["depends_on"]
            )
            service_id = store.create(conn, values)
            announce(conn, [service_id])
            service = store.get(conn, service_id)
        self._cache.put([service])
        return self._present([service])[0]

    def register_many(self, owner: Caller, items: Sequence[Mapping[str, Any]]) -> list[Service]:
        """Register the services `items` describe (each with the fields `register` takes) for
        `owner`'s account, all or none; the services in the order of `items`.

        1. Each item's settings are checked and normalised as a registration's are
           (`new_values`); an item named like one before it is refused too.
        2. In one transaction, the account's row locked as a registration locks it: each
           item's `depends_on` is checked against the account's stored services (not the
           batch's own, whose ids do not exist yet), and its name against theirs.
        3. Any item refused: ItemsRejected, naming each by its index; nothing is stored.
        4. Forbidden when the account's services and the batch pass the per-account limit.
        5. One statement per table inserts the batch; the change is announced with it.
        6. Committed, the table is analysed if it has grown by a tenth (`analyse_if_grown`).
        """
        refused: dict[int, DomainError] = {}
        prepared: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(items):
            try:
                prepared[index] = self.new_values(owner, **item)
            except DomainError as exc:
                refused[index] = exc
        names = [item["name"] for item in items]
        for index, first in registration.repeated(names).items():
            refused.setdefault(index, registration.named_twice(names[index], first))
        with self._engine.begin() as conn:
            if owner.user_id is not None:
                accounts.get_user(conn, owner.user_id, lock=True)
            parents = {i for values in prepared.values() for i in values["depends_on"]}
            owned = store.owned_ids(conn, owner.user_id, parents) if parents else set()
            taken = store.taken_names(conn, owner.user_id, names)
            for index, values in prepared.items():
                try:
                    values["depends_on"] = registration.dependencies(
                        None, values["depends_on"], owned, {}
                    )
                    if values["name"] in taken:
                        raise Conflict(f"you already have a service named {values['name']!r}")
                except DomainError as exc:
                    refused.setdefault(index, exc)
            if refused:
                raise ItemsRejected(
                    registration.batch_refusal(refused, len(items)),
                    [(("services", i), e) for i, e in refused.items()],
                )
            if owner.user_id is not None:
                self.within_limit(conn, owner.user_id, adding=len(items))
            ids = store.create_many(conn, [prepared[i] for i in range(len(items))])
            announce(conn, ids)
            found = {s.id: s for s in store.get_many(conn, ids)}
        with self._engine.connect() as conn:
            store.analyse_if_grown(conn)
            conn.commit()
        created = [found[i] for i in ids]
        self._cache.put(created)
        return self._present(created)

    def new_values(
        self,
        owner: Caller,
        name: str,
        url: str | None = None,
        interval_seconds: int | None = None,
        timeout_seconds: float | None = None,
        alert_policy: Mapping[str, Any] | None = None,
        public: bool = False,
        confirm_down_after: int | None = None,
        confirm_up_after: int | None = None,
        retry_interval_seconds: int | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        depends_on: Sequence[int] = (),
        heartbeat: Mapping[str, Any] | None = None,
        locations: Sequence[str] = (),
        quorum: int | None = None,
        **check_options: Any,
    ) -> dict[str, Any]:
        """The stored values of a new service (see `register`) with its settings checked
        (InvalidInput, or Forbidden by the target policy); `depends_on` as given, for the
        caller to check against the account's services."""
        policy = self._policy(self._alert_defaults, alert_policy or {})
        values: dict[str, Any] = {
            "name": name,
            "alert_policy": policy.to_json(),
            "owner_id": owner.user_id,
            "public": public,
            "confirm_down_after": confirm_down_after,
            "confirm_up_after": confirm_up_after,
            "retry_interval_seconds": retry_interval_seconds,
            "tags": list(tags),
            "group_name": group,
            "depends_on": list(depends_on),
        }
        if (url is None) == (heartbeat is None):
            raise InvalidInput(
                "give either url (a service to check) or heartbeat (a service that reports in "
                "by pinging its ping_url)" + (", not both" if url is not None else "")
            )
        if heartbeat is not None and (locations or quorum is not None):
            raise InvalidInput(
                "a heartbeat is not checked but reports in: it has no locations or quorum"
            )
        values |= registration.location_values(locations, quorum)
        if heartbeat is not None:  # the contract refuses an interval or timeout with it
            values |= registration.heartbeat_values(heartbeat, check_options, datetime.now(UTC))
            values["next_check_at"] = values["heartbeat_due_at"] + timedelta(
                seconds=values["heartbeat"]["grace_seconds"]
            )
            return values
        assert url is not None
        options = registration.check_options(url, check_options)
        self._verify_target(url, options)
        interval = interval_seconds or self._settings.default_interval_seconds
        if timeout_seconds is None:
            timeout_seconds = min(self._settings.default_timeout_seconds, float(interval))
        return values | {
            "url": url,
            "kind": registration.kind(url),
            "interval_seconds": interval,
            "timeout_seconds": timeout_seconds,
            "check_options": options,
        }

    def update(
        self, service_id: int, changes: Mapping[str, Any], visibility: Visibility
    ) -> Service:
        """Change registration fields, `paused`, `public`, check options or alert policy
        fields of a service of `visibility`; takes effect at the next check. Alert policy
        fields not given keep their values."""
        with self._engine.begin() as conn:
            current = store.get(conn, service_id, visibility)
            values = registration.changed_values(
                current, changes, self._verify_target, datetime.now(UTC)
            )
            if "alert_policy" in changes:
                base = current.alert_policy or self._alert_defaults
                values["alert_policy"] = self._policy(base, changes["alert_policy"]).to_json()
            if "depends_on" in changes:
                values["depends_on"] = self._dependencies(
                    conn, service_id, current.owner_id, changes["depends_on"]
                )
            if values:
                store.change(conn, service_id, values)
                announce(conn, [service_id])
            if current.heartbeat is not None and values.get("paused", current.paused) != (
                current.paused
            ):
                # A run open across a pause could not report its end (pings are ignored).
                heartbeat_store.drop_runs(conn, service_id)
            service = store.get(conn, service_id)
        self._cache.put([service])
        return self._present([service])[0]

    def rotate_ping_key(self, service_id: int, visibility: Visibility) -> Service:
        """Give a heartbeat of `visibility` a new ping key; the old one stops working with
        the commit. Conflict for a service that is not a heartbeat."""
        with self._engine.begin() as conn:
            current = store.get(conn, service_id, visibility)
            if current.heartbeat is None:
                raise Conflict(
                    f"service {service_id} is checked, not a heartbeat: it has no ping key"
                )
            heartbeat_store.set_key(conn, service_id, registration.new_ping_key())
            announce(conn, [service_id])
            service = store.get(conn, service_id)
        self._cache.put([service])
        return self._present([service])[0]

    def delete(self, service_id: int, visibility: Visibility) -> None:
        """Delete a service `visibility` admits with its whole history."""
        with self._engine.begin() as conn:
            dependants = store.remove(conn, service_id, visibility)
            announce(conn, [service_id, *dependants])
            changed = store.get_many(conn, dependants) if dependants else []
        self._cache.drop(service_id)
        self._cache.put(changed)

    def health(self) -> Health:
        """Whether the database answers and the poller turns."""
        poller = self._poller
        state = None if poller is None else (lambda: (poller.condition(), len(poller.buffer)))
        return health(self._engine, state)

    def _policy(self, base: AlertPolicy, changes: Mapping[str, Any]) -> AlertPolicy:
        allow = self._settings.allow_private_targets
        return registration.policy(base, changes, self._verify_target, allow)

    def _verify_target(self, url: str, options: Mapping[str, Any]) -> None:
        """Forbidden when the private-target policy refuses `url` (with its options)."""
        if self._settings.allow_private_targets:
            return
        try:
            netpolicy.verify_url(url, options)
        except ValueError as exc:  # a valid request the installation's policy refuses
            raise Forbidden(str(exc)) from exc

    def _dependencies(
        self,
        conn: Connection,
        service_id: int | None,
        owner_id: int | None,
        depends_on: Sequence[int],
    ) -> list[int]:
        """`depends_on` checked against the account's services (see
        `registration.dependencies`)."""
        if not depends_on:
            return []
        owned = store.owned_ids(conn, owner_id, depends_on)
        graph = store.dependency_graph(conn, owner_id) if service_id is not None else {}
        return registration.dependencies(service_id, depends_on, owned, graph)

    def within_limit(self, conn: Connection, owner_id: int, adding: int = 1) -> None:
        """Forbidden when the account would have more services than it may with `adding`
        more (its row is locked until the registration commits, so concurrent registrations
        cannot overshoot)."""
        accounts.get_user(conn, owner_id, lock=True)
        limit = self._settings.max_services_per_user
        have = store.count_owned(conn, owner_id)
        if have + adding > limit:
            raise Forbidden(registration.over_limit(limit, have, adding))
