"""The configuration document (the contract's ConfigDocument, written in YAML or JSON): its
`defaults` and `receivers` folded into each service it declares, and what the contract cannot
say of it checked: names unique, receivers that exist. Pure: no storage, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from statuschecker import checks
from statuschecker.errors import Conflict, DomainError, InvalidInput, ItemRef
from statuschecker.services.registration import CORE_FIELDS

RECEIVER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
CHECKED_ONLY = frozenset({"interval_seconds", "timeout_seconds", "locations", "quorum"})
"""Defaults that apply to checked services, not to heartbeats (which report in)."""
NOT_DEFAULTS = frozenset({"name", "url", "heartbeat"})
"""What a service declares for itself alone."""
Faults = list[tuple[ItemRef, DomainError]]


@dataclass(frozen=True, slots=True)
class Declared:
    """A service or maintenance window as the document declares it (defaults folded in,
    receivers resolved), with where it is in the document."""

    ref: ItemRef
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        """Its name: a service's `name`, a window's `title`."""
        return str(self.fields.get("name", self.fields.get("title")))


@dataclass(frozen=True, slots=True)
class Document:
    """What a document declares, each list in its order."""

    services: list[Declared]
    maintenances: list[Declared]


def expand(body: Mapping[str, Any]) -> tuple[Document, Faults]:
    """The services and windows `body` declares, and the faults of its items (by list and
    index). InvalidInput, for the whole document, when its defaults or receivers are wrong.

    1. A field a service leaves out takes the default (`alert_policy` key by key); a
       heartbeat takes no interval, timeout, locations, quorum or check option, and a checked
       service the check options its kind has only.
    2. A service's `receivers` add their webhooks and apprise URLs to its own.
    3. A name (a window's title) declared before is a fault of the later item.
    """
    defaults = dict(body.get("defaults") or {})
    named = sorted(NOT_DEFAULTS & defaults.keys())
    if named:
        raise InvalidInput(f"defaults cannot set {', '.join(named)}: each service sets its own")
    receivers = dict(body.get("receivers") or {})
    wrong = [name for name in receivers if not RECEIVER_NAME.match(name)]
    if wrong:
        raise InvalidInput(
            f"receiver name {wrong[0]!r} is not lower-case letters, digits, - and _ (1-40)"
        )
    faults: Faults = []
    services = []
    for index, item in enumerate(body.get("services") or ()):
        ref = ("services", index)
        try:
            services.append(Declared(ref, _service(item, defaults, receivers)))
        except DomainError as exc:
            faults.append((ref, exc))
    windows = [
        Declared(("maintenances", i), dict(item))
        for i, item in enumerate(body.get("maintenances") or ())
    ]
    faults += _repeated(services, "service") + _repeated(windows, "maintenance window")
    return Document(services, windows), faults


def _service(
    item: Mapping[str, Any], defaults: Mapping[str, Any], receivers: Mapping[str, Any]
) -> dict[str, Any]:
    fields = dict(item)
    heartbeat = "heartbeat" in fields
    taken = _kind_options(fields.get("url")) if not heartbeat else frozenset()
    for key, value in defaults.items():
        if key == "alert_policy":
            fields[key] = {**value, **fields.get(key, {})}
        elif key in fields or (heartbeat and key in CHECKED_ONLY):
            continue
        elif key in CORE_FIELDS or key in taken:
            fields[key] = value
    names = fields.pop("receivers", None)
    if names is None:
        names = defaults.get("receivers", [])
    if names:
        fields["alert_policy"] = _with_receivers(fields.get("alert_policy", {}), names, receivers)
    return fields


def _kind_options(url: Any) -> frozenset[str]:
    """The check options the kind of `url` takes, by its scheme (none for a scheme of no kind:
    its service is refused anyway)."""
    kind = checks.SCHEMES.get(str(url).partition("://")[0].lower())
    return checks.KINDS[kind].option_names | checks.COMMON_OPTIONS if kind else frozenset()


def _with_receivers(
    policy: Mapping[str, Any], names: Sequence[str], receivers: Mapping[str, Any]
) -> dict[str, Any]:
    """`policy` with the webhooks and apprise URLs of the receivers `names` after its own
    (each once); InvalidInput naming a receiver the document does not have."""
    missing = [name for name in names if name not in receivers]
    if missing:
        raise InvalidInput(f"no receiver named {missing[0]!r} in the document's receivers")
    webhooks = list(policy.get("webhooks", []))
    apprise = list(policy.get("apprise_urls", []))
    for name in names:
        webhooks += [hook for hook in receivers[name].get("webhooks", []) if hook not in webhooks]
        apprise += [url for url in receivers[name].get("apprise_urls", []) if url not in apprise]
    return {**policy, "webhooks": webhooks, "apprise_urls": apprise}


def _repeated(items: list[Declared], what: str) -> Faults:
    first: dict[str, int] = {}
    faults: Faults = []
    for item in items:
        seen = first.setdefault(item.name, item.ref[1])
        if seen != item.ref[1]:
            faults.append(
                (item.ref, Conflict(f"item {seen} declares the {what} {item.name!r} too"))
            )
    return faults
