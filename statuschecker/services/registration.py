"""A service's settings, checked and normalised in one place: what the contract cannot express
about a registration or a change (the URL's kind, the options of its check, the alert policy,
masked secrets sent back as they were shown), and what will not work as the settings say."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from statuschecker import checks
from statuschecker.errors import Conflict, DomainError, Forbidden, InvalidInput
from statuschecker.model import HEARTBEAT, AlertPolicy, Service, Webhook
from statuschecker.notify.apprise_channel import valid_apprise_url
from statuschecker.redaction import (
    MASK,
    masked_url,
    redact,
    unmasked_headers,
    unmasked_steps,
    unmasked_url,
)
from statuschecker.rules import dependencies as rules
from statuschecker.rules import heartbeats
from statuschecker.rules.heartbeats import HeartbeatSchedule
from statuschecker.text import storable

EDITABLE_FIELDS = frozenset(
    {
        "name",
        "url",
        "interval_seconds",
        "timeout_seconds",
        "paused",
        "public",
        "confirm_down_after",
        "confirm_up_after",
        "retry_interval_seconds",
        "tags",
    }
)
LOCATION_FIELDS = frozenset({"locations", "quorum"})
# Everything else a registration or change carries is an option of a check kind.
CORE_FIELDS = (
    EDITABLE_FIELDS | LOCATION_FIELDS | {"alert_policy", "group", "depends_on", "heartbeat"}
)
# What a heartbeat does not have: it is not checked, it reports in.
NOT_FOR_HEARTBEATS = frozenset({"url", "interval_seconds", "timeout_seconds"}) | LOCATION_FIELDS
DEFAULT_GRACE_SECONDS = 60
PING_KEY_BYTES = 16  # 128 random bits

VerifyTarget = Callable[[str, Mapping[str, Any]], None]
"""The private-target policy: raises when it refuses a URL (with its check options)."""


def kind(url: str) -> str:
    """The check kind of `url`; InvalidInput when no check handles it."""
    try:
        return checks.kind_of(url)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def check_options(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options for a service checking `url`, normalised; InvalidInput naming the fault.
    Free-form text the contract cannot bound (a header's name, `json_value`) is kept
    storable also in the options of other kinds, which are kept as given."""
    try:
        return storable(checks.validate_options(url, options))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def kept_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A heartbeat's check options: kept, unchecked and unused (see `warnings`), storable;
    null means not set."""
    return storable({k: v for k, v in options.items() if v is not None})


def heartbeat_values(
    given: Mapping[str, Any], options: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The stored values of a new heartbeat with the schedule `given` (InvalidInput naming
    what is wrong): its kind, a new ping key, the schedule, and its first ping due one
    schedule step after `now`. Check options given are kept, unused (see `warnings`)."""
    schedule = heartbeat_schedule({"grace_seconds": DEFAULT_GRACE_SECONDS, **given})
    return {
        "url": "",
        "kind": HEARTBEAT,
        "ping_key": new_ping_key(),
        "timeout_seconds": 1.0,
        "check_options": kept_options(options),
        **_schedule_values(schedule, now),
    }


def heartbeat_schedule(fields: Mapping[str, Any]) -> HeartbeatSchedule:
    """The schedule of these fields (None: not set); InvalidInput naming what is wrong."""
    schedule = HeartbeatSchedule(**{k: v for k, v in fields.items() if v is not None})
    try:
        heartbeats.validate(schedule)
    except ValueError as exc:
        raise InvalidInput(f"heartbeat: {exc}") from None
    return schedule


def location_values(locations: Sequence[str], quorum: int | None) -> dict[str, Any]:
    """The stored locations a service is checked from and its quorum; InvalidInput when the
    quorum asks for more locations than are named."""
    if quorum is not None and quorum > len(locations):
        if not locations:
            raise InvalidInput(
                "quorum needs locations: name those the service is checked from in `locations`"
            )
        raise InvalidInput(
            f"quorum {quorum} is more than the {len(locations)} location"
            f"{'s' if len(locations) > 1 else ''} named"
        )
    return {"locations": list(locations), "quorum": quorum}


def _editable(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values of a change's editable fields (`group` is stored as `group_name`)."""
    values = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
    if "group" in changes:
        values["group_name"] = changes["group"]
    return values


def new_ping_key() -> str:
    """An unguessable ping key: 128 random bits, 22 URL-safe characters."""
    return secrets.token_urlsafe(PING_KEY_BYTES)


def changed_values(
    current: Service, changes: Mapping[str, Any], verify_target: VerifyTarget, now: datetime
) -> dict[str, Any]:
    """The stored values a change of `current` sets (the alert policy apart, see `policy`):
    its editable fields, the kind of a new URL, and the check options merged with the stored
    ones (null removes one) and checked against the URL. A URL or header sent back masked, as
    it was shown, keeps its stored value. For a heartbeat, its schedule merged with the stored
    one; a heartbeat resumed or rescheduled expects its next ping one step after the later of
    `now` (resumed) or its last ping."""
    if current.heartbeat is not None:
        return _editable(changes) | _heartbeat_changes(current, changes, now)
    if "heartbeat" in changes:
        raise Conflict(
            f"service {current.id} is checked, and cannot become a heartbeat: register the "
            "heartbeat as a new service"
        )
    changes = unmasked_fields(changes, current)
    values = _editable(changes)
    if "url" in values:
        values["kind"] = kind(values["url"])
    if LOCATION_FIELDS & changes.keys():
        values |= location_values(
            changes.get("locations", current.locations), changes.get("quorum", current.quorum)
        )
    option_changes = {k: v for k, v in changes.items() if k not in CORE_FIELDS}
    if option_changes or "url" in values:
        merged = {**current.check_options, **option_changes}
        given = {k: v for k, v in merged.items() if v is not None}
        url = values.get("url", current.url)
        values["check_options"] = check_options(url, given)
        verify_target(url, values["check_options"])
    return values


def _heartbeat_changes(
    current: Service, changes: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """What `changed_values` sets besides the editable fields for a heartbeat: its check
    options kept unchecked (see `warnings`) and its schedule; Conflict for what only a
    checked service has."""
    assert current.heartbeat is not None
    refused = sorted(NOT_FOR_HEARTBEATS & changes.keys())
    if refused:
        raise Conflict(
            f"service {current.id} is a heartbeat, which is not checked but reports in: "
            f"{', '.join(refused)} {'apply' if len(refused) > 1 else 'applies'} to checked "
            "services only (its schedule is `heartbeat`)"
        )
    values: dict[str, Any] = {}
    option_changes = {k: v for k, v in changes.items() if k not in CORE_FIELDS}
    if option_changes:
        values["check_options"] = kept_options({**current.check_options, **option_changes})
    schedule = current.heartbeat.schedule
    if changes.get("heartbeat"):
        schedule = heartbeat_schedule({**schedule.to_json(), **changes["heartbeat"]})
    resumed = current.paused and changes.get("paused") is False
    if resumed or schedule != current.heartbeat.schedule:
        last = current.heartbeat.last_ping_at
        since = now if resumed or last is None else last
        values.update(_schedule_values(schedule, since))
    return values


def _schedule_values(schedule: HeartbeatSchedule, since: datetime) -> dict[str, Any]:
    """The stored schedule, its next ping due one step after `since`, and the period (at most
    a day) the pollers fall back on between looks."""
    return {
        "heartbeat": schedule.to_json(),
        "heartbeat_due_at": heartbeats.next_due(schedule, since),
        "interval_seconds": min(heartbeats.period_seconds(schedule, since), 86400),
    }


def dependencies(
    service_id: int | None,
    depends_on: Sequence[int],
    owned: set[int],
    graph: Mapping[int, Sequence[int]],
) -> list[int]:
    """`depends_on` for the service `service_id` (None: not registered yet), checked against
    the account's services (`owned`, those of `depends_on` found) and their stored
    dependencies (`graph`); InvalidInput naming unknown ids, the service itself, or a loop."""
    unknown = [i for i in depends_on if i not in owned]
    if unknown:
        raise InvalidInput(
            f"depends_on names no service of yours with id {', '.join(map(str, unknown))}"
        )
    if service_id is not None:
        if service_id in depends_on:
            raise InvalidInput("a service cannot depend on itself")
        loop = rules.cycle(service_id, depends_on, graph)
        if loop:
            raise InvalidInput("depends_on would make a loop: " + " -> ".join(map(str, loop)))
    return list(depends_on)


def repeated(names: Sequence[str]) -> dict[int, int]:
    """The places of `names` that repeat a name before them, each with the first place of
    that name."""
    first: dict[str, int] = {}
    return {i: first[name] for i, name in enumerate(names) if first.setdefault(name, i) != i}


def named_twice(name: str, first: int) -> Conflict:
    """The refusal of a batch's item named like the item at `first`: names are unique per
    account, among the items of a batch too."""
    return Conflict(
        f"item {first} of the batch is named {name!r} too; names are unique per account"
    )


def batch_refusal(refused: Mapping[int, DomainError], total: int) -> str:
    """The detail of a batch refused for its `refused` items (by index) of `total`."""
    index = min(refused)
    return (
        f"{len(refused)} of the {total} services cannot be registered, so none was; "
        f"item {index}: {refused[index].detail}"
    )


def over_limit(limit: int, have: int, adding: int) -> str:
    """Why an account that has `have` services cannot register `adding` more."""
    if adding == 1:
        return f"an account may have at most {limit} services; delete one first"
    return (
        f"an account may have at most {limit} services: it has {have}, and {adding} more "
        f"would make {have + adding}; register at most {max(limit - have, 0)}"
    )


def policy(
    base: AlertPolicy,
    changes: Mapping[str, Any],
    verify_target: VerifyTarget,
    allow_own_apprise_urls: bool,
) -> AlertPolicy:
    """`base` with `changes` (a webhook URL sent back as shown keeps the stored one), its
    webhooks verified by the target policy; without `allow_own_apprise_urls` (private targets
    not allowed: apprise connects by itself, beyond the policy's reach), Forbidden when the
    policy has apprise URLs of its own."""
    merged = base.merged(_unmasked_receivers(changes, base))
    for hook in merged.webhooks:
        parts = urlsplit(hook.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"a webhook needs an absolute http(s) URL: {hook.url!r}")
        verify_target(hook.url, {})
    if merged.apprise_urls and not allow_own_apprise_urls:
        raise Forbidden(
            "a service's own apprise URLs are not accepted while private targets are not "
            "allowed (STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false); use webhooks"
        )
    return merged


def warnings(service: Service) -> list[str]:
    """What will not work as `service`'s settings say, in words (see `checks.warnings`), and
    its own apprise URLs that apprise cannot send to (their deliveries will fail)."""
    if service.heartbeat is not None:
        found = [
            f"{name} is an option of checked services: kept, but unused by this heartbeat"
            for name in sorted(service.check_options)
        ]
    else:
        found = checks.warnings(
            service.url, service.check_options, service.interval_seconds, service.timeout_seconds
        )
    own = service.alert_policy or AlertPolicy()
    found += [
        f"apprise URL {redact('apprise', url)} is not one apprise can send to: its alerts will fail"
        for url in own.apprise_urls
        if not valid_apprise_url(url)
    ]
    return found


def unmasked_fields(fields: Mapping[str, Any], current: Service) -> dict[str, Any]:
    """A service's fields where what answers show masked, given back as it was shown, keeps
    what `current` has stored: its URL's password and secret query values, secret header
    values (its own and its journey steps'), its webhooks' URLs and secrets, its apprise
    URLs."""
    given = dict(fields)
    if given.get("url") and current.heartbeat is None:
        given["url"] = unmasked_url(given["url"], current.url)
    if given.get("headers"):
        given["headers"] = unmasked_headers(
            given["headers"], current.check_options.get("headers") or {}
        )
    if isinstance(given.get("steps"), list):
        given["steps"] = unmasked_steps(given["steps"], current.check_options.get("steps") or [])
    if given.get("alert_policy") and current.alert_policy is not None:
        given["alert_policy"] = _unmasked_receivers(given["alert_policy"], current.alert_policy)
    return given


def _unmasked_receivers(changes: Mapping[str, Any], stored: AlertPolicy) -> Mapping[str, Any]:
    """Alert policy changes where a receiver sent back as it was shown keeps the stored one: a
    webhook's URL (masked) and its secret (MASK), an apprise URL (scheme://host)."""
    unmasked = dict(changes)
    if changes.get("webhooks"):
        hooks = {masked_url(hook.url): hook for hook in stored.webhooks}
        unmasked["webhooks"] = [_unmasked_webhook(hook, hooks) for hook in changes["webhooks"]]
    if changes.get("apprise_urls"):
        kept: dict[str, list[str]] = {}
        for url in stored.apprise_urls:
            kept.setdefault(redact("apprise", url), []).append(url)
        unmasked["apprise_urls"] = [
            kept[url].pop(0) if kept.get(url) else url for url in changes["apprise_urls"]
        ]
    return unmasked


def _unmasked_webhook(given: Mapping[str, Any], stored: Mapping[str, Webhook]) -> dict[str, Any]:
    kept = stored.get(given["url"])
    hook = {**given, "url": kept.url if kept else given["url"]}
    if hook.get("secret") == MASK:
        hook["secret"] = kept.secret if kept else None
    return {k: v for k, v in hook.items() if v is not None}
