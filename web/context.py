"""Access to the running statuschecker from inside a request."""

from __future__ import annotations

from connexion.context import scope

from statuschecker.runtime import Runtime
from statuschecker.service import ServiceRegistry


def runtime() -> Runtime:
    """The Runtime the app's lifespan put into the request's state."""
    return scope["state"]["runtime"]


def services() -> ServiceRegistry:
    """The service layer of the running statuschecker."""
    return runtime().services
