"""The plan of a configuration apply: what it creates, changes and deletes, field by field,
from the forms a declared and a stored service (or window) are compared in. Pure: the service
layer (`statuschecker.services.configuration`) reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from statuschecker.errors import ItemRef
from statuschecker.model import AlertPolicy, Service
from statuschecker.redaction import MASK, masked_options, masked_url, redact
from statuschecker.rules.maintenance import Window

Action = Literal["create", "change", "delete"]
Kind = Literal["service", "maintenance"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a change: its value before and after, secrets masked."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Change:
    """What an apply does to one service or window: the item of the document it follows
    (None for a delete), its stored id (None before a create), the fields it changes, and
    whether it adopts one stored without configuration (found under a declared name)."""

    action: Action
    kind: Kind
    name: str
    id: int | None
    ref: ItemRef | None
    fields: tuple[FieldChange, ...] = ()
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change of an apply, in the document's order (deletes last), how many declared
    items it leaves as they are, and whether it was applied."""

    changes: list[Change] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=lambda: {"services": 0, "maintenances": 0})
    applied: bool = False


def service_form(
    service: Service, names: Mapping[int, str], alert_defaults: AlertPolicy
) -> dict[str, Any]:
    """A stored service in the form it is compared in (`depends_on` by name)."""
    form = {
        "kind": service.kind,
        "check_options": dict(service.check_options),
        "alert_policy": (service.alert_policy or alert_defaults).to_json(),
        "public": service.public,
        "paused": service.paused,
        "confirm_down_after": service.confirm_down_after,
        "confirm_up_after": service.confirm_up_after,
        "retry_interval_seconds": service.retry_interval_seconds,
        "tags": list(service.tags),
        "group": service.group,
        "depends_on": sorted(names[i] for i in service.depends_on if i in names),
    }
    if service.heartbeat is not None:
        return form | {"heartbeat": service.heartbeat.schedule.to_json()}
    return form | {
        "url": service.url,
        "interval_seconds": service.interval_seconds,
        "timeout_seconds": service.timeout_seconds,
        "locations": list(service.locations),
        "quorum": service.quorum,
    }


def values_form(
    values: Mapping[str, Any], depends_on: Iterable[str], paused: bool
) -> dict[str, Any]:
    """A declared service's stored values (as a registration makes them) in the form it is
    compared in."""
    form = {
        "kind": values["kind"],
        "check_options": dict(values["check_options"]),
        "alert_policy": values["alert_policy"],
        "public": values["public"],
        "paused": paused,
        "confirm_down_after": values["confirm_down_after"],
        "confirm_up_after": values["confirm_up_after"],
        "retry_interval_seconds": values["retry_interval_seconds"],
        "tags": list(values["tags"]),
        "group": values["group_name"],
        "depends_on": sorted(depends_on),
    }
    if values.get("heartbeat") is not None:
        return form | {"heartbeat": values["heartbeat"]}
    return form | {
        key: values[key]
        for key in ("url", "interval_seconds", "timeout_seconds", "locations", "quorum")
    }


def window_form(window: Window, names: Mapping[int, str]) -> dict[str, Any]:
    """A stored maintenance window in the form it is compared in (services by name)."""
    schedule = window.schedule
    return {
        "services": sorted(names[i] for i in window.service_ids if i in names),
        "tags": list(window.tags),
        "starts_at": schedule.starts_at,
        "ends_at": schedule.ends_at,
        "rrule": schedule.rrule,
        "duration_seconds": schedule.duration_seconds,
        "timezone": schedule.timezone,
    }


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The fields whose values differ, in the order of `after` (then those `before` alone
    has), each shown with its secrets masked."""
    keys = [*after, *(k for k in before if k not in after)]
    return tuple(
        FieldChange(k, shown(k, before.get(k)), shown(k, after.get(k)))
        for k in keys
        if before.get(k) != after.get(k)
    )


def shown(key: str, value: Any) -> Any:
    """A compared value as a plan shows it: URLs, headers and alert receivers masked as every
    answer masks them."""
    if value is None:
        return None
    if key == "url":
        return masked_url(value)
    if key == "check_options":
        return masked_options(value)
    if key == "alert_policy":
        return {
            **value,
            "webhooks": [
                {"url": masked_url(hook["url"]), "secret": MASK if hook.get("secret") else None}
                for hook in value.get("webhooks", [])
            ],
            "apprise_urls": [redact("apprise", url) for url in value.get("apprise_urls", [])],
        }
    return value
