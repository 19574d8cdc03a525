"""Handler of /locations (one function per operationId)."""

from __future__ import annotations

from web import serialize
from web.context import caller, runtime


def list_locations() -> tuple:
    """GET /locations"""
    found = runtime().locations.shown_to(caller())
    return serialize.respond({"data": [serialize.location(loc) for loc in found]})
