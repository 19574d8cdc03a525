"""Configuration as code, the service layer: an account's services and maintenance windows made
what a document declares, all or nothing (`apply`), and written out as one (`export`).

Services and windows are matched by name (a window by title). One stored under a declared name
is changed in place, so its history stays; one the document no longer declares is deleted with
`prune` only, and only if configuration created or adopted it (`managed`). Every declared item
is checked as a registration is; what answers show masked, given back as shown, keeps what is
stored, so an export applied back changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine

from statuschecker.config import document as documents
from statuschecker.config.document import Declared, Document, Faults
from statuschecker.config.plan import Change, Plan, diff, service_form, values_form, window_form
from statuschecker.errors import Conflict, DomainError, InvalidInput, ItemsRejected
from statuschecker.model import AlertPolicy, Caller, Service
from statuschecker.redaction import MASK, masked_options, masked_url, redact
from statuschecker.rules import dependencies
from statuschecker.rules.maintenance import Window
from statuschecker.services import registration
from statuschecker.services.maintenances import Maintenances, covered
from statuschecker.services.registry import ServiceRegistry
from statuschecker.store import accounts
from statuschecker.store import heartbeats as heartbeat_store
from statuschecker.store import maintenances as window_store
from statuschecker.store import services as store
from statuschecker.system.changes import announce

_STORED = {"group": "group_name"}
"""Compared fields stored under another name."""


class Configuration:
    """An account's configuration, applied and exported."""

    def __init__(
        self, engine: Engine, services: ServiceRegistry, maintenances: Maintenances
    ) -> None:
        self._engine = engine
        self._services = services
        self._maintenances = maintenances

    def apply(
        self, caller: Caller, body: Mapping[str, Any], *, prune: bool = False, dry_run: bool = False
    ) -> Plan:
        """Make `caller`'s account what `body` (a ConfigDocument) declares, and say how.

        1. The document is expanded (`config.document`) and each item checked as a
           registration is, against what is stored under its name; ItemsRejected names every
           faulty item, and nothing is written.
        2. The plan: each declared service or window created, changed (field by field) or
           left as it is; with `prune`, those managed by configuration it no longer declares
           deleted.
        3. Unless `dry_run`, the plan is carried out in the same transaction: services
           created, then every `depends_on` resolved by name (a loop refuses it all), changes
           written, windows written, the pruned deleted; the change is announced with it.
        """
        expanded, faults = documents.expand(body)
        owner = caller.user_id
        with self._engine.begin() as conn:
            if owner is not None:
                accounts.get_user(conn, owner, lock=True)
            stored = {s.name: s for s in store.all_owned(conn, owner)}
            windows = {w.title: w for w in window_store.all_owned(conn, owner)}
            planner = _Planner(self._services, self._maintenances, caller, stored, windows, faults)
            plan = planner.plan(expanded, prune)
            if planner.faults:
                total = len(expanded.services) + len(expanded.maintenances)
                raise _rejected(planner.faults, total)
            if dry_run or not plan.changes:
                return plan
            adding = sum(
                {"create": 1, "delete": -1}.get(c.action, 0)
                for c in plan.changes
                if c.kind == "service"
            )
            if owner is not None and adding > 0:
                self._services.within_limit(conn, owner, adding=adding)
            plan = planner.work.carry_out(conn, plan)
        self._services.forget_cached(planner.work.touched)
        return replace(plan, applied=True)

    def export(self, caller: Caller) -> dict[str, Any]:
        """`caller`'s services and maintenance windows as a ConfigDocument: each field that
        differs from what a registration would default to, secrets masked as answers mask
        them (applied back, a masked value keeps the stored one)."""
        with self._engine.connect() as conn:
            services = store.all_owned(conn, caller.user_id)
            windows = window_store.all_owned(conn, caller.user_id)
        names = {s.id: s.name for s in services}
        document: dict[str, Any] = {"services": [self._exported(s, names) for s in services]}
        if windows:
            document["maintenances"] = [_exported_window(w, names) for w in windows]
        return document

    def _exported(self, service: Service, names: Mapping[int, str]) -> dict[str, Any]:
        """A service as a declared one: its compared form, less what a registration defaults
        to, secrets masked."""
        settings = self._services.settings
        form = service_form(service, names, self._services.alert_defaults)
        shown: dict[str, Any] = {"name": service.name}
        if service.heartbeat is not None:
            grace = ("grace_seconds", registration.DEFAULT_GRACE_SECONDS)
            shown["heartbeat"] = {
                k: v for k, v in form["heartbeat"].items() if v is not None and (k, v) != grace
            }
        else:
            shown["url"] = masked_url(form["url"])
            interval = form["interval_seconds"]
            default_timeout = min(settings.default_timeout_seconds, float(interval))
            defaults = {
                "interval_seconds": settings.default_interval_seconds,
                "timeout_seconds": default_timeout,
            }
            shown |= {k: form[k] for k, default in defaults.items() if form[k] != default}
        shown |= masked_options(form["check_options"])
        form["alert_policy"] = _exported_policy(service.alert_policy, self._services.alert_defaults)
        optional = {k: v for k, v in form.items() if k not in _NOT_OPTIONAL}
        return shown | {k: v for k, v in optional.items() if v not in (None, False, [], {})}


_NOT_OPTIONAL = frozenset(
    {"kind", "url", "interval_seconds", "timeout_seconds", "check_options", "heartbeat"}
)
"""The compared fields an export writes as they are needed, not when they are set."""


class _Planner:
    """The plan of one apply from what is stored, and the work carrying it out takes."""

    def __init__(
        self,
        services: ServiceRegistry,
        maintenances: Maintenances,
        caller: Caller,
        stored: dict[str, Service],
        windows: dict[str, Window],
        faults: Faults,
    ) -> None:
        self._services = services
        self._maintenances = maintenances
        self._caller = caller
        self._stored = stored
        self._windows = windows
        self._names = {s.id: s.name for s in stored.values()}
        self.faults = list(faults)
        self.work = _Work(caller.user_id, stored)

    def plan(self, expanded: Document, prune: bool) -> Plan:
        """Each declared item's change (or none), then with `prune` the deletes."""
        plan = Plan()
        declared = {d.name for d in expanded.services}
        known = declared | self._stored.keys()
        for item in expanded.services:
            self._plan_service(item, known, plan)
        for item in expanded.maintenances:
            self._plan_window(item, known, plan)
        if prune:
            titles = {d.name for d in expanded.maintenances}
            for name, service in self._stored.items():
                if service.managed and name not in declared:
                    plan.changes.append(Change("delete", "service", name, service.id, None))
            for title, window in self._windows.items():
                if window.managed and title not in titles:
                    plan.changes.append(Change("delete", "maintenance", title, window.id, None))
        return plan

    def _plan_service(self, item: Declared, known: set[str], plan: Plan) -> None:
        fields = dict(item.fields)
        depends_on = list(fields.pop("depends_on", []))
        paused = bool(fields.pop("paused", False))
        current = self._stored.get(item.name)
        if current is not None:
            fields = registration.unmasked_fields(fields, current)
        try:
            _known(depends_on, known, "depends_on")
            values = self._services.new_values(self._caller, **fields)
            if current is not None and (current.heartbeat is None) != (
                "heartbeat" not in item.fields
            ):
                raise Conflict(
                    f"{item.name!r} is stored as a {current.kind} service and declared as a "
                    f"{values['kind']} one: rename it, or delete the stored one first"
                )
        except DomainError as exc:
            self.faults.append((item.ref, exc))
            return
        after = values_form(values, depends_on, paused)
        if current is None:
            plan.changes.append(Change("create", "service", item.name, None, item.ref))
            self.work.creates.append((item.name, values | {"paused": paused}, depends_on))
            return
        before = service_form(current, self._names, self._services.alert_defaults)
        changed = diff(before, after)
        if not changed and current.managed:
            plan.unchanged["services"] += 1
            return
        adopted = not current.managed
        plan.changes.append(
            Change("change", "service", item.name, current.id, item.ref, changed, adopted)
        )
        written = _written(current, values, {c.field for c in changed}, paused)
        self.work.changes.append((current, written, depends_on))

    def _plan_window(self, item: Declared, known: set[str], plan: Plan) -> None:
        fields = dict(item.fields)
        named = list(fields.pop("services", []))
        current = self._windows.get(item.name)
        if fields.get("starts_at") is None and current is not None:
            fields["starts_at"] = current.schedule.starts_at  # not its default of today
        try:
            _known(named, known, "services")
            values = self._maintenances.new_values(fields)
            covered({**values, "services": named}, covers="services")
        except DomainError as exc:
            self.faults.append((item.ref, exc))
            return
        after = {"services": sorted(named)} | {k: values[k] for k in _WINDOW_FIELDS}
        if current is not None:
            changed = diff(window_form(current, self._names), after)
            if not changed and current.managed:
                plan.unchanged["maintenances"] += 1
                return
            adopted = not current.managed
            change = Change(
                "change", "maintenance", item.name, current.id, item.ref, changed, adopted
            )
        else:
            change = Change("create", "maintenance", item.name, None, item.ref)
        plan.changes.append(change)
        self.work.windows.append((current, values, named))


_WINDOW_FIELDS = ("tags", "starts_at", "ends_at", "rrule", "duration_seconds", "timezone")


def _known(names: list[str], known: set[str], field: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(f"{field} names {unknown[0]!r}, which is neither declared nor stored")


def _written(
    current: Service, values: Mapping[str, Any], changed: set[str], paused: bool
) -> dict[str, Any]:
    """The stored values a change of `current` writes: the compared fields that changed, as
    the registration of the declared service made them (`depends_on` apart), and `managed`."""
    written: dict[str, Any] = {"managed": True}
    for key in changed - {"depends_on"}:
        if key == "paused":
            written["paused"] = paused
        elif key in ("locations", "quorum"):
            written |= {"locations": values["locations"], "quorum": values["quorum"]}
        else:
            written[_STORED.get(key, key)] = values[_STORED.get(key, key)]
    if current.heartbeat is not None and changed & {"heartbeat", "paused"}:
        # Rescheduled or resumed: its next ping is due one step after now.
        for key in ("heartbeat", "heartbeat_due_at", "interval_seconds"):
            written[key] = values[key]
    return written


class _Work:
    """What carrying out a plan writes, gathered while planning."""

    def __init__(self, owner_id: int | None, stored: Mapping[str, Service]) -> None:
        self._owner_id = owner_id
        self._ids = {name: s.id for name, s in stored.items()}
        self.creates: list[tuple[str, dict[str, Any], list[str]]] = []
        self.changes: list[tuple[Service, dict[str, Any], list[str]]] = []
        self.windows: list[tuple[Window | None, dict[str, Any], list[str]]] = []
        self.touched: list[int] = []
        self._linked: list[int] = []  # the services whose depends_on is written
        self._names: dict[int, str] = {}  # by id, once the creates have their ids

    def carry_out(self, conn: Connection, plan: Plan) -> Plan:
        """Write it all (see `Configuration.apply`); the plan with the ids of what it made."""
        rows = [values | {"depends_on": [], "managed": True} for _, values, _ in self.creates]
        created = store.create_many(conn, rows) if rows else []
        self._ids |= {name: i for (name, _, _), i in zip(self.creates, created, strict=True)}
        self._names = {i: name for name, i in self._ids.items()}
        for sid, (_, _, depends_on) in zip(created, self.creates, strict=True):
            if depends_on:
                store.change(conn, sid, {"depends_on": self._resolved(depends_on)})
                self._linked.append(sid)
        for current, written, depends_on in self.changes:
            if sorted(depends_on) != sorted(self._names_of(current.depends_on)):
                written = written | {"depends_on": self._resolved(depends_on)}
                self._linked.append(current.id)
            store.change(conn, current.id, written)
            if (
                current.heartbeat is not None
                and written.get("paused", current.paused) != current.paused
            ):
                heartbeat_store.drop_runs(conn, current.id)  # a run open across a pause
        self._refuse_loops(conn)
        deleted = _deleted(plan, "service")
        dependants = [i for sid in deleted for i in store.remove(conn, sid)]
        window_ids = self._write_windows(conn)
        for window_id in _deleted(plan, "maintenance"):
            window_store.remove(conn, window_id)
        self.touched = [*created, *(c.id for c, _, _ in self.changes), *deleted, *dependants]
        if self.touched:
            announce(conn, self.touched)
        made = iter([*created, *window_ids])
        return replace(
            plan,
            changes=[
                replace(c, id=next(made)) if c.action == "create" else c for c in plan.changes
            ],
        )

    def _names_of(self, ids: Iterable[int]) -> list[str]:
        return [self._names[i] for i in ids if i in self._names]

    def _resolved(self, names: Iterable[str]) -> list[int]:
        return [self._ids[name] for name in names]

    def _refuse_loops(self, conn: Connection) -> None:
        """InvalidInput naming a loop of `depends_on`, should the writes have made one."""
        if not self._linked:
            return
        graph = store.dependency_graph(conn, self._owner_id)
        names = self._names
        for sid in self._linked:
            loop = dependencies.cycle(sid, graph.get(sid, ()), graph)
            if loop:
                path = " -> ".join(names.get(i, str(i)) for i in loop)
                raise InvalidInput(f"depends_on would make a loop: {path}")

    def _write_windows(self, conn: Connection) -> list[int]:
        """Create and change the declared windows; the ids of those created, in order."""
        created = []
        for current, values, named in self.windows:
            written = values | {"service_ids": self._resolved(named), "managed": True}
            if current is None:
                created.append(window_store.create(conn, {**written, "owner_id": self._owner_id}))
            else:
                window_store.change(conn, current.id, written)
        return created


def _deleted(plan: Plan, kind: str) -> list[int]:
    """The ids of the `kind` items the plan deletes."""
    return [c.id for c in plan.changes if c.action == "delete" and c.kind == kind and c.id]


def _rejected(faults: Faults, total: int) -> ItemsRejected:
    (list_name, index), first = min(faults, key=lambda f: f[0])
    detail = (
        f"{len(faults)} of the {total} items of the configuration cannot be applied, so none "
        f"was; {list_name} item {index}: {first.detail}"
    )
    return ItemsRejected(detail, faults)


def _exported_policy(policy: AlertPolicy | None, defaults: AlertPolicy) -> dict[str, Any]:
    """The alert policy fields that differ from the defaults, receivers masked."""
    if policy is None:
        return {}
    own, base = policy.to_json(), defaults.to_json()
    shown = {k: v for k, v in own.items() if v != base.get(k)}
    if "webhooks" in shown:
        shown["webhooks"] = [
            {"url": masked_url(hook["url"])} | ({"secret": MASK} if hook.get("secret") else {})
            for hook in shown["webhooks"]
        ]
    if "apprise_urls" in shown:
        shown["apprise_urls"] = [redact("apprise", url) for url in shown["apprise_urls"]]
    return shown


def _exported_window(window: Window, names: Mapping[int, str]) -> dict[str, Any]:
    schedule = window.schedule
    shown: dict[str, Any] = {"title": window.title}
    covered = sorted(names[i] for i in window.service_ids if i in names)
    if covered:
        shown["services"] = covered
    if window.tags:
        shown["tags"] = list(window.tags)
    for key in ("starts_at", "ends_at"):
        value = getattr(schedule, key)
        if value is not None:
            shown[key] = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    for key in ("rrule", "duration_seconds", "timezone"):
        if getattr(schedule, key) is not None:
            shown[key] = getattr(schedule, key)
    return shown
