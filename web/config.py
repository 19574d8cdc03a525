"""Handlers of /config and /config:apply: configuration as code."""

from __future__ import annotations

from typing import Any

from statuschecker.config.plan import Change, Plan
from web import serialize
from web.context import caller, runtime


def export_config() -> tuple:
    """GET /config"""
    return serialize.respond(runtime().configuration.export(caller()))


def apply_config(body: dict[str, Any], dry_run: bool = False, prune: bool = False) -> tuple:
    """POST /config:apply"""
    plan = runtime().configuration.apply(caller(), body, prune=prune, dry_run=dry_run)
    return serialize.respond(_plan(plan))


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "applied": plan.applied,
        "unchanged": dict(plan.unchanged),
        "changes": [_change(c) for c in plan.changes],
    }


def _change(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "kind": change.kind,
        "name": change.name,
        "id": change.id,
        "pointer": None if change.ref is None else f"/{change.ref[0]}/{change.ref[1]}",
        "adopted": change.adopted,
        "fields": [
            {"field": f.field, "before": _json(f.before), "after": _json(f.after)}
            for f in change.fields
        ],
    }


def _json(value: Any) -> Any:
    """A compared value as JSON: times as RFC 3339."""
    return serialize.timestamp(value) if hasattr(value, "tzinfo") else value
